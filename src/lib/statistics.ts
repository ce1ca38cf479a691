/**
 * Order statistics of measured values, one definition of each for all of samepage: the
 * calibration's fits, the timed comparison, the drift and batch summaries and the daemon's
 * pause figures read the same median and percentiles.
 */

/**
 * The p-th percentile (0-100) of `values` by the nearest-rank rule: the smallest value with
 * at least p % of the values at or below it (the largest for p 100). undefined when empty.
 */
export function percentile(values: readonly number[], p: number): number | undefined {
  return values.length === 0 ? undefined : nearestRank(ascending(values), p);
}

function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** The p-th percentile of values already sorted ascending, at least one of them. */
function nearestRank(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = ascending(values);
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/**
 * The middle value, the lower of the two for an even count; 0 for none. A median that is
 * one of the values: the timed comparison judges the model against one kernel run's figure,
 * never a figure between two runs that no run showed.
 */
export function lowerMedian(values: readonly number[]): number {
  const sorted = ascending(values);
  return sorted[(sorted.length - 1) >> 1] ?? 0;
}

/** The 10th percentile, median and 90th percentile of some values, and how many there were. */
export interface Spread {
  readonly n: number;
  readonly p10: number;
  readonly median: number;
  readonly p90: number;
}

/** The spread of `values` (each figure a nearest-rank percentile), or undefined for none. */
export function spread(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  const sorted = ascending(values);
  return {
    n: sorted.length,
    p10: nearestRank(sorted, 10),
    median: nearestRank(sorted, 50),
    p90: nearestRank(sorted, 90),
  };
}
