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
 * by then cannot be late; when the poll was slower than that (a busy machine, a pause of
 * the event loop, sleep_millisecs below 20), a warning says so.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KsmCounter } from '../../host/ksm_sysfs.ts';

/**
 * How the warning begins when a batch's hold may have come after ksmd began another: the
 * counters of that run may then be a batch further than the wait asked.
 */
export const PAST_BATCH = 'Counters may be past the batch boundary';

/** The most a timed sleep of ksmd may fall short of sleep_millisecs: a tick at HZ 100. */
const TIMER_SLACK_MS = 10;

export interface BatchWaitHooks {
  /** Lets ksmd run (true: run=1) or holds it (false: run=0); throws if the write fails. */
  readonly run: (on: boolean) => void;
  /** Told after each batch is held: batches done, milliseconds since the wait began. */
  readonly onBatch: (done: number, elapsedMs: number) => Promise<void> | void;
  readonly warn: (message: string) => void;
  /** ksmd's sleep_millisecs: how late a hold may come. */
  readonly sleepMs: number;
  /** How often the counters are read while a batch is awaited. */
  readonly pollMs: number;
  /** The wall-clock limit of one batch. */
  readonly batchTimeoutMs: number;
}

/**
 * Runs `n` batches of ksmd, holding it after each; undefined when done, else why not (a
 * batch that did not show within its time limit). The caller has checked that ksmd can run
 * (run 1, an mm registered, pages_to_scan above 0) and holds ksmd when it returns.
 */
export async function waitBatches(n: number, hooks: BatchWaitHooks): Promise<string | undefined> {
  const scannedCounter = new KsmCounter('pages_scanned');
  const scansCounter = new KsmCounter('full_scans');
  try {
    return await runBatches(n, hooks, () => [scannedCounter.read(), scansCounter.read()]);
  } finally {
    scannedCounter.close();
    scansCounter.close();
  }
}

/** waitBatches with its counters open: `read` gives pages_scanned and full_scans. */
async function runBatches(
  n: number,
  hooks: BatchWaitHooks,
  read: () => readonly [number, number],
): Promise<string | undefined> {
  const begin = performance.now();
  const { sleepMs } = hooks;
  let late = 0;
  let longest = 0;
  for (let done = 0; done < n; ) {
    const [scanned, scans] = read();
    const started = performance.now();
    let quietAt = started;
    let heldAt = started;
    hooks.run(true);
    try {
      for (;;) {
        const now = performance.now();
        const [scannedNow, scansNow] = read();
        if (scannedNow !== scanned || scansNow !== scans) break;
        quietAt = now;
        if (now - started > hooks.batchTimeoutMs) {
          return `Timed out after ${Math.round(now - started)} ms waiting for batch ${done + 1} of ${n} (neither pages_scanned nor full_scans moved)`;
        }
        await sleep(hooks.pollMs);
      }
    } finally {
      heldAt = performance.now();
      hooks.run(false);
    }
    done++;
    const gap = heldAt - quietAt;
    longest = Math.max(longest, gap);
    if (gap >= sleepMs - TIMER_SLACK_MS) late++;
    await hooks.onBatch(done, performance.now() - begin);
  }
  if (late > 0) {
    hooks.warn(
      `${PAST_BATCH}: ${late} of ${n} holds came as late as ${Math.round(longest)} ms after the last reading that showed no batch, ` +
        `and ksmd sleeps only sleep_millisecs=${sleepMs} ms (less a timer tick) between batches, so it may have begun another ` +
        `(the wait polls every ${hooks.pollMs} ms; a busy machine, or a sleep_millisecs below ${2 * TIMER_SLACK_MS}, makes this likelier)`,
    );
  }
  return undefined;
}
