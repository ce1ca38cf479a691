/**
 * MERGE_ANY of running processes (`samepage kernel enable/disable`): each target is made to
 * call prctl(PR_SET_MEMORY_MERGE, 0 or 1) through the injector (inject.ts), and what it
 * then shows in /proc/PID/ksm_stat is reported.
 */
import { injectSyscalls, PR_SET_MEMORY_MERGE } from './inject.ts';
import { readProcessKsmStat } from './ksm_stat.ts';
import { isKernelThread, readComm } from './procfs.ts';

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

/** Makes process `pid` call prctl(PR_SET_MEMORY_MERGE, enable ? 1 : 0); synchronous, about a millisecond. */
export function injectMemoryMerge(pid: number, enable: boolean, helper?: string): InjectOutcome {
  const answer = injectSyscalls(pid, [{ call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: enable ? 1 : 0 }], helper);
  const first = answer.results[0];
  if (first === undefined) return { pid, ok: false, error: answer.error ?? 'the helper printed nothing' };
  return { pid, ok: true, result: first.result, method: first.method };
}

/** What happened to one process: the injection's outcome, its comm, and MERGE_ANY after it. */
export interface MergeReport extends InjectOutcome {
  readonly comm: string;
  readonly ksm_merge_any?: boolean;
}

/**
 * Makes each process call prctl(PR_SET_MEMORY_MERGE, enable ? 1 : 0). With `name`, a
 * process whose comm is no longer that name (renamed or replaced since it was listed) is
 * left alone; a kernel thread is refused (it has no user memory).
 */
export function setMemoryMerge(pids: readonly number[], enable: boolean, helper: string, name?: string): MergeReport[] {
  const reports: MergeReport[] = [];
  for (const pid of pids) {
    const comm = readComm(pid) ?? '?';
    if (name !== undefined && comm !== name) continue;
    const outcome: InjectOutcome = isKernelThread(pid)
      ? { pid, ok: false, error: 'a kernel thread: it has no user memory to merge' }
      : injectMemoryMerge(pid, enable, helper);
    const stat = readProcessKsmStat(pid);
    reports.push({ ...outcome, comm, ...(stat === undefined ? {} : { ksm_merge_any: stat.ksm_merge_any }) });
  }
  return reports;
}
