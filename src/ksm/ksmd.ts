import type { TimerHandle } from '../sim/event_queue.ts';
import { KSM_RUN_MERGE } from './constants.ts';
import { WAKEUP_NS } from './cost.ts';
import type { Ksm } from './ksm.ts';
import { ksmDoScan } from './scan.ts';

/**
 * The ksmd kernel thread on virtual time. Each wake-up runs one batch of up to
 * pages_to_scan pages; the batch occupies ksmd for its CPU time (from the cost model),
 * then ksmd sleeps sleep_millisecs, or waits for work when it should not run.
 * @linux mm/ksm.c ksm_scan_thread
 */
export class Ksmd {
  readonly #ksm: Ksm;
  #state: 'waiting' | 'busy' | 'sleeping' = 'waiting';
  #timer: TimerHandle | null = null;
  /** Wake-ups that ran a batch. */
  batches = 0;

  constructor(ksm: Ksm) {
    this.#ksm = ksm;
  }

  /** @linux mm/ksm.c ksmd_should_run */
  shouldRun(): boolean {
    const k = this.#ksm;
    return (k.run & KSM_RUN_MERGE) !== 0 && k.mmHead.next !== k.mmHead;
  }

  /** Whether ksmd has a wake-up pending (it will scan again without outside help). */
  isActive(): boolean {
    return this.#state !== 'waiting';
  }

  /** Whether ksmd is inside a batch (its CPU time not yet elapsed). */
  isBusy(): boolean {
    return this.#state === 'busy';
  }

  /** wake_up_interruptible(&ksm_thread_wait): ends a wait for work. */
  wake(): void {
    if (this.#state === 'waiting') this.#schedule(this.#ksm.events.clock.now());
  }

  /** wake_up_interruptible(&ksm_iter_wait): a new sleep_millisecs ends the current sleep. */
  interruptSleep(): void {
    if (this.#state === 'sleeping') {
      this.#timer?.cancel();
      this.#schedule(this.#ksm.events.clock.now());
    }
  }

  #schedule(at: number): void {
    this.#state = 'sleeping';
    this.#timer = this.#ksm.events.at(at, () => this.#runBatch());
  }

  #runBatch(): void {
    const k = this.#ksm;
    const before = k.cpuNs;
    k.cpuNs += WAKEUP_NS;
    if (this.shouldRun()) {
      ksmDoScan(k, k.pagesToScan);
      this.batches++;
    }
    this.#state = 'busy';
    this.#timer = k.events.at(k.events.clock.now() + (k.cpuNs - before), () => this.#afterBatch());
  }

  #afterBatch(): void {
    if (this.shouldRun()) this.#schedule(this.#ksm.events.clock.now() + this.#ksm.sleepMillisecs * 1e6);
    else this.#state = 'waiting';
  }
}
