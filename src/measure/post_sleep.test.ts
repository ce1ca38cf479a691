import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  measurePostSleep,
  type PassReading,
  postSleepRow,
  REGION_PAGES,
  SEARCH_PART_UNIQUE_EVERY,
  TREE_SIZE_REGIONS,
  warmDrift,
} from './post_sleep.ts';

/** `n` passes' reading of `cpuMs` of ksmd's CPU in `wallMs`. */
const read = (cpuMs: number, wallMs = cpuMs, queuedMs = 0): PassReading => ({
  cpuNs: cpuMs * 1e6,
  wallNs: wallMs * 1e6,
  queuedNs: queuedMs * 1e6,
});

test('a row judges its passes against the mean of the warm readings on either side', () => {
  // 1,000-page batches: 20 a pass. Warm passes of 60 ms before and 70 ms after (8 each):
  // the warm pass is 65 ms, and passes of 67 ms cost 100 µs more a batch.
  const row = postSleepRow(1000, 5, [read(67, 167), read(67, 167)], read(8 * 60), read(8 * 70));
  assert.equal(REGION_PAGES / 1000, 20);
  assert.equal(row.warm_pass_cpu_ns, 65e6);
  assert.equal(row.extra_ns, 100_000);
  assert.deepEqual(row.extra_ns_each, [100_000, 100_000]);
  // (2 × 167 ms wall - 2 × 67 ms CPU) / 40 batches.
  assert.equal(row.slept_ns, 5e6);
  assert.equal(row.passes, 2);
});

test("a row keeps its passes' median, not a pass that cost a third more", () => {
  const warm = read(8 * 65);
  const row = postSleepRow(5000, 1, [read(66), read(88), read(67)], warm, warm);
  // 5,000-page batches: 4 a pass; the median pass of 67 ms is 2 ms over the warm 65.
  assert.equal(row.pass_cpu_ns, 67e6);
  assert.equal(row.extra_ns, 500_000);
  assert.deepEqual(row.extra_ns_each, [250_000, 5_750_000, 500_000]);
  assert.equal(row.queued_ms, 0);
});

test('warm drift is relative to the reading before', () => {
  assert.equal(warmDrift(read(100), read(106)), 0.06);
  assert.equal(warmDrift(read(100), read(95)), 0.05);
});

test("a row of another region counts that region's batches a pass", () => {
  // 2,000 pages in 100-page batches: 20 a pass, so 2 ms more a pass is 100 µs a batch.
  const warm = read(8 * 10);
  const row = postSleepRow(100, 20, [read(12, 412)], warm, warm, 2000);
  assert.equal(row.extra_ns, 100_000);
  assert.equal(row.slept_ns, 20e6);
});

test('a region that is not a whole number of batches is refused before the kernel is touched', async () => {
  const quiet = { lockWaitMs: 0, progress: () => undefined, warn: () => undefined };
  await assert.rejects(
    measurePostSleep(quiet, { regionPages: 1500, plan: [{ pages: 1000, sleeps: [20] }] }),
    /1500 pages is not a whole number of 1000-page batches/,
  );
  for (const uniqueEvery of [3, 0, 1.5])
    await assert.rejects(
      measurePostSleep(quiet, { regionPages: 2000, plan: [{ pages: 100, sleeps: [20] }], uniqueEvery }),
      new RegExp(`one page in ${uniqueEvery} unique does not divide 2000 pages`),
    );
  for (const minPasses of [0, 6, 2.5])
    await assert.rejects(
      measurePostSleep(quiet, { regionPages: 2000, plan: [{ pages: 100, sleeps: [20] }], minPasses }),
      new RegExp(`${minPasses} passes after each sleep is not a whole number from 1 to 5`),
    );
});

// The part per search is fitted on the few-unique region's rows against the random region
// of as many pages as it has unique ones (reload_tree.ts fitReload): without that region
// among those the calibration measures, the fit finds no pair and falls back to p = 0.
test('the calibration measures the random region the few-unique region is compared with', () => {
  assert.equal(REGION_PAGES % SEARCH_PART_UNIQUE_EVERY, 0);
  assert.ok(TREE_SIZE_REGIONS.includes(REGION_PAGES / SEARCH_PART_UNIQUE_EVERY));
});

test('a row of a region of few unique pages says so; a random one does not', () => {
  const warm = read(8 * 10);
  assert.equal(postSleepRow(100, 20, [read(12, 412)], warm, warm, 20_000, 10).unique_every, 10);
  assert.equal('unique_every' in postSleepRow(100, 20, [read(12, 412)], warm, warm, 2000), false);
});
