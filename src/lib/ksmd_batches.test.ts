import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignedTicks, type KsmdBatch, summarizeBatches, tickWakePhasesNs } from './ksmd_batches.ts';

const TICK = 4_000_000;

/** A batch beginning at `at` ticks (plus 0.1 ms), using `cpuMs`. */
function batch(at: number, cpuMs: number, over: Partial<KsmdBatch> = {}): KsmdBatch {
  return {
    beginNs: at * TICK + 100_000,
    cpuNs: cpuMs * 1e6,
    wallNs: cpuMs * 1e6,
    passStarted: false,
    passesEnded: 0,
    timed: true,
    ...over,
  };
}

test('summarizeBatches: cycles by whole ticks, of batches woken by the tick, per run', () => {
  const run1 = [batch(0, 3), batch(2, 3.5), batch(5, 1, { timed: false }), batch(40, 1), batch(42, 1)];
  const run2 = [batch(0, 1), batch(2, 1), batch(4, 1)];
  const s = summarizeBatches([run1, run2], TICK);
  // 3 ticks in run 1 (2 to 5), 2 ticks in run 2 (2 to 4). Not counted: each run's first
  // batch and the one after the hold (woken by a write, mid-tick), the untimed batch's gap,
  // and the gap between the runs.
  assert.deepEqual(s.cycleTicks, [0, 0, 1, 1]);
  assert.equal(s.batches, 8);
});

test("summarizeBatches: CPU by place in the scan, whole scans apart; the run's first scan and a scan broken by a hold left out", () => {
  const scan = (at: number, cpus: number[]): KsmdBatch[] =>
    cpus.map((c, i) => batch(at + 2 * i, c, { passStarted: i === 0, passesEnded: i === cpus.length - 1 ? 1 : 0 }));
  const run = [
    // The first scan only takes checksums: cheaper, and not comparable.
    ...scan(-8, [0.3, 0.3, 0.3, 0.1]),
    ...scan(0, [1, 2, 3, 0.5]),
    batch(8, 4, { passStarted: true, passesEnded: 1 }),
    ...scan(10, [1.2, 2.2, 3.2, 0.4]),
    // Held after its second batch: the rest of this scan is not comparable.
    batch(18, 9, { passStarted: true }),
    batch(20, 9, { timed: false }),
    batch(30, 9),
    batch(32, 0.1, { passesEnded: 1 }),
  ];
  const s = summarizeBatches([run], TICK);
  assert.deepEqual(s.wholePassCpuNs, { n: 1, p10: 4e6, median: 4e6, p90: 4e6 });
  // The scans' last (partial) batches are left out: three places, two scans each; the
  // nearest-rank median of two is the lower, the 90th percentile the higher.
  assert.deepEqual(
    s.byPositionCpuNs.map((p) => [p.n, p.median, p.p90]),
    [
      [2, 1e6, 1.2e6],
      [2, 2e6, 2.2e6],
      [2, 3e6, 3.2e6],
    ],
  );
});

test('tickWakePhasesNs: how far past a multiple of the tick each batch after a timed sleep began', () => {
  const b = (beginNs: number, timed = true): KsmdBatch => ({
    beginNs,
    cpuNs: 1e6,
    wallNs: 1e6,
    passStarted: false,
    passesEnded: 0,
    timed,
  });
  const batches = [b(100_000), b(8_051_000), b(16_040_000, false), b(40_500_000), b(48_030_000)];
  // The first has no sleep before it in the trace; the fourth followed a wait for work.
  assert.deepEqual(tickWakePhasesNs(batches, TICK), [51_000, 40_000, 30_000]);
  assert.ok(alignedTicks([51_000, 40_000, 30_000], TICK));
  assert.ok(!alignedTicks([2_100_000, 2_050_000, 30_000], TICK));
  assert.ok(!alignedTicks([], TICK));
});

test('summarizeBatches: a batch the trace did not see whole counts in no cycle, and breaks its scan', () => {
  const run = [
    batch(0, 0.3, { passStarted: true }),
    batch(2, 0.1, { passesEnded: 1 }),
    batch(4, 1, { passStarted: true }),
    batch(6, 2),
    batch(8, 0.5, { passesEnded: 1 }),
    batch(10, 1, { passStarted: true }),
    batch(12, 2, { whole: false }),
    batch(14, 0.5, { passesEnded: 1 }),
  ];
  const s = summarizeBatches([run], TICK);
  // Cycles 2-4, 4-6, 6-8, 8-10 (0-2 is the first batch's), and 14 ends the run: 10-12 and
  // 12-14 touch the lost one.
  assert.deepEqual(s.cycleTicks, [0, 0, 4]);
  assert.deepEqual(
    s.byPositionCpuNs.map((p) => [p.n, p.median]),
    [
      [1, 1e6],
      [1, 2e6],
    ],
  );
  assert.deepEqual(tickWakePhasesNs(run, TICK), [100_000, 100_000, 100_000, 100_000, 100_000, 100_000]);
});
