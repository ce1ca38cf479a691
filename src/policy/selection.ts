/**
 * Which processes the daemon may touch: programs by name (an exact comm, as KSM+'s
 * processes_to_scan), single processes by pid (with their start time, so a reused pid is
 * not taken for the one the user named), and cgroups by path (a systemd unit, a container),
 * which take every process in the cgroup or below it. Nothing else is ever selected.
 */
import { TASK_COMM_LEN } from '../lib/comm.ts';
import type { PlusProcessInfo } from './host.ts';

/** A process named by pid: the pid and the start time it had when named. */
export interface PidSelection {
  readonly pid: number;
  readonly start: string;
}

/** Why a name, pid or cgroup cannot be selected, in words; undefined when it can. */
export function checkName(name: string): string | undefined {
  if (name.length === 0) return 'a program name cannot be empty';
  if (name.includes('\n') || name.includes('\0')) return 'a program name cannot hold a newline or a NUL';
  if (Buffer.byteLength(name, 'utf8') >= TASK_COMM_LEN)
    return `"${name}" is longer than a comm (at most ${TASK_COMM_LEN - 1} bytes; the kernel cuts longer names, see /proc/PID/comm)`;
  return undefined;
}

/** A cgroup path as /proc/PID/cgroup prints it: absolute, no empty, `.` or `..` parts. */
export function checkCgroup(path: string): string | undefined {
  if (!path.startsWith('/')) return `a cgroup path starts with /, like /system.slice/foo.service, got "${path}"`;
  if (path === '/') return 'the root cgroup would select every process on the machine; name a cgroup below it';
  const parts = path.split('/').slice(1);
  if (parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\n')))
    return `"${path}" is not a cgroup path`;
  return undefined;
}

export class Selection {
  /** Program names, oldest first (reading processes_to_scan lists them in this order). */
  readonly names: string[] = [];
  readonly pids: PidSelection[] = [];
  readonly cgroups: string[] = [];

  addName(name: string): boolean {
    if (this.names.includes(name)) return false;
    this.names.push(name);
    return true;
  }

  removeName(name: string): boolean {
    const i = this.names.indexOf(name);
    if (i < 0) return false;
    this.names.splice(i, 1);
    return true;
  }

  addPid(sel: PidSelection): boolean {
    if (this.pids.some((p) => p.pid === sel.pid && p.start === sel.start)) return false;
    this.pids.push(sel);
    return true;
  }

  removePid(pid: number): boolean {
    const before = this.pids.length;
    for (let i = this.pids.length - 1; i >= 0; i--) if (this.pids[i]!.pid === pid) this.pids.splice(i, 1);
    return this.pids.length !== before;
  }

  addCgroup(path: string): boolean {
    const p = normalCgroup(path);
    if (this.cgroups.includes(p)) return false;
    this.cgroups.push(p);
    return true;
  }

  removeCgroup(path: string): boolean {
    const i = this.cgroups.indexOf(normalCgroup(path));
    if (i < 0) return false;
    this.cgroups.splice(i, 1);
    return true;
  }

  isEmpty(): boolean {
    return this.names.length === 0 && this.pids.length === 0 && this.cgroups.length === 0;
  }

  /**
   * Why `p` is selected ("name firefox", "pid 1234", "cgroup /a.slice"), or undefined.
   * `cgroupOf` is asked only when a cgroup is selected (reading it costs a file per process).
   */
  matches(p: PlusProcessInfo, cgroupOf: (pid: number) => string | undefined): string | undefined {
    if (this.names.includes(p.comm)) return `name ${p.comm}`;
    if (this.pids.some((s) => s.pid === p.pid && s.start === p.start)) return `pid ${p.pid}`;
    if (this.cgroups.length > 0) {
      const cg = cgroupOf(p.pid);
      if (cg !== undefined) for (const c of this.cgroups) if (underCgroup(cg, c)) return `cgroup ${c}`;
    }
    return undefined;
  }
}

function normalCgroup(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** Whether cgroup `cg` is `root` or lies below it. */
export function underCgroup(cg: string, root: string): boolean {
  return cg === root || cg.startsWith(`${root}/`);
}
