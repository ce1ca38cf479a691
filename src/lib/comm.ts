/**
 * What the kernel keeps of a process name: task->comm holds TASK_COMM_LEN - 1 = 15 bytes and
 * a NUL, and a longer name (a program's file name, PR_SET_NAME) is cut, so "epiphany-browser"
 * runs as "epiphany-browse". The model's tasks, KSM+'s processes_to_scan and the live
 * lookups by name (src/host/targets.ts) all compare names through this rule.
 */

/** TASK_COMM_LEN: a comm holds 15 bytes and a NUL. */
export const TASK_COMM_LEN = 16;

/** The comm as the kernel stores it: cut to TASK_COMM_LEN - 1 bytes. */
export function kernelComm(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length < TASK_COMM_LEN ? name : bytes.subarray(0, TASK_COMM_LEN - 1).toString('utf8');
}
