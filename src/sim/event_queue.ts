import type { VirtualClock } from './clock.ts';

/** A timer set by a simulated kernel thread: when it fires, `run` is called at `time`. */
interface Timer {
  readonly time: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** A handle to cancel a pending timer (e.g. a sleep interrupted by a sysfs write). */
export interface TimerHandle {
  cancel(): void;
}

/**
 * The discrete-event scheduler of the simulated machine: kernel threads (ksmd, the KSM+
 * daemon) schedule wake-ups; the queue runs them in (time, insertion) order, so two runs
 * with the same inputs interleave identically.
 */
export class EventQueue {
  readonly #heap: Timer[] = [];
  #seq = 0;

  readonly clock: VirtualClock;

  constructor(clock: VirtualClock) {
    this.clock = clock;
  }

  /** Schedules `run` at absolute virtual time `time` (ns). */
  at(time: number, run: () => void): TimerHandle {
    const timer: Timer = { time: Math.max(time, this.clock.now()), seq: this.#seq++, run, cancelled: false };
    this.#push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Time of the next pending timer, or undefined if none. */
  peekTime(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.time;
  }

  /**
   * Runs the next timer if it is due at or before `limit`, advancing the clock to it.
   * Returns false when nothing is due by then.
   */
  runNext(limit: number): boolean {
    this.#dropCancelled();
    const top = this.#heap[0];
    if (top === undefined || top.time > limit) return false;
    this.#pop();
    this.clock.advanceTo(top.time);
    top.run();
    return true;
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #less(a: Timer, b: Timer): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
