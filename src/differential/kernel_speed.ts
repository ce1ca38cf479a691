/**
 * The model's clock at the kernel's speed. A timed comparison (timed.ts) puts two claims to
 * the test at once: that the model spends ksmd's time as Linux does (the sleep in jiffies,
 * the timer wheel, the wake-up latencies, the batches' order), and that its cost model knows
 * how much CPU ksmd spends a page on this host at this hour. The second moves: the same
 * cell's CPU per page moved by a third within two hours on the AMD host
 * (docs/cost-model-journal.md, "The clock at the kernel's speed"). So beside the verdict, the
 * comparison runs the model again with every CPU cost scaled (ksm/cost.ts scaledCost) until
 * ksmd's CPU per page scanned over the waits equals the kernel runs' median, and judges
 * that run the same way. What it still misses is the clock's (or the cost model's shape
 * across a pass), not the host's speed of the moment; what it passes that the verdict misses
 * was the speed. It is shown beside the verdict, never instead of it.
 *
 * The factor is found by fixed-point rounds: factor *= kernel's ns a page / model's ns a
 * page, each round one more model run. ksmd's CPU a page is not quite proportional to the
 * factor (the wake-up's fixed cost is not scaled, and a batch's place on the tick moves what
 * the sleeps cost), so it takes a few rounds; it stops within `closeEnough` or after
 * `maxRounds`, and says how close it came.
 */
import type { RunResult } from '../scenario/records.ts';
import { lowerMedian } from '../lib/statistics.ts';

/** A model run at one factor: its result and ksmd's CPU over the waits, ns. */
export interface SpeedRun<R> {
  readonly factor: number;
  readonly run: R;
  readonly ranNs: number;
  /** ksmd's CPU per page scanned over the waits (nsPerPage), ns. */
  readonly nsPerPage: number;
}

/** The search's outcome: the last run, and how many model runs it took. */
export interface KernelSpeedMatch<R> extends SpeedRun<R> {
  /** The kernel runs' median CPU per page scanned, ns. */
  readonly kernelNsPerPage: number;
  readonly rounds: number;
  /** Whether the model's CPU per page came within `closeEnough` of the kernel's. */
  readonly matched: boolean;
}

/** Rounds at most, and how close the CPU per page must come (0.005: 0.5 %). */
export interface SpeedSearch {
  readonly maxRounds: number;
  readonly closeEnough: number;
}

export const DEFAULT_SPEED_SEARCH: SpeedSearch = { maxRounds: 8, closeEnough: 0.005 };

/**
 * ksmd's CPU per page scanned over a run's waits: its CPU over them against
 * pages_scanned at the run's last record (ksmd scans only during waits in a timed scenario);
 * undefined where either is missing or zero (a scenario that waits only for full scans).
 */
export function nsPerPage(ranNs: number | undefined, run: RunResult): number | undefined {
  const pages = run.records.at(-1)?.ksm.pages_scanned;
  if (ranNs === undefined || !(ranNs > 0) || typeof pages !== 'number' || pages <= 0) return undefined;
  return ranNs / pages;
}

/** The median of the kernel runs' CPU per page; undefined unless every run has one. */
export function kernelNsPerPage(
  runs: ReadonlyArray<{ ranNs: number | undefined; run: RunResult }>,
): number | undefined {
  const each = runs.map((r) => nsPerPage(r.ranNs, r.run));
  if (each.length === 0 || each.some((v) => v === undefined)) return undefined;
  return lowerMedian(each as number[]);
}

/**
 * Runs the model (`runAt`, one run per factor) from `first` (its run at factor 1) until its
 * CPU per page matches `kernel`'s; undefined where a run has no CPU per page.
 */
export async function matchKernelSpeed<R>(
  kernel: number,
  first: SpeedRun<R>,
  runAt: (factor: number) => Promise<SpeedRun<R> | undefined>,
  search: SpeedSearch = DEFAULT_SPEED_SEARCH,
): Promise<KernelSpeedMatch<R> | undefined> {
  let now = first;
  let rounds = 0;
  const close = (r: SpeedRun<R>): boolean => Math.abs(r.nsPerPage / kernel - 1) <= search.closeEnough;
  while (!close(now) && rounds < search.maxRounds) {
    const next = await runAt((now.factor * kernel) / now.nsPerPage);
    if (next === undefined) return undefined;
    now = next;
    rounds++;
  }
  return { ...now, kernelNsPerPage: kernel, rounds, matched: close(now) };
}
