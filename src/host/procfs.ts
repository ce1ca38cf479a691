/**
 * Small readers of /proc for live processes: names, pids by name, and whether a process is
 * still there. A process may exit at any moment, so every reader here expects to fail.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** TASK_COMM_LEN - 1: the bytes of a name the kernel keeps in task->comm. */
const COMM_BYTES = 15;

/** Codes that mean the process is gone (or going) rather than that we may not look. */
const GONE = new Set(['ENOENT', 'ESRCH']);

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

/** /proc/PID/comm without its newline, or undefined if the process is gone. */
export function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** The name as task->comm holds it: cut to 15 bytes, so long program names still match. */
export function commOf(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length <= COMM_BYTES ? name : bytes.subarray(0, COMM_BYTES).toString('utf8');
}

/** The pids of every process whose comm is `name` (cut to 15 bytes), this process excluded. */
export function pidsByName(name: string): number[] {
  const want = commOf(name);
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (readComm(pid) === want) out.push(pid);
  }
  return out.sort((a, b) => a - b);
}

/** Whether a process has exited: no /proc entry, or a zombie whose memory is gone. */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the ")" that closes the comm (which may itself hold parentheses).
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** A task's scheduler statistics (/proc/PID/schedstat), in ns. */
export interface Schedstat {
  /** Time on a CPU: what task_sched_runtime reads (the scan-time advisor's CPU time for ksmd). */
  readonly runtimeNs: number;
  /** Time runnable but waiting on a run queue for a CPU (run_delay). */
  readonly waitNs: number;
}

/** /proc/PID/schedstat, or undefined if the task is gone or the kernel lacks schedstats. */
export function readSchedstat(pid: number): Schedstat | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return run === undefined || wait === undefined || !Number.isFinite(run) || !Number.isFinite(wait)
      ? undefined
      : { runtimeNs: run, waitNs: wait };
  } catch {
    return undefined;
  }
}
