import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KsmdBatch } from '../lib/ksmd_batches.ts';
import {
  GUARD_NS,
  interleavedRows,
  SETTLE_BATCHES,
  measurePostSleepInterleaved,
  roundOrder,
  type Segment,
  segmentMs,
  trimmedMean,
} from './post_sleep_interleaved.ts';

const MS = 1e6;

/** A whole batch that began at `beginMs`, used `cpuUs` of CPU and ended in a timed sleep after `wallMs`. */
function batch(beginMs: number, cpuUs: number, wallMs = cpuUs / 1000): KsmdBatch {
  return {
    beginNs: beginMs * MS,
    cpuNs: cpuUs * 1000,
    wallNs: wallMs * MS,
    passStarted: false,
    passesEnded: 0,
    timed: true,
  };
}

const segment = (pages: number, sleepMs: number, beginMs: number, endMs: number, queuedMs = 0, round = 0): Segment => ({
  round,
  pages,
  sleepMs,
  beginNs: beginMs * MS,
  endNs: endMs * MS,
  queuedNs: queuedMs * MS,
});

test('a row is the trimmed mean CPU of its batches over the warm CPU of the same batch, in the same minute', () => {
  // 100-page batches after 20 ms: one segment of 0-150 ms with batches every 24 ms.
  const batches = [
    batch(-10, 400), // before the segment: the batch before the first, not one of its own
    batch(0.3, 500), // within GUARD_NS of the writes: woken by the write, left out
    batch(24, 450), // the segment's first two, after the warm run: left out
    batch(48, 550),
    batch(72, 600),
    batch(96, 620),
    batch(120, 640),
    batch(144, 660),
    batch(168, 9999), // after the segment's end
  ];
  const warm = [{ round: 0, pages: 100, cpuNs: 2 * 200e3, scanned: 200 }]; // 2,000 ns a page: 200 µs a batch
  const { rows, missing } = interleavedRows(batches, [segment(100, 20, 0, 150, 0.5)], warm, 20_000);
  assert.deepEqual(missing, []);
  const r = rows[0]!;
  assert.equal(GUARD_NS, 0.5 * MS);
  assert.equal(SETTLE_BATCHES, 2);
  // Four batches: 10 % of 4 is none left out, so their mean, 630 µs; warm 200 µs.
  assert.equal(r.extra_ns, 430_000);
  assert.equal(r.warm_pass_cpu_ns, 200 * 200e3);
  assert.equal(r.pass_cpu_ns, 200 * 630e3);
  // Each slept from the previous batch's end to its own beginning (48.55, 72.6, 96.62, 120.64 ms).
  assert.equal(r.slept_ns, Math.round(((23.45 + 23.4 + 23.38 + 23.36) * MS) / 4));
  assert.equal(r.passes, 0.02);
  assert.deepEqual(r.extra_ns_each, [430_000]);
  assert.equal(r.queued_ms, 0.5);
  assert.equal('unique_every' in r, false);
});

test('a batch after one the trace did not see whole, or after an untimed wait, is left out', () => {
  const batches = [
    batch(-100, 1), // before the segment
    batch(-48, 1), // the segment's first two: left out
    batch(-24, 1),
    batch(0, 500),
    { ...batch(24, 9000), whole: false }, // lost its beginning: its CPU is not known
    batch(48, 500), // after a batch not seen whole
    { ...batch(72, 500), timed: false }, // ended waiting for work, not in a timed sleep
    batch(96, 700), // after an untimed wait: woken by a write
    batch(120, 600),
    batch(144, 600),
    batch(168, 600),
  ];
  const warm = [{ round: 0, pages: 100, cpuNs: 100e3, scanned: 100 }];
  const { rows } = interleavedRows(batches, [segment(100, 20, -60, 200)], warm, 20_000);
  // Kept: 0, 72 (its own wait untimed, but its CPU whole), 120, 144 and 168. Left out: 24, not
  // whole; 48, after a batch not whole; 96, after an untimed wait.
  assert.equal(rows[0]!.extra_ns, ((500 + 500 + 600 * 3) / 5) * 1000 - 100e3);
});

