/**
 * `wait: { full_scans: N }` on the live kernel: ksmd runs until full_scans has grown by N,
 * then is held (run=0), so the scenario's next steps come at a full-scan boundary, where the
 * model and Linux agree exactly.
 *
 * The hold is not exact as a batch's is (batch_wait.ts): full_scans is polled, and ksmd may
 * begin the next scan between the reading that shows the boundary and the hold. It sleeps
 * sleep_millisecs after the batch that ended the scan, so a poll quicker than that holds it
 * in time. The polling and the hold are a thread's of their own (ksmd_holder.ts), which the
 * main thread's pauses do not delay; a slower poll still (a busy machine, a sleep_millisecs
 * below 20) is warned of, with the gaps that allowed it. The main thread reads full_scans
 * too, for progress and samples only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KsmCounter } from '../../host/ksm_sysfs.ts';
import { StepError } from '../../scenario/backend.ts';
import { holdFailure, type HoldReply } from './ksmd_hold_protocol.ts';

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
  /** Lets ksmd run until full_scans reaches the target, then holds it (ksmd_holder.ts). */
  readonly hold: (target: number, timeoutMs: number) => Promise<HoldReply>;
  /** Told after each reading the main thread makes while ksmd runs. */
  readonly onPoll: (p: FullScanPoll) => Promise<void> | void;
  readonly warn: (message: string) => void;
  /** How often full_scans is read, on either thread. */
  readonly pollMs: number;
  /** The wall-clock limit of the whole wait. */
  readonly timeoutMs: number;
}

/**
 * Runs ksmd for `n` full scans and holds it; undefined when done, else why not (the time
 * limit passed). The caller has checked that ksmd can run (run 1, an mm registered). Throws
 * where the holding thread failed or was stopped.
 */
export async function waitFullScans(n: number, hooks: FullScanWaitHooks): Promise<string | undefined> {
  const fullScans = new KsmCounter('full_scans');
  try {
    const target = fullScans.read() + n;
    const begin = performance.now();
    const settled: { reply?: HoldReply } = {};
    const held = hooks.hold(target, hooks.timeoutMs).then((r) => (settled.reply = r));
    let seen = target - n;
    for (;;) {
      await Promise.race([held, sleep(hooks.pollMs)]);
      if (settled.reply !== undefined) break;
      const now = fullScans.read();
      await hooks.onPoll({
        done: Math.min(n, n - (target - now)),
        elapsedMs: performance.now() - begin,
        scanEnded: now > seen,
      });
      seen = now;
    }
    const r = settled.reply;
    if (r.kind === 'timeout') {
      return `Timed out after ${Math.round(hooks.timeoutMs)} ms waiting for ${n} full scans (${n - (target - r.counted)} done)`;
    }
    if (r.kind !== 'held') throw new StepError(holdFailure(r));
    const after = fullScans.read();
    if (after > target) {
      hooks.warn(
        `${PAST_BOUNDARY}: ksmd completed ${after - target} full scan(s) beyond the ${n} waited for before it was held ` +
          `(the holding thread polls every ${hooks.pollMs} ms, and the longest gap between two readings was ${Math.round(r.longestGapMs)} ms, ` +
          `${Math.round(r.heldMs)} ms from the last reading to the hold; a busy machine, or a sleep_millisecs below 20, makes this likelier)`,
      );
    }
    return undefined;
  } finally {
    fullScans.close();
  }
}
