/**
 * The machine's timer: the tick (CONFIG_HZ), jiffies, and when a kernel thread that sleeps
 * with schedule_timeout runs again. Linux counts a sleep in whole jiffies, rounds it up on
 * the timer wheel so that it never ends early, expires it in the timer softirq after a tick,
 * and the woken thread runs a little later: ksmd's cadence is made of these steps, not of
 * sleep_millisecs (docs/cost-model.md, "ksmd's clock").
 */

/** What decides when a sleeping kernel thread runs again on one machine kind. */
export interface TimerParams {
  /** CONFIG_HZ: timer ticks per second (jiffies count them). */
  readonly hz: number;
  /**
   * From a wake_up by another task (a write to a sysfs file such as `run` or
   * sleep_millisecs) to the woken thread running on its CPU.
   */
  readonly wakeupLatencyNs: number;
  /**
   * From the tick whose timer softirq expires a sleeping thread's timeout to the thread
   * running: shorter than a wake_up from another task, since the tick has already woken
   * the CPU (traced on the AMD host: 51 µs median against 104-175 µs a kick). A batch that
   * arms its next sleep later than a tick less this after it began sleeps a tick longer.
   */
  readonly timerWakeLatencyNs: number;
  /**
   * Wall time of running a work item on every CPU and waiting for it (lru_add_drain_all at
   * the start of each of ksmd's full scans): the thread sleeps, using no CPU.
   */
  readonly workFlushNs: number;
}

/**
 * This machine kind as measured (Linux 6.18.44, 2 vCPUs, CONFIG_HZ=250 from /proc/config.gz;
 * docs/cost-model.md): the default calibration set's calibration/timer.json as shipped,
 * used where no file is given.
 */
export const DEFAULT_TIMER: TimerParams = {
  hz: 250,
  wakeupLatencyNs: 64030,
  timerWakeLatencyNs: 64030,
  workFlushNs: 0,
};

/** MAX_JIFFY_OFFSET of a 64-bit kernel: ((LONG_MAX >> 1) - 1), "for ever" in jiffies. */
export const MAX_JIFFY_OFFSET = 2 ** 62 - 2;

/** TICK_NSEC: nanoseconds per tick, rounded as the kernel rounds it. */
export function tickNs(hz: number): number {
  return Math.floor((1e9 + Math.floor(hz / 2)) / hz);
}

/**
 * Milliseconds to jiffies, rounded up so a timeout is never shorter than asked; an
 * `unsigned int` that is negative as an `int` means for ever.
 * @linux kernel/time/time.c __msecs_to_jiffies
 */
export function msecsToJiffies(m: number, hz: number): number {
  if (m >= 2 ** 31) return MAX_JIFFY_OFFSET;
  if (1000 % hz === 0) return Math.floor((m + 1000 / hz - 1) / (1000 / hz));
  if (hz % 1000 === 0) return m * (hz / 1000);
  return Math.ceil((m * hz) / 1000);
}

/** LVL_START(n) of the timer wheel: the first delta that level n holds. */
function lvlStart(n: number): number {
  return 63 * 8 ** (n - 1);
}

/**
 * The jiffy at which the timer wheel expires a timer armed for `expires` when the wheel's
 * clock is `clk`: the farther away, the coarser the level (8 times per level), and the
 * expiry is rounded up to the level's next bucket, so even a level-0 timer fires one tick
 * after `expires` (a sleep of N jiffies ends on the (N+1)-th tick after it began).
 * @linux kernel/time/timer.c calc_wheel_index
 */
export function timerBucketExpiry(expires: number, clk: number, hz: number): number {
  const depth = hz > 100 ? 9 : 8;
  const delta = expires - clk;
  if (delta < 0) return clk;
  let lvl = 0;
  while (lvl < depth - 1 && delta >= lvlStart(lvl + 1)) lvl++;
  let at = expires;
  if (lvl === depth - 1 && delta >= lvlStart(depth)) at = clk + lvlStart(depth) - 8 ** (depth - 1);
  const gran = 8 ** lvl;
  return (Math.floor(at / gran) + 1) * gran;
}
