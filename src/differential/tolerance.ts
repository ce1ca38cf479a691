/**
 * How a timed comparison (timed.ts) judges and measures: the relative tolerances of the
 * counters and of the scan-time advisor's pages_to_scan, and when a kernel run is too
 * disturbed to count. The issue that asked for the clock set the targets: 5 % on the
 * counters and 10 % on the advisor, against the median of 3 undisturbed kernel runs.
 */
import { OTHERS_BUSY_SHARE } from '../host/others_busy.ts';

/** How a timed comparison judges and measures. */
export interface Tolerance {
  /** Relative tolerance of the counters (pages_scanned, full_scans...): 0.05 is 5 %. */
  readonly counters: number;
  /** Relative tolerance of pages_to_scan while the scan-time advisor sets it. */
  readonly advisor: number;
  /** Undisturbed kernel runs whose median is the reference. */
  readonly runs: number;
  /** Kernel runs at most, disturbed ones included. */
  readonly maxRuns: number;
  /** A kernel run is disturbed when ksmd waited for a CPU longer than this share of its waits. */
  readonly maxQueued: number;
  /**
   * Or when the rest of the machine kept its CPUs busy longer than this share of the
   * waits (KsmdClock.othersBusyMs): work on another CPU slows ksmd's scanning down.
   */
  readonly maxOthersBusy: number;
}

/** The targets: 5 % on counters, 10 % on the advisor's pages_to_scan, median of 3. */
export const DEFAULT_TOLERANCE: Tolerance = {
  counters: 0.05,
  advisor: 0.1,
  runs: 3,
  maxRuns: 9,
  maxQueued: 0.01,
  maxOthersBusy: OTHERS_BUSY_SHARE,
};

/** DEFAULT_TOLERANCE with `runs` undisturbed runs (three times as many at most) and tolerances in %. */
export function toleranceOf(runs: number, countersPct: number, advisorPct: number): Tolerance {
  return { ...DEFAULT_TOLERANCE, runs, maxRuns: 3 * runs, counters: countersPct / 100, advisor: advisorPct / 100 };
}

/** Within `tol` of the kernel's value; a kernel 0 must be 0. */
export function within(kernel: number, model: number, tol: number): boolean {
  return Math.abs(model - kernel) <= tol * Math.abs(kernel);
}
