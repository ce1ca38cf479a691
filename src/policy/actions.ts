/**
 * What the policy asks of whoever drives it, and what it tells the log. The policy never
 * calls madvise itself: it returns actions, the driver (the live daemon's injector, or the
 * model's madvise) carries each out in the named process and reports the outcome with
 * `PlusEngine.applied`, and only then does the policy count a range as marked or unmarked.
 */
import type { Range } from './ranges.ts';

export type ActionKind = 'mark' | 'unmark';

/** madvise(MADV_MERGEABLE) or madvise(MADV_UNMERGEABLE) on ranges of one process. */
export interface PlusAction {
  readonly kind: ActionKind;
  readonly pid: number;
  /** The process's start time: the driver checks it is still the same process before touching it. */
  readonly start: string;
  readonly comm: string;
  /** The process was selected by its name: the driver checks it still has that comm. */
  readonly requireComm?: boolean;
  /** [start, end) in virtual page numbers, sorted; one attach carries them all. */
  readonly ranges: readonly Range[];
  /** Why, for the log: "3 duplicates of firefox:812", "merged nothing in 3 ksmd scans". */
  readonly why: string;
  /** An unmark because the range merged nothing: its pages are not marked again for a few rounds. */
  readonly verdict?: true;
}

/**
 * How an action ended. `done`: the process ran the calls, `results[i]` is madvise's return
 * for range i (0 or -errno). `refused`: the process was not touched (traced, its seccomp
 * filter forbids madvise, gone, another process now has the pid...); `retry` says whether
 * trying later may succeed.
 */
export type ActionOutcome =
  | { readonly kind: 'done'; readonly results: readonly number[]; readonly pauseNs?: number }
  | { readonly kind: 'refused'; readonly why: string; readonly retry: boolean };

/** A line of the daemon's log: each decision with its reason. */
export interface PlusEvent {
  readonly kind: 'select' | 'forget' | 'mark' | 'unmark' | 'drop' | 'skip' | 'round' | 'knob' | 'warn';
  readonly pid?: number;
  readonly comm?: string;
  /** [start, end) byte addresses. */
  readonly range?: readonly [number, number];
  readonly message: string;
}
