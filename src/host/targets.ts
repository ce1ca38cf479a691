/**
 * Live processes by name (the comm rule is lib/comm.ts's): the lookups that `samepage
 * stats`, `snapshot` and `kernel enable`/`disable` act on. samepage acts only on what the
 * user named, so a lookup never returns samepage's own process.
 */
import { kernelComm, TASK_COMM_LEN } from '../lib/comm.ts';
import { listPids, readComm } from './procfs.ts';

/** Why `name` can be no process's comm (longer than the kernel keeps), or undefined. */
export function commRefusal(name: string): string | undefined {
  if (Buffer.byteLength(name, 'utf8') < TASK_COMM_LEN) return undefined;
  return (
    `"${name}" cannot be a comm: the kernel keeps at most ${TASK_COMM_LEN - 1} bytes of a process name ` +
    `(it would show as "${kernelComm(name)}")`
  );
}

/** The pids of every process whose comm is exactly `comm`, this process excluded, ascending. */
export function pidsByComm(comm: string): number[] {
  return listPids().filter((pid) => pid !== process.pid && readComm(pid) === comm);
}

/** The pids of every process of a program `name` (its comm is the name cut to 15 bytes). */
export function pidsByName(name: string): number[] {
  return pidsByComm(kernelComm(name));
}

/**
 * The processes one command acts on: the pid given, or every process whose comm is
 * exactly `name` (a name no comm can have is refused rather than cut, so that a longer
 * name never reaches a process it did not name). Throws, with the reason, on a bad choice.
 */
export function selectTargets(name: string | undefined, pid: number | undefined): number[] {
  if ((name === undefined) === (pid === undefined)) throw new Error('Give either a process NAME or --pid PID');
  if (pid !== undefined) {
    if (pid === process.pid) throw new Error('Refusing to act on samepage itself');
    return [pid];
  }
  const refusal = commRefusal(name ?? '');
  if (refusal !== undefined) throw new Error(refusal);
  return pidsByComm(name ?? '');
}
