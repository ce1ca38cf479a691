import type { EventQueue, TimerHandle } from './event_queue.ts';

/** CPU time of one wake-up of a scanning kthread besides its pages (scheduling, locks, bookkeeping). */
export const KTHREAD_WAKEUP_NS = 2000;

/** Where a kthread's CPU time is counted (ksmd's, or the KSM+ daemon's), in ns. */
export interface CpuAccount {
  cpuNs: number;
}

/**
 * What a scanning kthread does in its loop: whether it has work, one batch of it, and how
 * long it sleeps between batches. ksmd and the KSM+ daemon each provide one.
 */
export interface KthreadBody {
  /** Whether to scan (ksmd_should_run): read before a batch and again after it. */
  shouldRun(): boolean;
  /** One batch (ksm_do_scan), charging its CPU time to `cpu`. */
  scan(): void;
  /** The sleep between two batches in ms, read when the sleep starts (READ_ONCE). */
  sleepMillisecs(): number;
  readonly cpu: CpuAccount;
}

/**
 * A scanning kernel thread on virtual time, as ksm_scan_thread loops: each wake-up runs one
 * batch if there is work; the batch occupies the thread for its CPU time; then the thread
 * sleeps sleep_millisecs (a write of a new value ends the sleep early) if there is still
 * work, or else waits, without a timeout, until woken.
 * @linux mm/ksm.c ksm_scan_thread
 */
export class Kthread {
  readonly #body: KthreadBody;
  readonly #events: EventQueue;
  #state: 'waiting' | 'busy' | 'sleeping' = 'waiting';
  #timer: TimerHandle | null = null;
  /** Wake-ups that ran a batch. */
  batches = 0;

  constructor(body: KthreadBody, events: EventQueue) {
    this.#body = body;
    this.#events = events;
  }

  /** Whether the thread has a wake-up pending (it will run again without outside help). */
  isActive(): boolean {
    return this.#state !== 'waiting';
  }

  /** Whether the thread is inside a batch (its CPU time not yet elapsed). */
  isBusy(): boolean {
    return this.#state === 'busy';
  }

  /** wake_up_interruptible(&ksm_thread_wait): ends a wait for work; a timed sleep goes on. */
  wake(): void {
    if (this.#state === 'waiting') this.#schedule(this.#events.clock.now());
  }

  /** wake_up_interruptible(&ksm_iter_wait): a new sleep_millisecs ends the current sleep. */
  interruptSleep(): void {
    if (this.#state === 'sleeping') {
      this.#timer?.cancel();
      this.#schedule(this.#events.clock.now());
    }
  }

  #schedule(at: number): void {
    this.#state = 'sleeping';
    this.#timer = this.#events.at(at, () => this.#runBatch());
  }

  #runBatch(): void {
    const cpu = this.#body.cpu;
    const before = cpu.cpuNs;
    cpu.cpuNs += KTHREAD_WAKEUP_NS;
    if (this.#body.shouldRun()) {
      this.#body.scan();
      this.batches++;
    }
    this.#state = 'busy';
    this.#timer = this.#events.at(this.#events.clock.now() + (cpu.cpuNs - before), () => this.#afterBatch());
  }

  #afterBatch(): void {
    if (this.#body.shouldRun()) this.#schedule(this.#events.clock.now() + this.#body.sleepMillisecs() * 1e6);
    else this.#state = 'waiting';
  }
}
