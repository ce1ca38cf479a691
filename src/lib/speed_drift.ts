/**
 * How ksmd's speed moves on a live host while nothing else changes: a series of ksmd's CPU
 * per page scanned, one sample a second, over the same workload (scripts/host-drift.mjs).
 * The model charges one fixed cost per event, measured by `bench --calibrate` at one time;
 * where the host's speed moves within seconds, no calibration made before a run can place
 * that run's CPU-bound cadence closer than these figures say (docs/cost-model.md, "How fast
 * the host's speed moves").
 */
import { type Spread, spread } from './statistics.ts';

/** Spread of the means of `seconds` consecutive samples around the whole series' median. */
export interface WindowSpread {
  readonly seconds: number;
  /** Number of windows (consecutive, not overlapping). */
  readonly windows: number;
  /** Largest |mean / median - 1| over the windows. */
  readonly maxDeviation: number;
  /** Share of the windows whose mean is more than `limit` away from the median. */
  readonly beyondLimit: number;
}

/**
 * How well the mean of the `reference` samples just before foretells the mean of the next
 * `seconds`: what a calibration made a minute before a run can know of the run's speed.
 */
export interface Foresight {
  readonly reference: number;
  readonly seconds: number;
  /** Number of forecasts (windows of `seconds`, stepping by `seconds`, each after a full reference). */
  readonly windows: number;
  readonly medianDeviation: number;
  /** Share of the windows whose mean is more than `limit` away from the reference's. */
  readonly beyondLimit: number;
}

export interface DriftSummary {
  /** The samples' median and 10th-90th percentiles. */
  readonly spread: Spread;
  /** Pearson autocorrelation of the series at each lag (in samples). */
  readonly autocorrelation: readonly { readonly lag: number; readonly r: number }[];
  readonly windows: readonly WindowSpread[];
  readonly foresight: readonly Foresight[];
  readonly limit: number;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/** The share of `deviations` above `limit` (0 for none). */
const shareBeyond = (deviations: readonly number[], limit: number): number =>
  deviations.length === 0 ? 0 : deviations.filter((d) => d > limit).length / deviations.length;

/** Pearson correlation of xs[i] with xs[i + lag]; NaN where there are fewer than 3 pairs or no variance. */
export function autocorrelation(xs: readonly number[], lag: number): number {
  const n = xs.length - lag;
  if (n < 3) return Number.NaN;
  const a = xs.slice(0, n);
  const b = xs.slice(lag);
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb);
}

/** The means of consecutive, non-overlapping windows of `size` samples (a short tail is dropped). */
export function windowMeans(xs: readonly number[], size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + size <= xs.length; i += size) out.push(mean(xs.slice(i, i + size)));
  return out;
}

/** Foresight of windows of `seconds` from the `reference` samples before each. */
export function foresight(xs: readonly number[], reference: number, seconds: number, limit: number): Foresight {
  const dev: number[] = [];
  for (let t = reference; t + seconds <= xs.length; t += seconds) {
    dev.push(Math.abs(mean(xs.slice(t, t + seconds)) / mean(xs.slice(t - reference, t)) - 1));
  }
  return {
    reference,
    seconds,
    windows: dev.length,
    medianDeviation: spread(dev)?.median ?? 0,
    beyondLimit: shareBeyond(dev, limit),
  };
}

/**
 * Sums up a series of one-second samples (ns of ksmd CPU per page): its spread, how long a
 * speed lasts (autocorrelation at `lags`), and how far windows of `seconds` move from the
 * median, and how well the `reference` samples before each window (a minute) foretell it,
 * judged against `limit` (the timing grid's 5 %).
 */
export function summarizeDrift(
  xs: readonly number[],
  lags: readonly number[] = [1, 2, 5, 10, 30, 60],
  seconds: readonly number[] = [1, 5, 20],
  limit = 0.05,
  reference = 60,
): DriftSummary {
  const sp = spread(xs);
  if (sp === undefined) throw new Error('summarizeDrift: no samples');
  const m = sp.median;
  return {
    spread: sp,
    autocorrelation: lags.filter((lag) => lag < xs.length).map((lag) => ({ lag, r: autocorrelation(xs, lag) })),
    windows: seconds
      .map((s) => {
        const dev = windowMeans(xs, s).map((w) => Math.abs(w / m - 1));
        return {
          seconds: s,
          windows: dev.length,
          maxDeviation: dev.length === 0 ? 0 : Math.max(...dev),
          beyondLimit: shareBeyond(dev, limit),
        };
      })
      .filter((w) => w.windows > 0),
    foresight: seconds.map((w) => foresight(xs, reference, w, limit)).filter((f) => f.windows > 0),
    limit,
  };
}
