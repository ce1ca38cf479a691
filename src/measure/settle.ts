/**
 * How long the live ksmd takes to finish merging: from `run=1` until pages_sharing stops
 * moving, in wall time, what `samepage predict` gives as merged_settle_s on virtual time.
 * The caller has registered the processes with KSM and set the knobs; this writes run=1
 * with the caller's writer (a live change: LiveChanges.writeSysfs in samepage, journaled),
 * polls pages_sharing every few milliseconds, and stops once `quiet` full scans have passed
 * without a change (and `scans` full scans in all, where given), measuring ksmd's CPU time
 * meanwhile (run is left as it is: the caller restores KSM).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { findKsmdPid } from '../host/ksmd_affinity.ts';
import { KSM_DIR, KsmCounter } from '../host/ksm_sysfs.ts';
import { readSchedstat } from '../host/procfs.ts';
import { describeErrno } from '../lib/errno.ts';

export interface LiveSettle {
  /** Wall seconds from run=1 to the last change of pages_sharing. */
  readonly settleS: number;
  /** pages_sharing then. */
  readonly pagesSharing: number;
  /** Full scans from run=1 until the last change of pages_sharing, and until the wait stopped. */
  readonly settleScans: number;
  readonly fullScans: number;
  /** How long ksmd waited for a CPU meanwhile (a busy machine slows it down), ms. */
  readonly ksmdQueuedMs: number;
  /** ksmd's CPU time from run=1 until the wait stopped (predict's cpu_s), s; NaN where unreadable. */
  readonly ksmdCpuS: number;
  /** Wall seconds from run=1 until the wait stopped (predict's run_s). */
  readonly wallS: number;
}

export interface LiveSettleOptions {
  /** Full scans without a change that end the wait (default 3, as predict). */
  readonly quiet?: number;
  /** Give up after this long (default 10 minutes). */
  readonly timeoutMs?: number;
  /** Poll period (default 5 ms). */
  readonly pollMs?: number;
  /**
   * Keep ksmd running until at least this many full scans since run=1 (predict's
   * full_scans), so that ksmdCpuS and wallS cover the span predict's cpu_s and run_s do.
   */
  readonly scans?: number;
}

/** Writes a file under /sys/kernel/mm/ksm (its full path); 0 or -errno. */
export type KsmFileWriter = (path: string, value: string) => number;

/** Runs ksmd until pages_sharing settles; throws when it does not within the timeout. */
export async function liveSettle(write: KsmFileWriter, opts: LiveSettleOptions = {}): Promise<LiveSettle> {
  const quiet = opts.quiet ?? 3;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const ksmd = findKsmdPid();
  const stat0 = ksmd === undefined ? undefined : readSchedstat(ksmd);
  const sharing = new KsmCounter('pages_sharing');
  const scans = new KsmCounter('full_scans');
  try {
    let last = sharing.read();
    const scans0 = scans.read();
    let scansAtLast = scans0;
    const t0 = performance.now();
    const r = write(`${KSM_DIR}/run`, '1');
    if (r !== 0) throw new Error(`Writing 1 to ${KSM_DIR}/run failed (${describeErrno(r)})`);
    let lastAt = t0;
    for (;;) {
      await sleep(opts.pollMs ?? 5);
      const now = performance.now();
      const s = sharing.read();
      const f = scans.read();
      if (s !== last) {
        last = s;
        lastAt = now;
        scansAtLast = f;
      } else if (f >= scansAtLast + quiet + 1 && f - scans0 >= (opts.scans ?? 0)) {
        // quiet whole scans after the one in which the last change happened.
        const stat1 = ksmd === undefined ? undefined : readSchedstat(ksmd);
        const both = stat0 !== undefined && stat1 !== undefined;
        return {
          settleS: (lastAt - t0) / 1000,
          pagesSharing: last,
          settleScans: scansAtLast - scans0,
          fullScans: f - scans0,
          ksmdQueuedMs: both ? (stat1.waitNs - stat0.waitNs) / 1e6 : Number.NaN,
          ksmdCpuS: both ? (stat1.runtimeNs - stat0.runtimeNs) / 1e9 : Number.NaN,
          wallS: (now - t0) / 1000,
        };
      }
      if (now - t0 > timeoutMs)
        throw new Error(`pages_sharing did not settle in ${timeoutMs / 1000} s (${f} full scans)`);
    }
  } finally {
    sharing.close();
    scans.close();
  }
}
