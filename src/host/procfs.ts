/**
 * Small readers of /proc/PID for live processes: comm, state, start time, CPU time, exe,
 * flags and memory. A process may exit at any moment, so every reader here expects to fail
 * and says so with undefined (or, for memory, an error the caller decides about).
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { parseSmapsFlags, type SmapsEntry } from '../lib/proc_maps.ts';

/** Codes that mean the process is gone (or going) rather than that we may not look. */
const GONE = new Set(['ENOENT', 'ESRCH']);

/** PF_KTHREAD of include/linux/sched.h: the task is a kernel thread. */
const PF_KTHREAD = 0x00200000;

/** The errno code of a thrown fs error, if any. */
export function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Why reading a process failed, in words: vanished, denied, or the error's own message. */
export function describeProcError(pid: number, what: string, e: unknown): string {
  const code = errorCode(e);
  if (code !== undefined && GONE.has(code)) return `Process ${pid} vanished while reading ${what}; skipped`;
  if (code === 'EACCES' || code === 'EPERM')
    return `Cannot read ${what} of process ${pid}: permission denied (run as root); skipped`;
  return `Cannot read ${what} of process ${pid}: ${e instanceof Error ? e.message : String(e)}; skipped`;
}

/** Every pid of /proc now, ascending (kernel threads included); `proc` is for tests. */
export function listPids(proc = '/proc'): number[] {
  return readdirSync(proc)
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The comm in the text of /proc/PID/comm. The kernel prints task->comm followed by one
 * newline (fs/proc/base.c comm_show), and a name may itself begin or end with spaces or
 * hold a newline (PR_SET_NAME and a write to /proc/PID/comm take the bytes as given), so
 * exactly one newline is taken off and nothing else.
 */
export function commFromText(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}

/** The process's comm (task->comm, at most 15 bytes), or undefined if it is gone. */
export function readComm(pid: number, proc = '/proc'): string | undefined {
  try {
    return commFromText(readFileSync(`${proc}/${pid}/comm`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The fields of /proc/PID/stat after the comm, so `[0]` is field 3 (state) and field n is
 * `[n - 3]`; undefined when the process is gone. The comm may hold spaces and parentheses,
 * so the fields start after the last ')'.
 */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * A process's comm, start time and whether it is a kernel thread, from one read of
 * /proc/PID/stat (the comm is what lies between the first "(" and the last ")": it may hold
 * both); undefined when the process is gone.
 */
export function readStatIdentity(pid: number): { comm: string; start: string; kthread: boolean } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = stat.slice(close + 2).split(' ');
  const start = f[19];
  if (start === undefined) return undefined;
  return { comm: stat.slice(open + 1, close), start, kthread: (Number(f[6] ?? 0) & PF_KTHREAD) !== 0 };
}

/** Field `name` of /proc/PID/status ("TracerPid", "Cpus_allowed_list"), or undefined when the process is gone. */
export function statusField(pid: number, name: string): string | undefined {
  try {
    return new RegExp(`^${name}:\\s*(\\S+)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Blocks this thread for `ms`: for the synchronous waits of restores and injections, which must not yield. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The state letter of /proc/PID/stat (R, S, D, Z, X...), or undefined when the process is gone. */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/** Running, sleeping...: anything but gone or a zombie, whose mm has already been released. */
export function isAlive(pid: number): boolean {
  const s = processState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** The start time of a process (clock ticks since boot, field 22): with the pid, its identity. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** utime + stime of a process in clock ticks (fields 14 and 15); undefined when it is gone. */
export function cpuTicks(pid: number): number | undefined {
  const f = statFields(pid);
  return f === undefined ? undefined : Number(f[11]) + Number(f[12]);
}

/** PF_KTHREAD in the flags of /proc/PID/stat (field 9): a kernel thread has no user memory. */
export function isKernelThread(pid: number): boolean {
  const flags = Number(statFields(pid)?.[6] ?? 0);
  return (flags & PF_KTHREAD) !== 0;
}

/** The program a process runs (/proc/PID/exe), " (deleted)" when replaced; undefined if gone. */
export function readExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** Live (not zombie) processes running the binary `exe` (its real path), however started. */
export function pidsRunning(exe: string): number[] {
  return listPids().filter((pid) => readExe(pid)?.replace(/ \(deleted\)$/, '') === exe && isAlive(pid));
}

/**
 * Reads `length` bytes of another process's memory at `address` through /proc/PID/mem. It
 * faults as a load by that process would, but unlike one it marks each page accessed
 * (PG_referenced), as get_user_pages does; the kernel backend's `read` avoids it (Agent.read).
 */
export function readProcessMemory(pid: number, address: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, address + done);
      if (n === 0) throw new Error(`Short read of /proc/${pid}/mem at 0x${(address + done).toString(16)}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

/** A task's scheduler statistics (/proc/PID/schedstat), in ns. */
export interface Schedstat {
  /** Time on a CPU: what task_sched_runtime reads (the scan-time advisor's CPU time for ksmd). */
  readonly runtimeNs: number;
  /** Time runnable but waiting on a run queue for a CPU (run_delay). */
  readonly waitNs: number;
}

/**
 * /proc/PID/schedstat (the thread-group leader's), or /proc/PID/task/TID/schedstat for
 * another thread of the process; undefined if the task is gone or the kernel lacks
 * schedstats. The runtime is the scheduler's se.sum_exec_runtime: what utime + stime are
 * scaled to and then rounded down to clock ticks in /proc/PID/stat. A running thread's
 * figure is brought up to date when it stops running (see host/cpu_time.ts).
 */
export function readSchedstat(pid: number, tid = pid): Schedstat | undefined {
  try {
    const path = tid === pid ? `/proc/${pid}/schedstat` : `/proc/${pid}/task/${tid}/schedstat`;
    const [run, wait] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined || !Number.isFinite(run) || !Number.isFinite(wait)
      ? undefined
      : { runtimeNs: run, waitNs: wait };
  } catch {
    return undefined;
  }
}

/**
 * The cgroup path of /proc/PID/cgroup's text: the unified (v2) hierarchy's line `0::PATH`;
 * on a machine with only v1 hierarchies, the `name=systemd` one, else the first line's.
 * "" when the text has no line of that form.
 */
export function parseCgroupPath(text: string): string {
  let systemd: string | undefined;
  let first: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m === null) continue;
    if (m[1] === '0' && m[2] === '') return m[3]!;
    if (m[2] === 'name=systemd') systemd ??= m[3]!;
    first ??= m[3]!;
  }
  return systemd ?? first ?? '';
}

/** The process's cgroup path (parseCgroupPath), or undefined when it is gone. */
export function readCgroupPath(pid: number, proc = '/proc'): string | undefined {
  try {
    return parseCgroupPath(readFileSync(`${proc}/${pid}/cgroup`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every VMA of a process with its VmFlags and sizes (/proc/PID/smaps), or undefined if it is gone. */
export function readVmaFlags(pid: number): SmapsEntry[] | undefined {
  try {
    return parseSmapsFlags(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** USER_HZ: the unit of utime and stime in /proc/PID/stat on Linux (every architecture). */
export const USER_HZ = 100;

/**
 * The CPU time a task has used, in seconds: sum_exec_runtime from /proc/PID/schedstat
 * (nanoseconds) where the kernel has it, else utime + stime (1/USER_HZ s); undefined when
 * the task is gone.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    if (Number.isFinite(ns)) return ns / 1e9;
  } catch {
    // no schedstat (CONFIG_SCHED_INFO off): fall back to the tick counts
  }
  const ticks = cpuTicks(pid);
  return ticks === undefined ? undefined : ticks / USER_HZ;
}

/** The calling thread's id (gettid), from /proc/thread-self: a worker thread's own, not the process's pid. */
export function currentThreadId(): number {
  return Number(basename(readlinkSync('/proc/thread-self')));
}
