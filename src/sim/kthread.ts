import type { EventQueue, TimerHandle } from './event_queue.ts';

/** Where a kthread's time is counted (ksmd's, or the KSM+ daemon's), in ns. */
export interface CpuAccount {
  /** CPU time used. */
  cpuNs: number;
  /** Wall time spent blocked inside batches (waiting for work on other CPUs), no CPU. */
  blockedNs: number;
  /** cpuNs + blockedNs when the current batch began (time inside it is measured from it); -1 outside batches. */
  batchStartNs: number;
  /**
   * The reload the running batch owes for the sleep before it (KthreadBody.postSleepNs), set
   * as the batch begins and paid by the scanner where the batch first reads what a sleep
   * lets the caches lose (Ksm.payReload); -1 once paid, and outside batches: a batch that
   * never reads it pays nothing.
   */
  reloadDueNs: number;
  /**
   * The reload the running batch owes for its sleep if it takes checksums but searches no
   * tree (KthreadBody.postSleepNoTreeNs), paid at its first checksum (Ksm.payNoTreeReload);
   * below 0 once paid or made void by the tree reload, and -1 outside batches.
   */
  noTreeDueNs: number;
  /**
   * What each search of the trees in the running batch pays of its reload, set by the scanner
   * at the batch's first search (Ksm.payReload); -1 before it, and outside batches, so that a
   * batch never pays at the rate of the one before.
   */
  reloadPerSearchNs: number;
}

/** One wake-up of a kthread, told to its observer when the wake-up's time has elapsed. */
export interface KthreadWake {
  /** When the thread began to run, virtual ns. */
  readonly beginNs: number;
  /** CPU time it used. */
  readonly cpuNs: number;
  /** Its CPU time and the time it blocked (from its beginning to its sleep). */
  readonly wallNs: number;
  /** Whether it ran a batch (it had work when it woke). */
  readonly ran: boolean;
  /** Whether it then slept with a timeout (else it waits to be woken, or runs on at once). */
  readonly timed: boolean;
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
  /** CPU time of one wake-up besides the batch's work (scheduling, locks, bookkeeping). */
  readonly wakeupNs: number;
  /**
   * CPU time the batch costs besides its events because the thread slept `sleptNs` before it
   * (caches reloaded; Infinity before its first batch, 0 when it did not sleep).
   */
  postSleepNs(sleptNs: number): number;
  /** The same for a batch that takes checksums but searches no tree (a batch of first visits). */
  postSleepNoTreeNs(sleptNs: number): number;
}

/**
 * A scanning kernel thread on virtual time, as ksm_scan_thread loops: each wake-up runs one
 * batch if there is work; the batch occupies the thread for its CPU time and the time it
 * blocks; then, if there is still work, the thread sleeps msecs_to_jiffies(sleep_millisecs)
 * as schedule_timeout does (to a tick, plus the wake-up latency; a timeout of 0 does not
 * sleep; a write of a new value ends the sleep early), or else waits, without a timeout,
 * until woken.
 * @linux mm/ksm.c ksm_scan_thread
 */
export class Kthread {
  readonly #body: KthreadBody;
  readonly #events: EventQueue;
  /** Waiting for work, woken and about to run, in a batch, or in its timed sleep. */
  #state: 'waiting' | 'runnable' | 'busy' | 'sleeping' = 'waiting';
  #timer: TimerHandle | null = null;
  /** The sleep_millisecs the current sleep was taken with (the kernel's local sleep_ms). */
  #sleptMs = 0;
  /** When the last batch's time elapsed (the thread began to sleep or wait); -1 before any. */
  #lastBatchEndNs = -1;
  /** When the current wake-up began, its CPU time then, and whether it ran a batch (for onWake). */
  readonly #wake = { beginNs: 0, cpuNs: 0, ran: false };
  /** Wake-ups that ran a batch. */
  batches = 0;
  /** Told of each wake-up once its time has elapsed (to trace the thread's cadence); none by default. */
  onWake: ((w: KthreadWake) => void) | undefined = undefined;

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
    if (this.#state === 'waiting') this.#schedule(this.#wokenAt(), 'runnable');
  }

  /**
   * wake_up_interruptible(&ksm_iter_wait) after a write of sleep_millisecs: the sleep ends
   * if the value now differs from the one it was taken with (the wait's condition); writing
   * the same value wakes the thread only to sleep on.
   */
  interruptSleep(): void {
    if (this.#state === 'sleeping' && this.#body.sleepMillisecs() !== this.#sleptMs) {
      this.#timer?.cancel();
      this.#schedule(this.#wokenAt(), 'runnable');
    }
  }

  /** When a thread woken now runs. */
  #wokenAt(): number {
    const clock = this.#events.clock;
    return clock.now() + clock.timer.wakeupLatencyNs;
  }

  #schedule(at: number, state: 'runnable' | 'sleeping'): void {
    this.#state = state;
    this.#timer = this.#events.at(at, () => this.#runBatch());
  }

  #runBatch(): void {
    const cpu = this.#body.cpu;
    const before = cpu.cpuNs + cpu.blockedNs;
    const now = this.#events.clock.now();
    this.#wake.beginNs = now;
    this.#wake.cpuNs = cpu.cpuNs;
    this.#wake.ran = false;
    cpu.batchStartNs = before;
    cpu.cpuNs += this.#body.wakeupNs;
    if (this.#body.shouldRun()) {
      this.#wake.ran = true;
      const slept = this.#lastBatchEndNs < 0 ? Infinity : now - this.#lastBatchEndNs;
      cpu.reloadDueNs = this.#body.postSleepNs(slept);
      cpu.noTreeDueNs = this.#body.postSleepNoTreeNs(slept);
      cpu.reloadPerSearchNs = -1;
      this.#body.scan();
      cpu.reloadDueNs = -1;
      cpu.noTreeDueNs = -1;
      cpu.reloadPerSearchNs = -1;
      this.batches++;
    }
    cpu.batchStartNs = -1;
    this.#state = 'busy';
    const elapsed = cpu.cpuNs + cpu.blockedNs - before;
    this.#timer = this.#events.at(this.#events.clock.now() + elapsed, () => this.#afterBatch());
  }

  #tellWake(timed: boolean): void {
    if (this.onWake === undefined) return;
    const { beginNs, cpuNs, ran } = this.#wake;
    const now = this.#events.clock.now();
    this.onWake({ beginNs, cpuNs: this.#body.cpu.cpuNs - cpuNs, wallNs: now - beginNs, ran, timed });
  }

  /** wait_event_freezable_timeout(ksm_iter_wait, ..., msecs_to_jiffies(sleep_ms)), or the wait for work. */
  #afterBatch(): void {
    this.#lastBatchEndNs = this.#events.clock.now();
    if (!this.#body.shouldRun()) {
      this.#tellWake(false);
      this.#state = 'waiting';
      return;
    }
    const clock = this.#events.clock;
    this.#sleptMs = this.#body.sleepMillisecs();
    const timeout = clock.msecsToJiffies(this.#sleptMs);
    this.#tellWake(timeout !== 0);
    if (timeout === 0) this.#schedule(clock.now(), 'runnable');
    else this.#schedule(clock.timeoutWake(timeout), 'sleeping');
  }
}