test('a row is the median of its rounds, each round the mean of its batches', () => {
  const settle = (ms: number) => [batch(ms, 1), batch(ms + 24, 1)];
  const batches = [
    batch(-100, 1),
    ...settle(0),
    batch(48, 300),
    batch(72, 500),
    ...settle(1000),
    batch(1048, 700),
    batch(1072, 700),
  ];
  const warm = [
    { round: 0, pages: 300, cpuNs: 100e3, scanned: 300 },
    { round: 1, pages: 300, cpuNs: 100e3, scanned: 300 },
  ];
  const { rows } = interleavedRows(batches, [segment(300, 20, -10, 80), segment(300, 20, 990, 1080, 0, 1)], warm, 3000);
  // Warm: 200 µs over 600 pages, 100 µs a 300-page batch. Rounds of 400 and 700 µs a batch:
  // extras of 300 and 600, their median 450.
  assert.equal(rows[0]!.extra_ns, 450_000);
  assert.deepEqual(rows[0]!.extra_ns_each, [300_000, 600_000]);
  // A third round in a slow stretch of the host moves the row to the middle round, not further.
  const slow = [...batches, batch(1900, 1), ...settle(2000), batch(2048, 9000), batch(2072, 9000)];
  const three = [segment(300, 20, -10, 80), segment(300, 20, 990, 1080, 0, 1), segment(300, 20, 1990, 2080, 0, 2)];
  assert.equal(interleavedRows(slow, three, warm, 3000).rows[0]!.extra_ns, 600_000);
  // Each round against its own warm reading: round 1 read warm at 400 µs a batch, so its
  // extra is 300; the row's, the median of 300 and 300, while the warm it reports is pooled.
  const own = interleavedRows(
    batches,
    [segment(300, 20, -10, 80), segment(300, 20, 990, 1080, 0, 1)],
    [warm[0]!, { round: 1, pages: 300, cpuNs: 400e3, scanned: 300 }],
    3000,
  ).rows[0]!;
  assert.deepEqual(own.extra_ns_each, [300_000, 300_000]);
  assert.equal(own.warm_pass_cpu_ns, 250e3 * 10);
  assert.equal(rows[0]!.passes, 0.4);
});

test('a combination with too few batches, or no warm reading, is named instead of given a row', () => {
  const batches = [batch(0, 1), batch(24, 300), batch(48, 300), batch(72, 300), batch(96, 300), batch(120, 300)];
  const got = interleavedRows(batches, [segment(100, 20, 10, 130), segment(1000, 200, 200, 800)], [], 20_000);
  assert.deepEqual(got.rows, []);
  assert.deepEqual(got.missing, [
    { pages: 100, sleepMs: 20, batches: 3 },
    { pages: 1000, sleepMs: 200, batches: 0 },
  ]);
});

test('a region of few unique pages is marked so', () => {
  const batches = [batch(0, 1), batch(24, 300), batch(48, 300), batch(72, 300), batch(96, 300), batch(120, 300)];
  const warm = [{ round: 0, pages: 100, cpuNs: 100e3, scanned: 100 }];
  const { rows } = interleavedRows(batches, [segment(100, 20, 10, 130)], warm, 20_000, 10);
  assert.equal(rows[0]!.unique_every, 10);
});

test('the trimmed mean leaves out a tenth at either end', () => {
  assert.equal(trimmedMean([1, 2, 3]), 2);
  // 10 values: the lowest and the highest go.
  assert.equal(trimmedMean([100, 1, 1, 1, 1, 1, 1, 1, 1, 0]), 1);
});

test('a segment holds six sleeps of batches, and 400 ms at least', () => {
  assert.equal(segmentMs(1), 400);
  assert.equal(segmentMs(50), 480);
  assert.equal(segmentMs(200), 1380);
});

test('each round runs every size with each of its sleeps, sizes and sleeps from another one first', () => {
  const plan = [
    { pages: 100, sleeps: [1, 20] },
    { pages: 1000, sleeps: [20] },
  ];
  assert.deepEqual(roundOrder(plan, 0), [
    { pages: 100, sleeps: [1, 20] },
    { pages: 1000, sleeps: [20] },
  ]);
  assert.deepEqual(roundOrder(plan, 1), [
    { pages: 1000, sleeps: [20] },
    { pages: 100, sleeps: [20, 1] },
  ]);
});

test('a shape that is not a whole number of batches is refused before the kernel is touched', async () => {
  const quiet = { lockWaitMs: 0, progress: () => undefined, warn: () => undefined };
  await assert.rejects(
    measurePostSleepInterleaved(quiet, { regionPages: 1500, plan: [{ pages: 1000, sleeps: [20] }] }),
    /1500 pages is not a whole number of 1000-page batches/,
  );
});

test("the batch that only ends a scan is counted once a pass, as a pass counts it, not as one of the pass's batches", () => {
  // 5,000-page batches on 20,000 pages: 4 full batches and one that ends the scan a pass.
  const end = (ms: number, cpuUs: number): KsmdBatch => ({ ...batch(ms, cpuUs), passesEnded: 1 });
  const batches = [
    batch(-100, 1),
    ...[0, 24].map((ms) => batch(ms, 1)), // the segment's first two
    batch(48, 10_000),
    batch(72, 10_000),
    batch(96, 10_000),
    batch(120, 10_000),
    end(144, 400),
    batch(168, 10_000),
  ];
  const warm = [{ round: 0, pages: 5000, cpuNs: 9000e3, scanned: 5000 }]; // 9 ms a warm batch
  const { rows } = interleavedRows(batches, [segment(5000, 20, -10, 190)], warm, 20_000);
  // Full batches 10 ms, plus the end batch's 400 µs over the pass's 4 batches: 10.1 ms.
  assert.equal(rows[0]!.extra_ns, 1_100_000);
  assert.equal(rows[0]!.pass_cpu_ns, 40_400_000);
  assert.equal(rows[0]!.passes, 1.25);
});
