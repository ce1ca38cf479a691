/**
 * The timer arithmetic of kernel/time: msecs_to_jiffies and the timer wheel's expiry. The
 * expectations come from the kernel's formulas (kernel/time/time.c, kernel/time/timer.c's
 * level table) and from the live kernel: a trace of ksmd on Linux 6.18.44 at CONFIG_HZ=250
 * (timer:timer_start) showed `expires=4295892007 [timeout=5] bucket_expiry=4295892008` for
 * sleep_millisecs=20, ksmd then running again 24 ms (six ticks) after the previous wake-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_JIFFY_OFFSET, msecsToJiffies, tickNs, timerBucketExpiry } from './timer.ts';

test('msecsToJiffies rounds up to whole ticks, and an int-negative unsigned value is for ever', () => {
  assert.deepEqual(
    [0, 1, 4, 5, 20, 200, 2000].map((m) => msecsToJiffies(m, 250)),
    [0, 1, 1, 2, 5, 50, 500],
  );
  assert.deepEqual(
    [1, 20].map((m) => msecsToJiffies(m, 1000)),
    [1, 20],
  );
  assert.deepEqual(
    [1, 10, 11].map((m) => msecsToJiffies(m, 100)),
    [1, 1, 2],
  );
  assert.equal(msecsToJiffies(2 ** 31 - 1, 250), 536870912);
  assert.equal(msecsToJiffies(2 ** 31, 250), MAX_JIFFY_OFFSET);
  assert.equal(msecsToJiffies(4294967295, 250), MAX_JIFFY_OFFSET);
});

test('tickNs is TICK_NSEC', () => {
  assert.equal(tickNs(250), 4_000_000);
  assert.equal(tickNs(1000), 1_000_000);
  assert.equal(tickNs(300), 3_333_333);
});

test('timerBucketExpiry: a level-0 timer fires one tick after expires (the live trace at HZ=250)', () => {
  assert.equal(timerBucketExpiry(4295892007, 4295892002, 250), 4295892008);
  assert.equal(timerBucketExpiry(101, 100, 250), 102);
  // 62 jiffies ahead is still level 0 (LVL_START(1) = 63).
  assert.equal(timerBucketExpiry(1062, 1000, 250), 1063);
});

test('timerBucketExpiry: farther timers land on coarser levels, rounded up to their granularity', () => {
  // 63..503 jiffies ahead: level 1, 8-jiffy buckets (32 ms at HZ=250).
  assert.equal(timerBucketExpiry(1063, 1000, 250), 1064);
  assert.equal(timerBucketExpiry(1150, 1000, 250), 1152);
  assert.equal(timerBucketExpiry(1152, 1000, 250), 1160);
  // 504..4031: level 2, 64-jiffy buckets.
  assert.equal(timerBucketExpiry(1504, 1000, 250), 1536);
  // A timeout past the wheel's capacity fires at its cut-off (HZ > 100: 9 levels).
  const clk = 1000;
  const cutoff = 63 * 8 ** 8;
  const max = cutoff - 8 ** 8;
  assert.equal(timerBucketExpiry(clk + MAX_JIFFY_OFFSET, clk, 250), (Math.floor((clk + max) / 8 ** 8) + 1) * 8 ** 8);
  // An expiry in the past fires at the wheel's clock.
  assert.equal(timerBucketExpiry(990, 1000, 250), 1000);
});
