/**
 * `wait: { full_scans: N }` on the live kernel: ksmd runs until full_scans has grown by N,
 * then is held (run=0), so the scenario's next steps come at a full-scan boundary, where the
 * model and Linux agree exactly.
 *
 * The hold is not exact as a batch's is (batch_wait.ts): full_scans is polled, and ksmd may
 * begin the next scan between the reading that shows the boundary and the hold. It sleeps
 * sleep_millisecs after the batch that ended the scan, so a poll quicker than that holds it
 * in time; a slower one (a busy machine, a sleep_millisecs below 20) is warned of, with the
 * gaps that allowed it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KsmCounter } from '../../host/ksm_sysfs.ts';

/**
 * How the warning begins when ksmd ran past the full-scan boundary of a wait before it was
 * held: the counters of that run are then not at the boundary the contract makes exact.
 */
export const PAST_BOUNDARY = 'Counters past the full-scan boundary';

/** One reading of the wait, told to its caller: scans done, time since the wait began. */
export interface FullScanPoll {
  readonly done: number;
  readonly elapsedMs: number;
  /** Whether a full scan ended since the reading before (the counters are about at its boundary). */
  readonly scanEnded: boolean;
}

export interface FullScanWaitHooks {
  /** Lets ksmd run (true: run=1) or holds it (false: run=0); throws if the write fails. */
  readonly run: (on: boolean) => void;
  /** Told after each reading that did not end the wait. */
  readonly onPoll: (p: FullScanPoll) => Promise<void> | void;
  readonly warn: (message: string) => void;
  /** How often full_scans is read. */
  readonly pollMs: number;
  /** The wall-clock limit of the whole wait. */
  readonly timeoutMs: number;
}

/**
 * Runs ksmd for `n` full scans and holds it; undefined when done, else why not (the time
 * limit passed). The caller has checked that ksmd can run (run 1, an mm registered).
 */
export async function waitFullScans(n: number, hooks: FullScanWaitHooks): Promise<string | undefined> {
  const fullScans = new KsmCounter('full_scans');
  try {
    const target = fullScans.read() + n;
    const begin = performance.now();
    // The longest time between two readings: what let ksmd run past the boundary, if it did.
    let lastPoll = begin;
    let longestGap = 0;
    let seen = target - n;
    hooks.run(true);
    try {
      for (;;) {
        const now = fullScans.read();
        const t = performance.now();
        longestGap = Math.max(longestGap, t - lastPoll);
        lastPoll = t;
        // The last scan ended: hold ksmd first (the caller samples once it is held).
        if (now >= target) break;
        await hooks.onPoll({ done: n - (target - now), elapsedMs: t - begin, scanEnded: now > seen });
        seen = now;
        if (t - begin > hooks.timeoutMs) {
          return `Timed out after ${Math.round(hooks.timeoutMs)} ms waiting for ${n} full scans (${n - (target - now)} done)`;
        }
        await sleep(hooks.pollMs);
      }
    } finally {
      hooks.run(false);
    }
    const after = fullScans.read();
    if (after > target) {
      hooks.warn(
        `${PAST_BOUNDARY}: ksmd completed ${after - target} full scan(s) beyond the ${n} waited for before it was held ` +
          `(the wait polls every ${hooks.pollMs} ms, and the longest gap between two readings was ${Math.round(longestGap)} ms, ` +
          `${Math.round(performance.now() - lastPoll)} ms from the last reading to the hold; a busy machine, or a sleep_millisecs below 20, makes this likelier)`,
      );
    }
    return undefined;
  } finally {
    fullScans.close();
  }
}
