import { DOUBLE_FIELD } from '../lib/double_field.ts';
import { DEFAULT_TIMER, type TimerParams, msecsToJiffies, tickNs, timerBucketExpiry } from './timer.ts';

/**
 * The virtual time up to which the clock is exact: nanoseconds are a double, whole below
 * 2^53 (104 days and 5 hours). Waits that would pass it are refused (scenario/, system.ts).
 */
export const MAX_VIRTUAL_NS = 2 ** 53;

/**
 * Virtual time. Everything in the model that Linux measures with jiffies or ktime reads
 * this clock; nothing in src/ outside cli/ and backends/kernel reads the host's clock.
 * Time is kept in nanoseconds as a double: exact for integers below 2^53 ns (104 days).
 * Ticks fall on whole multiples of the tick from boot, so jiffies count them from 0.
 */
export class VirtualClock {
  /** A double from the start (see DOUBLE_FIELD): it passes 2^31 ns 2.1 s after boot. */
  #nowNs = DOUBLE_FIELD;
  readonly timer: TimerParams;
  /** Nanoseconds per tick (TICK_NSEC). */
  readonly tickNs: number;

  constructor(timer: TimerParams = DEFAULT_TIMER) {
    this.#nowNs = 0;
    this.timer = timer;
    this.tickNs = tickNs(timer.hz);
  }

  /** Nanoseconds since the machine booted. */
  now(): number {
    return this.#nowNs;
  }

  nowMs(): number {
    return this.#nowNs / 1e6;
  }

  /** Ticks since boot at the machine's HZ, for jiffies-based rules. */
  jiffies(): number {
    return Math.floor(this.#nowNs / this.tickNs);
  }

  /** msecs_to_jiffies at the machine's HZ. */
  msecsToJiffies(ms: number): number {
    return msecsToJiffies(ms, this.timer.hz);
  }

  /**
   * When a thread that calls schedule_timeout(`timeout` jiffies) now runs again if nothing
   * wakes it earlier: the tick at which the timer wheel expires its timer, plus the latency
   * of a wake-up by the tick. The wheel's clock is taken as the current jiffy (a CPU going to sleep forwards
   * it so).
   * @linux kernel/time/sleep_timeout.c schedule_timeout
   */
  timeoutWake(timeout: number): number {
    const now = this.jiffies();
    return timerBucketExpiry(now + timeout, now, this.timer.hz) * this.tickNs + this.timer.timerWakeLatencyNs;
  }

  /** Moves time forward to `t` (never backwards). */
  advanceTo(t: number): void {
    if (t < this.#nowNs) throw new RangeError(`Virtual time cannot go back from ${this.#nowNs} to ${t}`);
    this.#nowNs = t;
  }
}
