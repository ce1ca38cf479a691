/**
 * How ksmd's speed moves on a live host while nothing else changes: a series of ksmd's CPU
 * per page scanned, one sample a second, over the same workload (scripts/host-drift.mjs).
 * The model charges one fixed cost per event, measured by `bench --calibrate` at one time;
 * where the host's speed moves within seconds, no calibration made before a run can place
 * that run's CPU-bound cadence closer than these figures say (docs/cost-model-journal.md, "How fast
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

/** Pearson correlation of two series of one length; NaN where there are fewer than 3 pairs or no variance. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 3) return Number.NaN;
  const ma = mean(a.slice(0, n));
  const mb = mean(b.slice(0, n));
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

/** Pearson correlation of xs[i] with xs[i + lag]; NaN where there are fewer than 3 pairs or no variance. */
export function autocorrelation(xs: readonly number[], lag: number): number {
  return pearson(xs.slice(0, Math.max(0, xs.length - lag)), xs.slice(lag));
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

/**
 * How well a second task's speed, measured beside ksmd at the same seconds
 * (native/speed-probe.c), follows ksmd's over windows of `seconds`: a model whose costs were
 * scaled by the probe's speed against its median would be off by `scaled`, where one fixed
 * cost (the median's) is off by `fixed`.
 */
export interface ProbeTracking {
  readonly seconds: number;
  readonly windows: number;
  /** Pearson correlation of the windows' means, ksmd's against the probe's. */
  readonly r: number;
  /** ksmd's windows against ksmd's median: their median |deviation| and the share beyond `limit`. */
  readonly fixed: { readonly medianDeviation: number; readonly beyondLimit: number };
  /** ksmd's windows against its median times the probe's window over the probe's median. */
  readonly scaled: { readonly medianDeviation: number; readonly beyondLimit: number };
}

/** ProbeTracking for each window size; `ksmd` and `probe` are ns per page, sample by sample. */
export function probeTracking(
  ksmd: readonly number[],
  probe: readonly number[],
  seconds: readonly number[] = [5, 20],
  limit = 0.05,
): ProbeTracking[] {
  if (ksmd.length !== probe.length) throw new Error('probeTracking: the two series differ in length');
  const mk = spread(ksmd)?.median;
  const mp = spread(probe)?.median;
  if (mk === undefined || mp === undefined) throw new Error('probeTracking: no samples');
  const judge = (dev: number[]) => ({
    medianDeviation: spread(dev)?.median ?? 0,
    beyondLimit: shareBeyond(dev, limit),
  });
  return seconds
    .map((size) => {
      const k = windowMeans(ksmd, size);
      const p = windowMeans(probe, size);
      return {
        seconds: size,
        windows: k.length,
        r: pearson(k, p),
        fixed: judge(k.map((x) => Math.abs(x / mk - 1))),
        scaled: judge(k.map((x, i) => Math.abs(x / ((mk * (p[i] as number)) / mp) - 1))),
      };
    })
    .filter((t) => t.windows > 0);
}
