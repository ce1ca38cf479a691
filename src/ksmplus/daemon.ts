import type { EventQueue, TimerHandle } from '../sim/event_queue.ts';
import type { KsmPlus } from './ksmplus.ts';
import { WAKEUP_NS } from '../ksm/cost.ts';
import { enterNamedTasks, ksmPlusDoScan } from './scan.ts';

/**
 * The KSM+ kernel thread on virtual time: every sleep_millisecs it looks for new processes
 * of the named programs, then processes up to pages_to_scan sampled pages.
 * @thesis 4.2 the KSM+ kernel thread
 */
export class KsmPlusDaemon {
  readonly #plus: KsmPlus;
  readonly #events: EventQueue;
  #state: 'waiting' | 'busy' | 'sleeping' = 'waiting';
  #timer: TimerHandle | null = null;

  constructor(plus: KsmPlus, events: EventQueue) {
    this.#plus = plus;
    this.#events = events;
  }

  shouldRun(): boolean {
    return (this.#plus.run & 1) !== 0 && this.#plus.names.length > 0;
  }

  isBusy(): boolean {
    return this.#state === 'busy';
  }

  wake(): void {
    if (this.#state === 'waiting') this.#schedule(this.#events.clock.now());
  }

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
    const trees = this.#plus.trees;
    const before = trees.cpuNs;
    trees.cpuNs += WAKEUP_NS;
    if (this.shouldRun()) {
      enterNamedTasks(this.#plus);
      ksmPlusDoScan(this.#plus, this.#plus.pagesToScan);
    }
    this.#state = 'busy';
    this.#timer = this.#events.at(this.#events.clock.now() + (trees.cpuNs - before), () => this.#afterBatch());
  }

  #afterBatch(): void {
    if (this.shouldRun()) this.#schedule(this.#events.clock.now() + this.#plus.sleepMillisecs * 1e6);
    else this.#state = 'waiting';
  }
}
