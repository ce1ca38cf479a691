/**
 * How much CPU the rest of the machine used while samepage measured ksmd: every CPU's busy
 * time less ksmd's and samepage's own. ksmd's speed is not its own: on this machine kind a
 * process streaming through memory on the other CPU, which never delays ksmd's wake-ups,
 * slowed ksmd's scanning by 6 to 24 % (docs/cost-model-journal.md, "Other work on the machine"), so
 * a timed measurement must know whether the machine was otherwise quiet.
 */
import { readFileSync } from 'node:fs';
import { cpuTicks, readSchedstat, USER_HZ } from './procfs.ts';

/**
 * The busy clock ticks of /proc/stat's first line (all CPUs): user, nice, system, irq,
 * softirq and steal (a hypervisor running another guest on a CPU of ours: busy for us, as
 * far as ksmd's speed goes); idle and iowait are not. Guest time is already in user and
 * nice. Undefined when the line is not there.
 */
export function busyTicksOfStat(text: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = v;
  if ([user, nice, system, irq, softirq].some((x) => x === undefined || !Number.isFinite(x))) return undefined;
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/**
 * The share of a measurement's time that other work may keep the CPUs busy before the
 * measurement says nothing of ksmd: beside a process streaming through memory on the other
 * CPU, ksmd scanned 6-23 % slower without waiting for a CPU (docs/cost-model-journal.md, "Other work
 * on the machine"), and a calibration measured beside other work fitted constants about 30 %
 * too high. The timing family (DEFAULT_TOLERANCE) and `bench --calibrate` both use it.
 */
export const OTHERS_BUSY_SHARE = 0.05;

/** Ticks a CPU's figure may be off by: one at each reading, and one for ksmd's share sampled at the tick. */
const TICKS_OF_SLACK_PER_CPU = 3;

/**
 * The others' CPU time, in ms, beyond which a window of `windowMs` was not quiet: `share` of
 * the window, but never less than what the ticks can resolve on `cpus` CPUs (a window of
 * 100 ms is 5 ms at 5 %, less than one tick, so any tick would have called it busy).
 */
export function othersBusyLimitMs(windowMs: number, share: number, cpus: number): number {
  return Math.max(share * windowMs, (TICKS_OF_SLACK_PER_CPU * cpus * 1000) / USER_HZ);
}

function machineBusyTicks(): number | undefined {
  try {
    return busyTicksOfStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Starts a meter of the others' CPU time; stopping it gives the milliseconds that CPUs spent
 * busy on anything but ksmd (`ksmdPid`) and samepage's own processes (`ownPids()`: read at
 * start and at stop; one that is gone at stop counts nothing after its last reading), or
 * undefined where /proc/stat cannot be read. The ticks are 1/USER_HZ s, so a window's
 * figure is good to a few ticks a CPU: 20 ms over 10 s on a quiet 2-CPU machine here.
 */
export function othersBusyMeter(ksmdPid: number | undefined, ownPids: () => number[]): () => number | undefined {
  const ksmdNs = (): number => (ksmdPid === undefined ? 0 : (readSchedstat(ksmdPid)?.runtimeNs ?? 0));
  const own = (): Map<number, number> => {
    const out = new Map<number, number>();
    for (const pid of ownPids()) {
      const t = cpuTicks(pid);
      if (t !== undefined) out.set(pid, t);
    }
    return out;
  };
  const busy0 = machineBusyTicks();
  const own0 = own();
  const ksmd0 = ksmdNs();
  return () => {
    const busy = machineBusyTicks();
    if (busy0 === undefined || busy === undefined) return undefined;
    let ownTicks = 0;
    for (const [pid, t] of own()) ownTicks += t - (own0.get(pid) ?? t);
    const ms = ((busy - busy0 - ownTicks) * 1000) / USER_HZ - (ksmdNs() - ksmd0) / 1e6;
    return Math.max(0, ms);
  };
}
