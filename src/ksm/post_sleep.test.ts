/**
 * The reload after a sleep (cost.ts postSleepNs): ksmd's batch after a sleep costs
 * min(pages_to_scan x postSleepPageNs, postSleepMaxNs) x (1 - exp(-slept / postSleepTauNs))
 * on top of its events, charged once per batch where the batch begins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser } from '../mm/uaccess.ts';
import { type CostModel, DEFAULT_COST, postSleepNs } from './cost.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';

const RELOAD = { postSleepPageNs: 2000, postSleepMaxNs: 1_000_000, postSleepTauNs: 20_000_000 };

test('postSleepNs: the batch reloads what it touches, capped, in the share the sleep lost', () => {
  // 100 pages x 2 us = 0.2 ms, under the 1 ms cap; a 20 ms sleep loses 1 - 1/e of it.
  assert.ok(Math.abs(postSleepNs(RELOAD, 20e6, 100) - 126_424.11) < 0.01);
  // 5,000 pages would be 10 ms: the cap, 1 ms, times the same share.
  assert.ok(Math.abs(postSleepNs(RELOAD, 20e6, 5000) - 632_120.56) < 0.01);
  // Before the first batch (no sleep known) all of it; without a sleep none of it.
  assert.equal(postSleepNs(RELOAD, Infinity, 5000), 1_000_000);
  assert.equal(postSleepNs(RELOAD, Infinity, 100), 200_000);
  assert.equal(postSleepNs(RELOAD, 0, 5000), 0);
  // A cost model without a reload (postSleepMaxNs 0, as old calibration files are read).
  assert.equal(postSleepNs({ ...RELOAD, postSleepMaxNs: 0 }, 20e6, 100), 0);
});

/** ksmd's CPU over one full scan of 40 random pages in batches of 10, after sleeps of `sleepMs`. */
function scanCpu(cost: CostModel, sleepMs: number): { cpuNs: number; batches: number } {
  const m = testMachine(cost);
  m.ksm.smartScan = false;
  m.ksm.pagesToScan = 10;
  m.ksm.sleepMillisecs = sleepMs;
  const t = spawnTask(m.mmgr, 'a');
  const len = 40 * PAGE_SIZE;
  const addr = doMmap(m.mmgr, t.mm, len);
  assert.equal(fillUser(m.mmgr, t.mm, addr, len, { kind: 'random', seed: 5n }, addr), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, len, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(2);
  return { cpuNs: m.ksm.cpuNs, batches: m.ksmd.batches };
}

test('ksmd charges each batch after a sleep min(pages_to_scan x postSleepPageNs, postSleepMaxNs) of reload', () => {
  const none = scanCpu(DEFAULT_COST, 20);
  // A share of 1 after any sleep (tau 1 ns): 10 pages x 3 us = 30 us a batch, under the cap.
  const cold = scanCpu({ ...DEFAULT_COST, postSleepPageNs: 3000, postSleepMaxNs: 1e9, postSleepTauNs: 1 }, 20);
  assert.equal(cold.batches, none.batches);
  assert.ok(none.batches >= 8);
  assert.equal(cold.cpuNs - none.cpuNs, cold.batches * 30_000);
  // The cap: 10 pages x 3 us would be 30 us, the cap is 12 us.
  const capped = scanCpu({ ...DEFAULT_COST, postSleepPageNs: 3000, postSleepMaxNs: 12_000, postSleepTauNs: 1 }, 20);
  assert.equal(capped.cpuNs - none.cpuNs, capped.batches * 12_000);
});

test('ksmd at sleep_millisecs 0 does not sleep between batches, so only its first batch reloads', () => {
  const none = scanCpu(DEFAULT_COST, 0);
  const cold = scanCpu({ ...DEFAULT_COST, postSleepPageNs: 3000, postSleepMaxNs: 1e9, postSleepTauNs: 1 }, 0);
  assert.equal(cold.cpuNs - none.cpuNs, 30_000);
});
