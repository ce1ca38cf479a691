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
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isKernelThread } from './procfs.ts';
import { pidsByComm } from './targets.ts';

/** The pid of the ksmd kernel thread, found by its comm (a kernel thread, not a namesake). */
export function findKsmdPid(): number | undefined {
  return pidsByComm('ksmd').find(isKernelThread);
}

/** The CPUs a task may run on, as /proc/PID/status lists them ("0-1,3"); undefined if gone. */
export function cpusAllowed(pid: number): string | undefined {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** The lowest CPU of a list such as "0-1,3", or undefined for an unreadable list. */
export function firstCpu(list: string): number | undefined {
  const cpus = list
    .split(',')
    .map((part) => Number.parseInt(part, 10))
    .filter((n) => Number.isInteger(n) && n >= 0);
  return cpus.length === 0 ? undefined : Math.min(...cpus);
}

/** Sets a task's CPU list with taskset (every thread of it with `allThreads`); the reason on failure. */
export function setCpus(pid: number, list: string, allThreads = false): string | undefined {
  try {
    const all = allThreads ? ['--all-tasks'] : [];
    execFileSync('taskset', [...all, '--pid', '--cpu-list', list, String(pid)], { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number };
    return e.code === 'ENOENT'
      ? 'taskset (util-linux) is not installed'
      : `taskset failed (${e.code ?? `exit ${e.status ?? '?'}`})`;
  }
}

/** What pinKsmd changed, for restoreKsmd. */
export interface KsmdPin {
  readonly pid: number;
  readonly saved: string;
}

/**
 * Holds ksmd on the lowest CPU it may use now. Returns what to restore, or the reason it
 * could not (no ksmd, no taskset, refused).
 */
export function pinKsmd(): KsmdPin | string {
  const pid = findKsmdPid();
  if (pid === undefined) return 'no ksmd thread found';
  const saved = cpusAllowed(pid);
  const cpu = saved === undefined ? undefined : firstCpu(saved);
  if (saved === undefined || cpu === undefined) return `cannot read ksmd's CPUs (/proc/${pid}/status)`;
  if (saved === String(cpu)) return { pid, saved };
  const why = setCpus(pid, String(cpu));
  return why ?? { pid, saved };
}

/** Puts ksmd's CPU list back; the problem, if any. Synchronous (exit and signal paths). */
export function restoreKsmd(pin: KsmdPin): string | undefined {
  const now = cpusAllowed(pin.pid);
  if (now === undefined || now === pin.saved) return undefined;
  const why = setCpus(pin.pid, pin.saved);
  return why === undefined ? undefined : `ksmd's CPUs ${pin.saved}: ${why}`;
}
