/**
 * MERGE_ANY of running processes (`samepage kernel enable/disable`): each target is made to
 * call prctl(PR_SET_MEMORY_MERGE, 0 or 1) through the injector, and what it then shows in
 * /proc/PID/ksm_stat is reported.
 *
 * One command is one journaled change (docs/crash-safety.md): each process's flag is
 * journaled before it is injected, and the record is dropped (committed) only when every
 * named process has been done, since the command's result is meant to last. A command
 * killed half-way (SIGKILL, Ctrl-C: the injection loop is synchronous) is rolled back by
 * the watchdog, so the named processes end either all done or as they were.
 */
import { INJECT_SYSCALL } from './inject.ts';
import { refuseBesidePlusDaemon } from './ksm_lock.ts';
import { ptraceScope, requireHelper, requirePtrace } from './ksm_native.ts';
import { LiveChanges } from './live_changes.ts';
import { selectTargets } from './targets.ts';
import { type KsmProcessStat, readProcessKsmStat } from './ksm_stat.ts';
import { ksmStoppedNote, readSharing } from './ksm_sysfs.ts';
import { isKernelThread, readComm } from './procfs.ts';
import type { RecoveryReport } from './recover.ts';

/** What happened to one process. */
export interface InjectOutcome {
  readonly pid: number;
  /** The injection ran: `result` is prctl's return (0 or -errno). */
  readonly ok: boolean;
  readonly result?: number;
  /** How the `syscall` instruction was found: rip-2, scan or patch (see inject-syscall.c). */
  readonly method?: string;
  /** Why it could not run (the process was left as it was, or is gone). */
  readonly error?: string;
}

/** What happened to one process: the injection's outcome, its comm, and MERGE_ANY after it. */
export interface MergeReport extends InjectOutcome {
  readonly comm: string;
  readonly ksm_merge_any?: boolean;
}

export interface MergeOptions {
  /** The samepage-inject-syscall binary. */
  readonly helper: string;
  /** With a name, a process whose comm is no longer that name is left alone. */
  readonly name?: string;
  readonly onRecovered?: (report: RecoveryReport) => void;
  readonly onWarning?: (message: string) => void;
}

/** What `kernel enable`/`disable` did: a report per process and what the user should know. */
export interface MergeCommandResult {
  /** One per process acted on; none when no process had the name. */
  readonly reports: MergeReport[];
  /** The processes whose prctl returned 0. */
  readonly done: number[];
  /** Sentences for the user: KSM is stopped, pages were unmerged, ptrace_scope refused. */
  readonly notes: string[];
  /** pages_sharing and pages_shared before any process was acted on: what later merging is measured from. */
  readonly before: ReturnType<typeof readSharing>;
}

/**
 * `kernel enable`/`disable`: once it may (ptrace allowed, no KSM+ daemon deciding for KSM,
 * the injector built), every process of the comm `name`, or the pid given, is made to set
 * or clear MERGE_ANY (setMemoryMerge).
 */
export function mergeRunning(
  enable: boolean,
  target: { readonly name?: string | undefined; readonly pid?: number | undefined },
  hooks: Pick<MergeOptions, 'onRecovered' | 'onWarning'>,
): MergeCommandResult {
  requirePtrace(`samepage kernel ${enable ? 'enable' : 'disable'}`);
  refuseBesidePlusDaemon();
  const helper = requireHelper(INJECT_SYSCALL);
  const before = readSharing();
  const pids = selectTargets(target.name, target.pid);
  const byName = target.pid === undefined && target.name !== undefined ? { name: target.name } : {};
  const reports = pids.length === 0 ? [] : setMemoryMerge(pids, enable, { helper, ...byName, ...hooks });
  const done = reports.filter((r) => r.ok && r.result === 0).map((r) => r.pid);
  const notes = [
    enable && done.length > 0 ? ksmStoppedNote() : undefined,
    !enable && done.length > 0 ? "disabling unmerged those processes' KSM pages at once" : undefined,
    ptraceScopeNote(reports),
  ];
  return { reports, done, notes: notes.filter((n): n is string => n !== undefined), before };
}

/** pages_sharing and pages_shared now, and the ksm_stat of those of `pids` still alive: what merged so far. */
export function mergeProgress(pids: readonly number[]): {
  readonly sharing: { readonly sharing: number; readonly shared: number };
  readonly processes: KsmProcessStat[];
} {
  const processes = pids.map(readProcessKsmStat).filter((s): s is KsmProcessStat => s !== undefined);
  return { sharing: readSharing(), processes };
}

/** Why an injection was refused with EPERM despite root, when the Yama LSM says so; else undefined. */
function ptraceScopeNote(reports: readonly MergeReport[]): string | undefined {
  if (!reports.some((r) => !r.ok && /EPERM|not permitted/i.test(r.error ?? ''))) return undefined;
  const scope = ptraceScope();
  if (scope === undefined || scope < 2) return undefined;
  return `kernel.yama.ptrace_scope is ${scope}${scope === 3 ? ' (no ptrace at all until reboot)' : ' (CAP_SYS_PTRACE needed)'}`;
}

/**
 * Makes each process call prctl(PR_SET_MEMORY_MERGE, enable ? 1 : 0). A process whose comm
 * is no longer opts.name (renamed or replaced since it was listed) is left alone; a kernel
 * thread is refused (it has no user memory).
 */
export function setMemoryMerge(pids: readonly number[], enable: boolean, opts: MergeOptions): MergeReport[] {
  const changes = LiveChanges.open({
    env: { injector: opts.helper },
    ...(opts.onRecovered === undefined ? {} : { onRecovered: opts.onRecovered }),
    ...(opts.onWarning === undefined ? {} : { onWarning: opts.onWarning }),
  });
  const reports: MergeReport[] = [];
  try {
    for (const pid of pids) {
      const comm = readComm(pid) ?? '?';
      if (opts.name !== undefined && comm !== opts.name) continue;
      let outcome: InjectOutcome;
      if (isKernelThread(pid)) outcome = { pid, ok: false, error: 'a kernel thread: it has no user memory to merge' };
      else {
        const { answer } = changes.setMergeAny(pid, enable);
        const first = answer.results[0];
        outcome =
          first === undefined
            ? { pid, ok: false, error: answer.error ?? 'the helper printed nothing' }
            : { pid, ok: true, result: first.result, method: first.method };
      }
      const stat = readProcessKsmStat(pid);
      reports.push({ ...outcome, comm, ...(stat === undefined ? {} : { ksm_merge_any: stat.ksm_merge_any }) });
    }
  } catch (err) {
    // Not done for every process: put back those that were.
    changes.restore();
    changes.close();
    throw err;
  }
  changes.commit();
  changes.close();
  return reports;
}
