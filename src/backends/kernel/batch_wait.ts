/**
 * `wait: { batches: N }` on the live kernel: N batches of ksmd (ksm_do_scan calls), then
 * ksmd held, so the scenario's next steps come wherever the scan cursor stopped, in the
 * middle of a full scan too.
 *
 * Linux has no counter of batches, but each batch shows: it hands at least one page to
 * cmp_and_merge_page (pages_scanned grows) or ends a full scan (full_scans grows), since it
 * stops only when pages_to_scan pages are scanned or a full scan ends, and skipped pages do
 * not use its budget. So ksmd is let run (run=1) one batch at a time and held (run=0) as soon
 * as either counter moves. The hold is exact: run_store takes ksm_thread_mutex, which ksmd
 * holds for the whole batch, so a hold written during the batch lands right after it; one
 * written after it lands in ksmd's sleep, which lasts sleep_millisecs (less at most a tick
 * of the timer's rounding). The batch had not ended at the last reading that showed
 * nothing, so the next cannot begin within that sleep of that reading, and a hold written
 * by then cannot be late. The polling and the hold are a thread's of their own
 * (ksmd_holder.ts), which the main thread's pauses do not delay; when the poll was slower
 * still (a busy machine, sleep_millisecs below 20), a warning says so.
 */
import { StepError } from '../../scenario/backend.ts';
import { holdFailure, type HoldReply } from './ksmd_hold_protocol.ts';

/**
 * How the warning begins when a batch's hold may have come after ksmd began another: the
 * counters of that run may then be a batch further than the wait asked.
 */
export const PAST_BATCH = 'Counters may be past the batch boundary';

/** The most a timed sleep of ksmd may fall short of sleep_millisecs: a tick at HZ 100. */
const TIMER_SLACK_MS = 10;

export interface BatchWaitHooks {
  /** Lets ksmd run one batch, then holds it (ksmd_holder.ts). */
  readonly hold: (timeoutMs: number) => Promise<HoldReply>;
  /** Told after each batch is held: batches done, milliseconds since the wait began. */
  readonly onBatch: (done: number, elapsedMs: number) => Promise<void> | void;
  readonly warn: (message: string) => void;
  /** ksmd's sleep_millisecs: how late a hold may come. */
  readonly sleepMs: number;
  /** How often the holding thread reads the counters while a batch is awaited. */
  readonly pollMs: number;
  /** The wall-clock limit of one batch. */
  readonly batchTimeoutMs: number;
}

/**
 * Runs `n` batches of ksmd, holding it after each; undefined when done, else why not (a
 * batch that did not show within its time limit). The caller has checked that ksmd can run
 * (run 1, an mm registered, pages_to_scan above 0). Throws where the holding thread failed
 * or was stopped.
 */
export async function waitBatches(n: number, hooks: BatchWaitHooks): Promise<string | undefined> {
  const begin = performance.now();
  const { sleepMs } = hooks;
  let late = 0;
  let longest = 0;
  for (let done = 0; done < n; ) {
    const r = await hooks.hold(hooks.batchTimeoutMs);
    if (r.kind === 'timeout') {
      return `Timed out after ${Math.round(r.elapsedMs)} ms waiting for batch ${done + 1} of ${n} (neither pages_scanned nor full_scans moved)`;
    }
    if (r.kind !== 'held') throw new StepError(holdFailure(r));
    done++;
    longest = Math.max(longest, r.heldMs);
    if (r.heldMs >= sleepMs - TIMER_SLACK_MS) late++;
    await hooks.onBatch(done, performance.now() - begin);
  }
  if (late > 0) {
    hooks.warn(
      `${PAST_BATCH}: ${late} of ${n} holds came as late as ${Math.round(longest)} ms after the last reading that showed no batch, ` +
        `and ksmd sleeps only sleep_millisecs=${sleepMs} ms (less a timer tick) between batches, so it may have begun another ` +
        `(the holding thread polls every ${hooks.pollMs} ms; a busy machine, or a sleep_millisecs below ${2 * TIMER_SLACK_MS}, makes this likelier)`,
    );
  }
  return undefined;
}
