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
 * The factor is found in rounds, each one more model run. A round takes the fixed-point step,
 * factor *= kernel's ns a page / model's ns a page; ksmd's CPU a page is not quite
 * proportional to the factor (the wake-up's fixed cost is not scaled, and a batch's place on
 * the tick moves what the sleeps cost and so the reload after them), so it takes a few. Near
 * a tick's edge those steps can go to and fro around the kernel's figure without reaching it
 * (in CI on 2026-12-05, 5000/1/0 ended 0.55 % off after 8 rounds), so once two runs lie on
 * either side of it, a step that would leave them is replaced by the midpoint of their
 * factors. It stops within `closeEnough` or after `maxRounds`, keeps the run that came
 * closest, and says how close that was.
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

/**
 * Rounds at most, and how close the CPU per page must come (0.005: 0.5 %). On a CPU-bound
 * cell pages_scanned follows the CPU per page almost one for one, so 1 % there was already
 * enough to move a record from +4.6 to +5.5 % (1000/5/0 in the grid of 11:10).
 */
export interface SpeedSearch {
  readonly maxRounds: number;
  readonly closeEnough: number;
}

export const DEFAULT_SPEED_SEARCH: SpeedSearch = { maxRounds: 10, closeEnough: 0.005 };

/** ksmd's CPU per page scanned: `ranNs` over `pages`; undefined where either is missing or not above 0. */
export function cpuPerPage(ranNs: number | undefined, pages: unknown): number | undefined {
  if (ranNs === undefined || !(ranNs > 0) || typeof pages !== 'number' || pages <= 0) return undefined;
  return ranNs / pages;
}

/**
 * ksmd's CPU per page scanned over a run's waits: its CPU over them against
 * pages_scanned at the run's last record (ksmd scans only during waits); undefined where
 * either is missing or zero (schedstat could not be read, or ksmd scanned nothing).
 */
export function nsPerPage(ranNs: number | undefined, run: RunResult): number | undefined {
  return cpuPerPage(ranNs, run.records.at(-1)?.ksm.pages_scanned);
}

/**
 * The lower median of the runs' CPU per page, each ksmd's CPU over the waits against the
 * pages it scanned (cpuPerPage); undefined unless every run has one. A grid file keeps these
 * two figures per kernel run without the runs (scripts/timing-grid-remodel.mjs).
 */
export function medianNsPerPage(
  runs: ReadonlyArray<{ readonly ranNs: number | undefined; readonly pages: unknown }>,
): number | undefined {
  const each = runs.map((r) => cpuPerPage(r.ranNs, r.pages));
  if (each.length === 0 || each.some((v) => v === undefined)) return undefined;
  return lowerMedian(each as number[]);
}

/** The median of the kernel runs' CPU per page (nsPerPage); undefined unless every run has one. */
export function kernelNsPerPage(
  runs: ReadonlyArray<{ ranNs: number | undefined; run: RunResult }>,
): number | undefined {
  return medianNsPerPage(runs.map((r) => ({ ranNs: r.ranNs, pages: r.run.records.at(-1)?.ksm.pages_scanned })));
}

/**
 * Runs the model (`runAt`, one run per factor) from `first` (its run at factor 1) until its
 * CPU per page matches `kernel`'s; the closest run of all; undefined where a run has no CPU
 * per page.
 */
export async function matchKernelSpeed<R>(
  kernel: number,
  first: SpeedRun<R>,
  runAt: (factor: number) => Promise<SpeedRun<R> | undefined>,
  search: SpeedSearch = DEFAULT_SPEED_SEARCH,
): Promise<KernelSpeedMatch<R> | undefined> {
  const off = (r: SpeedRun<R>): number => Math.abs(r.nsPerPage / kernel - 1);
  // The closest run so far below the kernel's CPU per page and above it: a bracket, once both are found.
  let below: SpeedRun<R> | undefined;
  let above: SpeedRun<R> | undefined;
  const see = (r: SpeedRun<R>): void => {
    if (r.nsPerPage < kernel) below = below === undefined || off(r) < off(below) ? r : below;
    else above = above === undefined || off(r) < off(above) ? r : above;
  };
  // The closest run of all is the closer of the two sides.
  const best = (): SpeedRun<R> =>
    [below, above]
      .filter((r): r is SpeedRun<R> => r !== undefined)
      .reduce((closer, r) => (off(r) < off(closer) ? r : closer));
  let now = first;
  see(first);
  let rounds = 0;
  while (off(best()) > search.closeEnough && rounds < search.maxRounds) {
    let factor = (now.factor * kernel) / now.nsPerPage;
    if (below !== undefined && above !== undefined) {
      const [lo, hi] = [Math.min(below.factor, above.factor), Math.max(below.factor, above.factor)];
      if (!(factor > lo && factor < hi)) factor = (lo + hi) / 2;
    }
    const next = await runAt(factor);
    if (next === undefined) return undefined;
    now = next;
    rounds++;
    see(now);
  }
  const closest = best();
  return { ...closest, kernelNsPerPage: kernel, rounds, matched: off(closest) <= search.closeEnough };
}
