/**
 * ksmd's batches one by one, as the live kernel's trace shows them (measure/ksmd_trace.ts)
 * and as the model runs them (backends/model): when each began, the CPU it used, and the
 * sleep that followed, so the two cadences can be compared batch for batch and not only
 * through the counters a few records read. At short sleeps the cadence hangs on whole ticks:
 * a batch that ends before the next tick sleeps one tick less than one that ends after it,
 * so what matters is how many batches fall on either side of that edge.
 */
import { type Spread, spread } from './statistics.ts';

/** One wake-up of ksmd that ran a batch. */
export interface KsmdBatch {
  /** When ksmd began to run it, in ns (the trace's clock, or the model's). */
  readonly beginNs: number;
  /** CPU time ksmd used in it, in ns. */
  readonly cpuNs: number;
  /** From its beginning to its end (ksmd arming its sleep, or waiting for work), in ns. */
  readonly wallNs: number;
  /** Whether a full scan began in it. */
  readonly passStarted: boolean;
  /** Full scans that ended in it. */
  readonly passesEnded: number;
  /** Whether it ended in ksmd's timed sleep (else ksmd waited for work: KSM stopped, nothing to scan). */
  readonly timed: boolean;
  /**
   * Whether all of it was seen: false where the trace lost the switch that began it, so its
   * beginning and CPU are those of the first event seen (absent: whole).
   */
  readonly whole?: boolean;
}

/** What a run's batches add up to. */
export interface BatchSummary {
  readonly batches: number;
  /**
   * Cycles (one batch's beginning to the next's, after a timed sleep) by their length in
   * whole ticks: `cycleTicks[k]` cycles of k ticks (rounded to the nearest). Only cycles of
   * batches woken by the tick (after a timed sleep) count: a batch woken by a write (the
   * first after KSM starts) began mid-tick, and its cycle is a fraction of a tick shorter.
   */
  readonly cycleTicks: readonly number[];
  /** CPU of the batches that ran a whole full scan (begun and ended in one): smart_scan's skipping passes. */
  readonly wholePassCpuNs: Spread | undefined;
  /**
   * CPU of the batches of scans that took more than one batch, by place in the scan: [0] its
   * first batch, [1] its second... Left out: each scan's last batch (usually partial), and
   * each run's first scan, which only takes checksums (cmp_and_merge_page puts a page in the
   * unstable tree once its checksum held since the scan before).
   */
  readonly byPositionCpuNs: readonly Spread[];
}

/**
 * Whether `batches[i]` was seen whole and woken by the tick: the batch before it ended in a
 * timed sleep, so the tick's timer softirq woke ksmd (not a write, which wakes it mid-tick).
 */
function wokenByTick(batches: readonly KsmdBatch[], i: number): boolean {
  return i > 0 && batches[i - 1]!.timed && batches[i]!.whole !== false;
}

/**
 * Sums up the batches of one or more runs (each in the order ksmd ran them) for a machine
 * whose tick is `tickNs`.
 */
export function summarizeBatches(runs: ReadonlyArray<readonly KsmdBatch[]>, tickNs: number): BatchSummary {
  const cycleTicks: number[] = [];
  const whole: number[] = [];
  const byPosition: number[][] = [];
  for (const batches of runs) {
    for (let i = 0; i + 1 < batches.length; i++) {
      if (!wokenByTick(batches, i) || !wokenByTick(batches, i + 1)) continue;
      const k = Math.round((batches[i + 1]!.beginNs - batches[i]!.beginNs) / tickNs);
      while (cycleTicks.length <= k) cycleTicks.push(0);
      cycleTicks[k]!++;
    }
    // A scan's batches, kept until its last: a wait for work (a hold between a scenario's
    // steps) in the middle drops them, its cadence broken.
    let pass: KsmdBatch[] | undefined;
    let first = true;
    for (const b of batches) {
      if (b.whole === false) {
        pass = undefined;
        continue;
      }
      if (b.passStarted && b.passesEnded > 0) {
        whole.push(b.cpuNs);
        pass = undefined;
        continue;
      }
      if (b.passStarted) {
        pass = first ? undefined : [];
        first = false;
      }
      if (pass === undefined) continue;
      if (b.passesEnded > 0) {
        pass.forEach((p, i) => {
          const place = byPosition[i] ?? [];
          place.push(p.cpuNs);
          byPosition[i] = place;
        });
        pass = undefined;
      } else if (!b.timed) pass = undefined;
      else pass.push(b);
    }
  }
  return {
    batches: runs.reduce((n, r) => n + r.length, 0),
    cycleTicks,
    wholePassCpuNs: spread(whole),
    byPositionCpuNs: byPosition.map((v) => spread(v)!),
  };
}

/**
 * How long after its tick ksmd ran, in ns, for each batch that followed a timed sleep (the
 * tick's timer softirq woke it): its beginning past the last multiple of `tickNs`. That holds
 * on a trace's `mono` clock, where the tick falls on multiples of TICK_NSEC (Linux aligns it
 * so, tick_init_jiffy_update), which `alignedTicks` checks: the tick's own interrupt then makes
 * every phase small, and a median past half a tick says the ticks lie elsewhere.
 */
export function tickWakePhasesNs(batches: readonly KsmdBatch[], tickNs: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < batches.length; i++) if (wokenByTick(batches, i)) out.push(batches[i]!.beginNs % tickNs);
  return out;
}

/** Whether phases from tickWakePhasesNs look like wake-ups by ticks on multiples of the tick. */
export function alignedTicks(phasesNs: readonly number[], tickNs: number): boolean {
  const s = spread(phasesNs);
  return s !== undefined && s.median < tickNs / 2;
}
