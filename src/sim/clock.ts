import { DOUBLE_FIELD } from '../lib/double_field.ts';

/**
 * The virtual time up to which the clock is exact: nanoseconds are a double, whole below
 * 2^53 (104 days and 5 hours). Waits that would pass it are refused (scenario/, system.ts).
 */
export const MAX_VIRTUAL_NS = 2 ** 53;

/**
 * Virtual time. Everything in the model that Linux measures with jiffies or ktime reads
 * this clock; nothing in src/ outside cli/ and backends/kernel reads the host's clock.
 * Time is kept in nanoseconds as a double: exact for integers below 2^53 ns (104 days).
 */
export class VirtualClock {
  /** A double from the start (see DOUBLE_FIELD): it passes 2^31 ns 2.1 s after boot. */
  #nowNs = DOUBLE_FIELD;

  constructor() {
    this.#nowNs = 0;
  }

  /** Nanoseconds since the machine booted. */
  now(): number {
    return this.#nowNs;
  }

  nowMs(): number {
    return this.#nowNs / 1e6;
  }

  /** Jiffies at HZ=1000 (the kernel's tick on x86_64 defconfig), for jiffies-based rules. */
  jiffies(): number {
    return Math.floor(this.#nowNs / 1e6);
  }

  /** Moves time forward to `t` (never backwards). */
  advanceTo(t: number): void {
    if (t < this.#nowNs) throw new RangeError(`Virtual time cannot go back from ${this.#nowNs} to ${t}`);
    this.#nowNs = t;
  }
}
