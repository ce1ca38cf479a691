/**
 * full_scans judged by its clock, on constructed traces: the kernel's are built from the
 * cadence the live kernel shows (a processed pass of 20,480 pages at 2,000 pages a batch,
 * then smart_scan's all-skipped passes, one a batch, a batch every 56 ms at sleep_millisecs
 * 50 and HZ 250), the model's as a copy of them shifted or stretched in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ScanTrace } from '../scenario/scan_trace.ts';
import { judgeByClock } from './step_clock.ts';

/** A trace whose full_scans reaches 1, 2, ... at `times` (ms), with one record at `atMs`. */
function trace(times: readonly number[], atMs: number): ScanTrace {
  return { recordAtMs: [atMs], fullScans: [[0, 0], ...times.map((t, i) => [t, i + 1] as const)] };
}

const BATCH_MS = 56;
/**
 * The kernel's course near 5 s in timing-2000-50-smart1: full scans 1-12 by 3.6 s, the 13th
 * ending at `pass13`, pass 14 (processed: eleven batches) 11 batches later, then passes
 * 15-22, which smart_scan skips whole, one a batch.
 */
function kernelCourse(pass13: number): number[] {
  const early = Array.from({ length: 12 }, (_, i) => 300 * (i + 1));
  const p14 = pass13 + 11 * BATCH_MS;
  return [...early, pass13, p14, ...Array.from({ length: 8 }, (_, i) => p14 + (i + 1) * BATCH_MS)];
}

/** The value of a trace at its record (the last point at or before it). */
function valueAt(times: readonly number[], atMs: number): number {
  return times.filter((t) => t <= atMs).length;
}

test('judgeByClock: a model one or two batches ahead at a pass boundary agrees (the known 13 against 15)', () => {
  // Three kernel runs end pass 14 just after 5 s (13 at the record), the model two batches before.
  const kernels = [4400, 4390, 4410].map((p) => kernelCourse(p));
  const model = kernelCourse(4400 - 2 * BATCH_MS + 28);
  const k = 13;
  const m = valueAt(model, 5000);
  assert.deepEqual(
    kernels.map((c) => valueAt(c, 5000)),
    [13, 13, 13],
  );
  assert.equal(m, 15, 'the model has run pass 14 and one all-skipped pass');
  const j = judgeByClock(
    kernels.map((c) => trace(c, 5000)),
    trace(model, 5000),
    5000,
    k,
    m,
    0.05,
  );
  assert.equal(j.ok, true, JSON.stringify(j));
  // The model reached 14 at 4,932 ms, where the kernel's runs had not by 5 s: at least 68
  // ms ahead, within 5 % of 5 s (250 ms).
  assert.equal(j.leadMs, 68);
  assert.equal(j.limitMs, 250);
});

test('judgeByClock: a model whose clock runs 10 % fast fails, though its value is only 1-2 full scans off', () => {
  const kernel = kernelCourse(4400);
  // The model's time t shows what the kernel showed at 1.1 t.
  const model = kernel.map((t) => t / 1.1);
  const m = valueAt(model, 5000);
  const j = judgeByClock([trace(kernel, 5000)], trace(model, 5000), 5000, valueAt(kernel, 5000), m, 0.05);
  assert.equal(j.ok, false, JSON.stringify(j));
  assert.ok(j.leadMs > 250, `lead ${j.leadMs} ms`);
});

test('judgeByClock: a model whose clock runs 10 % slow fails too', () => {
  const kernel = kernelCourse(4400);
  const model = kernel.map((t) => t * 1.1);
  // At 5.5 s the kernel has run its all-skipped passes (22), the model not yet pass 14 (13).
  const [k, m] = [valueAt(kernel, 5500), valueAt(model, 5500)];
  assert.deepEqual([k, m], [22, 13]);
  const j = judgeByClock([trace(kernel, 5500)], trace(model, 5500), 5500, k, m, 0.05);
  assert.equal(j.ok, false, JSON.stringify(j));
  // The kernel reached 14 at 5,016 ms: the model is at least 484 ms behind, beyond 275.
  assert.deepEqual([j.leadMs, j.limitMs], [-484, 275]);
});

test('judgeByClock: one pass of 4.9 s (the defaults) - the model ending it 100 ms before the record agrees, 300 ms does not', () => {
  const kernels = [[5100], [5300], [5200]].map((c) => trace(c, 5000));
  const early = judgeByClock(kernels, trace([4900], 5000), 5000, 0, 1, 0.05);
  assert.deepEqual([early.ok, early.leadMs], [true, 100]);
  const tooEarly = judgeByClock(kernels, trace([4700], 5000), 5000, 0, 1, 0.05);
  assert.deepEqual([tooEarly.ok, tooEarly.leadMs], [false, 300]);
});

test('judgeByClock: the kernel median is the middle run, in value and in time', () => {
  // Runs reach 1 at 4,000, 4,900 and never: the median reached it at 4,900.
  const kernels = [trace([4000], 5000), trace([4900], 5000), trace([], 5000)];
  const same = judgeByClock(kernels, trace([4880], 5000), 5000, 1, 1, 0.05);
  assert.deepEqual([same.ok, same.leadMs, same.kernelEarlier], [true, 20, 0]);
  // A model that never got there: behind the median by 100 ms (it reached 1 at 4,900), within 250.
  const behind = judgeByClock(kernels, trace([], 5000), 5000, 1, 0, 0.05);
  assert.deepEqual([behind.ok, behind.leadMs], [true, -100]);
  // Had the median reached it at 4,000 (two runs), a model without it is 1,000 ms behind.
  const two = [trace([4000], 5000), trace([4000], 5000), trace([], 5000)];
  const late = judgeByClock(two, trace([], 5000), 5000, 1, 0, 0.05);
  assert.deepEqual([late.ok, late.leadMs], [false, -1000]);
});

test('judgeByClock: equal values always agree', () => {
  const j = judgeByClock([trace([100, 200], 500)], trace([440, 480], 500), 500, 2, 2, 0.05);
  assert.deepEqual([j.ok, j.level], [true, true]);
  assert.equal(j.leadMs, 200 - 480);
});
