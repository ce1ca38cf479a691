/** The timed comparison's measuring: which kernel runs are disturbed, and ksmd's CPU on both sides. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { disturbedRun, type KernelTimedRun, timedCpu } from './timed.ts';
import { DEFAULT_TOLERANCE } from './tolerance.ts';

test('a kernel run is disturbed when ksmd waited for a CPU, or when other work kept the CPUs busy, beyond their shares', () => {
  const clock = { runtimeAtStartNs: 0, waitedMs: 5000, queuedNs: 0, othersBusyMs: 0, ranNs: 0 };
  assert.equal(disturbedRun(clock, DEFAULT_TOLERANCE, 2), false);
  // 1 % of 5 s of waits is 50 ms of ksmd's run-queue wait; 5 % is 250 ms of others' CPU.
  assert.equal(disturbedRun({ ...clock, queuedNs: 50e6 }, DEFAULT_TOLERANCE, 2), false);
  assert.equal(disturbedRun({ ...clock, queuedNs: 51e6 }, DEFAULT_TOLERANCE, 2), true);
  assert.equal(disturbedRun({ ...clock, othersBusyMs: 250 }, DEFAULT_TOLERANCE, 2), false);
  assert.equal(disturbedRun({ ...clock, othersBusyMs: 251 }, DEFAULT_TOLERANCE, 2), true);
  // A short wait: 5 % of 200 ms is 10 ms, one tick of /proc/stat; 3 ticks on each of 2 CPUs
  // is the least that counts.
  const short = { ...clock, waitedMs: 200 };
  assert.equal(disturbedRun({ ...short, othersBusyMs: 60 }, DEFAULT_TOLERANCE, 2), false);
  assert.equal(disturbedRun({ ...short, othersBusyMs: 61 }, DEFAULT_TOLERANCE, 2), true);
  assert.equal(disturbedRun({ ...short, othersBusyMs: 61 }, DEFAULT_TOLERANCE, 4), false);
  // Not measured: only ksmd's own wait decides; no timed wait: nothing to disturb.
  assert.equal(disturbedRun({ ...clock, othersBusyMs: undefined }, DEFAULT_TOLERANCE, 2), false);
  assert.equal(disturbedRun({ ...clock, waitedMs: 0, othersBusyMs: 1e6 }, DEFAULT_TOLERANCE, 2), false);
});

test("timedCpu: ksmd's CPU of every undisturbed run and the model's, or nothing where a run could not read it", () => {
  const run = (ranNs: number | undefined, waitedMs = 5000): KernelTimedRun => ({
    run: { scenario: 'cell', backend: 'kernel', ok: true, records: [], expects: [], calls: [] },
    clock: { runtimeAtStartNs: 0, waitedMs, queuedNs: 0, othersBusyMs: 0, ranNs },
    disturbed: false,
  });
  assert.deepEqual(timedCpu([run(24e6), run(25e6)], 22e6), { kernelNs: [24e6, 25e6], modelNs: 22e6 });
  assert.equal(timedCpu([run(24e6), run(undefined)], 22e6), undefined);
  // A run that waited for nothing measured nothing.
  assert.equal(timedCpu([run(0, 0)], 0), undefined);
  assert.equal(timedCpu([], 22e6), undefined);
});
