/**
 * ksmd held on one CPU while the kernel backend runs, and put back afterwards.
 *
 * Why: Linux keeps pages in per-CPU LRU batches, each batch holding a reference, until its
 * CPU drains it; a merge whose page has a reference KSM cannot account for fails for that
 * pass (write_protect_page), and the page stays volatile a scan longer. When ksmd moves
 * between CPUs during a run, batches it filled on one CPU can outlive a drain on another:
 * generated scenario 1009 disagreed with the model by one such page in 5-6 runs of 20;
 * with ksmd on one CPU (either of the two) in none of 160. The model has no per-CPU
 * batches, so it is the single-CPU ksmd that it must match.
 *
 * Linux has no file for a thread's affinity; `taskset` (util-linux) calls
 * sched_setaffinity. Where it is missing or refused, the run goes on unpinned, with a
 * warning: a disagreeing file can then be measured again (`samepage diff --attempts`).
 * The pin itself is a journaled change (LiveChanges.pinKsmd in live_changes.ts).
 */
import { execFileSync } from 'node:child_process';
import { isKernelThread, statusField } from './procfs.ts';
import { pidsByComm } from './targets.ts';

/** The pid of the ksmd kernel thread, found by its comm (a kernel thread, not a namesake). */
export function findKsmdPid(): number | undefined {
  return pidsByComm('ksmd').find(isKernelThread);
}

/** The CPUs a task may run on, as /proc/PID/status lists them ("0-1,3"); undefined if gone. */
export function cpusAllowed(pid: number): string | undefined {
  return statusField(pid, 'Cpus_allowed_list');
}

/** The lowest CPU of a list such as "0-1,3", or undefined for an unreadable list. */
export function firstCpu(list: string): number | undefined {
  const cpus = list
    .split(',')
    .map((part) => Number.parseInt(part, 10))
    .filter((n) => Number.isInteger(n) && n >= 0);
  return cpus.length === 0 ? undefined : Math.min(...cpus);
}

/**
 * Sets a task's CPU list with taskset; the reason on failure. A live change: only the journal
 * (live_writes.ts) calls it, so that a crash leaves a record of what to put back. This
 * process's own CPUs are set with setOwnCpus.
 */
export function setTaskCpus(pid: number, list: string): string | undefined {
  return taskset(['--pid', '--cpu-list', list, String(pid)]);
}

/**
 * Sets the CPU list of this process, every thread of it (the bench holds the model on one
 * CPU, as the kernel backend holds ksmd; holdSelfOffCpu keeps it off ksmd's). Not a live change: it touches no other process
 * and ends with this one, so there is nothing a journal would have to put back.
 */
export function setOwnCpus(list: string): string | undefined {
  return taskset(['--all-tasks', '--pid', '--cpu-list', list, String(process.pid)]);
}

function taskset(args: readonly string[]): string | undefined {
  try {
    execFileSync('taskset', args, { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    return e.code === 'ENOENT'
      ? 'taskset (util-linux) is not installed'
      : `taskset failed (${e.code ?? `exit ${e.status ?? '?'}`})`;
  }
}

/**
 * Keeps this process off `cpu` (on every other CPU it may use), so that a measurement that
 * busy-polls does not stand between ksmd, held on `cpu`, and its CPU. Returns the restore
 * function, or the reason it could not (one CPU only, no taskset).
 */
export function holdSelfOffCpu(cpu: number): (() => void) | string {
  const saved = cpusAllowed(process.pid);
  if (saved === undefined) return "cannot read this process's CPUs";
  const others = expandCpus(saved).filter((c) => c !== cpu);
  if (others.length === 0) return `no CPU other than ${cpu} to run on`;
  const why = setOwnCpus(others.join(','));
  if (why !== undefined) return why;
  return () => {
    setOwnCpus(saved);
  };
}

/**
 * Keeps this process (a measurement's poller) off the CPU ksmd is held on, the first of its
 * list; where it cannot, says so through `warn`, naming `who`. Returns what puts this
 * process's CPU list back (nothing to do where it was not changed).
 */
export function holdPollerOffKsmd(ksmd: number | undefined, who: string, warn: (m: string) => void): () => void {
  const cpu = ksmd === undefined ? undefined : firstCpu(cpusAllowed(ksmd) ?? '');
  const held = cpu !== undefined ? holdSelfOffCpu(cpu) : ksmd === undefined ? 'ksmd not found' : 'ksmd has no CPU list';
  if (typeof held === 'function') return held;
  warn(`${who}: the poller may share ksmd's CPU (${held})`);
  return () => undefined;
}

/** Every CPU of a list such as "0-1,3". */
function expandCpus(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) continue;
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}
