/**
 * A step counter judged by its clock. full_scans moves in whole passes: where a record falls
 * at a pass boundary, one batch of clock difference between the model and the kernel (tens
 * of milliseconds in seconds) is a whole full scan, and where passes are short (smart_scan
 * skipping every page: one pass per batch) a few batches are several, far more than a
 * relative tolerance of the value allows. So the timed comparison (timed.ts) judges
 * full_scans by the time at which each side reached the value the other shows:
 *
 *   with t the record's time on ksmd's clock (scenario/scan_trace.ts), tol the counters'
 *   tolerance, K(τ) the kernel runs' median full_scans at time τ and M(τ) the model's,
 *   the record agrees when   K(t·(1 − tol)) <= M(t)   and   M(t·(1 − tol)) <= K(t).
 *
 * In words: each side has reached by t every value the other had reached by t·(1 − tol);
 * where they differ at t, the side ahead reached the first value the other lacks less than
 * tol·t before t. Neither side is more than tol·t ahead. (Judging M(t) between K(t·(1 − tol))
 * and K(t·(1 + tol)) says the same to first order in tol, but needs the kernel's counter
 * after the record, which at a scenario's last record does not exist: ksmd stops there.)
 *
 * Where the two show the same value it always agrees; where a record has no place on the
 * clock (after a wait for full scans) the caller compares values instead.
 */
import { lowerMedian } from '../lib/statistics.ts';
import { fullScansAt, fullScansReachedAt, type ScanTrace } from '../scenario/scan_trace.ts';

/** The figures of one judgement (shown by report/timed_diff.ts). */
export interface ClockJudgement {
  /** The record's time on ksmd's clock (the model's; the kernel runs' differ by their waits' overshoot), ms. */
  readonly atMs: number;
  /** t·(1 − tol), ms. */
  readonly earlierMs: number;
  /** K(t·(1 − tol)): the kernel runs' median full_scans then. */
  readonly kernelEarlier: number;
  /** M(t·(1 − tol)). */
  readonly modelEarlier: number;
  /**
   * How far the model is ahead (negative: behind), ms. Where the values at t differ: t less
   * the time the side ahead reached the first value the other had not reached by t (the
   * lead is at least this). Where they are equal: the kernel's median time of reaching the
   * value less the model's.
   */
  readonly leadMs: number;
  /** |lead| must stay below this where the values differ: tol·t, ms. */
  readonly limitMs: number;
  /** Both show the same value at t (then they agree whatever the lead). */
  readonly level: boolean;
  readonly ok: boolean;
}

/**
 * When the kernel runs' median first reached `value`: the median (lower middle) of the
 * values is >= value once enough runs have reached it, so this is the matching order
 * statistic of the runs' times (a run that never did counts as never).
 */
function medianReachedAt(traces: readonly ScanTrace[], value: number): number {
  const times = traces.map((t) => fullScansReachedAt(t, value) ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  const needed = traces.length - ((traces.length - 1) >> 1);
  return times[needed - 1] ?? Number.POSITIVE_INFINITY;
}

/**
 * Judges full_scans at the record at `atMs` of ksmd's clock: `kernel` is the kernel runs'
 * median at the record, `model` the model's, `kernels` and `modelTrace` their traces.
 */
export function judgeByClock(
  kernels: readonly ScanTrace[],
  modelTrace: ScanTrace,
  atMs: number,
  kernel: number,
  model: number,
  tol: number,
): ClockJudgement {
  const earlierMs = atMs * (1 - tol);
  const kernelEarlier = lowerMedian(kernels.map((k) => fullScansAt(k, earlierMs)));
  const modelEarlier = fullScansAt(modelTrace, earlierMs);
  const ok = kernelEarlier <= model && modelEarlier <= kernel;
  let leadMs: number;
  if (model > kernel) leadMs = atMs - (fullScansReachedAt(modelTrace, kernel + 1) ?? atMs);
  else if (model < kernel) leadMs = -(atMs - Math.min(atMs, medianReachedAt(kernels, model + 1)));
  else {
    const k = medianReachedAt(kernels, model);
    const m = fullScansReachedAt(modelTrace, model) ?? atMs;
    leadMs = Number.isFinite(k) ? k - m : 0;
  }
  return { atMs, earlierMs, kernelEarlier, modelEarlier, leadMs, limitMs: tol * atMs, level: model === kernel, ok };
}
