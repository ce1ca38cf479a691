/**
 * What the main thread and the holding thread (ksmd_hold_worker.ts) say to each other: one
 * command, one reply, and two words of shared memory that work while either thread is busy.
 */

/** Index of the word the main thread sets, once, to make the holding thread write no more. */
export const STOP = 0;
/** Index of the word the holding thread sets to 1 while a command may write ksm/run. */
export const BUSY = 1;
/** The shared words' count. */
export const HOLD_WORDS = 2;

export type HoldCommand =
  /** Let ksmd run until full_scans reaches `target`, then hold it. */
  | { readonly kind: 'full_scans'; readonly target: number; readonly timeoutMs: number }
  /** Let ksmd run one batch (pages_scanned or full_scans moves), then hold it. */
  | { readonly kind: 'batch'; readonly timeoutMs: number };

export type HoldReply =
  /**
   * ksmd is held at the wait's end. `longestGapMs`: the longest time between two readings
   * of the counters; `heldMs`: from the last reading before the end showed to the hold.
   */
  | { readonly kind: 'held'; readonly longestGapMs: number; readonly heldMs: number }
  /** ksmd is held, the wait's end not reached within timeoutMs; `counted` is full_scans then. */
  | { readonly kind: 'timeout'; readonly elapsedMs: number; readonly counted: number }
  /** STOP came: nothing more was written, and ksmd may be running. */
  | { readonly kind: 'stopped' }
  /** A write or a read failed; ksmd was held if the write of 0 could be made. */
  | { readonly kind: 'error'; readonly message: string };

/** Why a hold ended neither at the wait's end nor at its time limit. */
export function holdFailure(r: Extract<HoldReply, { kind: 'stopped' | 'error' }>): string {
  return r.kind === 'stopped' ? 'The wait was stopped (samepage is ending)' : `Holding ksmd failed: ${r.message}`;
}
