/**
 * The reload after a sleep (cost.ts postSleepNs): ksmd's batch after a sleep costs
 * postSleepBatchNs x (1 - exp(-slept / postSleepBatchTauNs)) + min(pages_to_scan x
 * postSleepPageNs, postSleepMaxNs) x (1 - exp(-slept / postSleepTauNs)) on top of its events,
 * owed from where the batch begins and charged once, where it first searches the trees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser } from '../mm/uaccess.ts';
import {
  type CostModel,
  DEFAULT_COST,
  NO_RELOAD,
  postSleepNoTreeNs,
  postSleepNs,
  reloadTreeShare,
  searchReloadShare,
} from './cost.ts';
import type { ReloadLogEntry } from './ksm.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';

/** The shipped constants without their reload, which each test sets itself. */
const BASE: CostModel = { ...DEFAULT_COST, ...NO_RELOAD };
const RELOAD = { ...NO_RELOAD, postSleepPageNs: 2000, postSleepMaxNs: 1_000_000, postSleepTauNs: 20_000_000 };

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

test('postSleepNs: a fixed part, whatever the batch, lost in its own time', () => {
  const fixed = { ...RELOAD, postSleepBatchNs: 100_000, postSleepBatchTauNs: 5_000_000 };
  // 20 ms is 4 of the fixed part's 5 ms: 100 us x (1 - e^-4) = 98,168.44 ns, on top of the
  // per-page part's 126,424.11 ns.
  assert.ok(Math.abs(postSleepNs(fixed, 20e6, 100) - (98_168.44 + 126_424.11)) < 0.01);
  // 5 ms is one time constant: 100 us x (1 - 1/e) = 63,212.06 ns, and 2 us a page x 10 pages
  // x (1 - e^-0.25) = 4,423.98 ns.
  assert.ok(Math.abs(postSleepNs(fixed, 5e6, 10) - (63_212.06 + 4_423.98)) < 0.01);
  // Without the per-page part it is charged alone; without a sleep not at all.
  assert.ok(Math.abs(postSleepNs({ ...fixed, postSleepMaxNs: 0 }, 5e6, 10) - 63_212.06) < 0.01);
  assert.equal(postSleepNs(fixed, 0, 10), 0);
});

/**
 * ksmd's CPU over two full scans of 40 random pages in batches of 10, after sleeps of
 * `sleepMs`: its batches, those of the first scan, and those that paid a reload.
 */
function scanCpu(
  cost: CostModel,
  sleepMs: number,
): { cpuNs: number; batches: number; first: number; paid: number; noTree: number } {
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
  // The batches that pay their reload, each with the trees' size it met.
  const paid: ReloadLogEntry[] = [];
  m.ksm.reloadTreeLog = paid;
  m.scans(1);
  const first = m.ksmd.batches;
  m.scans(1);
  return { cpuNs: m.ksm.cpuNs, batches: m.ksmd.batches, first, paid: paid.length, noTree: m.ksm.noTreeBatches };
}

test('ksmd charges each batch that searches the trees after a sleep min(pages_to_scan x postSleepPageNs, postSleepMaxNs) of reload', () => {
  const none = scanCpu(BASE, 20);
  // A share of 1 after any sleep (tau 1 ns): 10 pages x 3 us = 30 us a batch, under the cap.
  const cold = scanCpu({ ...BASE, postSleepPageNs: 3000, postSleepMaxNs: 1e9, postSleepTauNs: 1 }, 20);
  assert.equal(cold.batches, none.batches);
  // The first scan's pages are first visits (a checksum, no search): its batches read no
  // tree and pay nothing. The second scan's four batches of 10 pages each search the
  // unstable tree and pay once; its fifth visits no page: it only ends the scan (ksmd
  // learns the list has ended at its next call, as the first scan's fifth batch did).
  assert.deepEqual([cold.first, cold.batches, cold.paid], [5, 10, 4]);
  assert.equal(cold.cpuNs - none.cpuNs, cold.paid * 30_000);
  // The cap: 10 pages x 3 us would be 30 us, the cap is 12 us.
  const capped = scanCpu({ ...BASE, postSleepPageNs: 3000, postSleepMaxNs: 12_000, postSleepTauNs: 1 }, 20);
  assert.equal(capped.cpuNs - none.cpuNs, capped.paid * 12_000);
  // The fixed part: 7 us a searching batch with a share of 1, whatever its pages.
  const fixed = scanCpu({ ...BASE, postSleepBatchNs: 7000, postSleepBatchTauNs: 1 }, 20);
  assert.equal(fixed.cpuNs - none.cpuNs, fixed.paid * 7000);
});

test('reloadTreeShare: the share of the reload grows with the trees to the whole of it at postSleepTreeNodes', () => {
  const tree = { postSleepTreeExp: 0.5, postSleepTreeNodes: 20_000 };
  assert.equal(reloadTreeShare(tree, 5_000), 0.5);
  assert.equal(reloadTreeShare(tree, 20_000), 1);
  // Beyond the largest trees measured it is not known to grow: all of it.
  assert.equal(reloadTreeShare(tree, 80_000), 1);
  assert.equal(reloadTreeShare(tree, 0), 0);
  // An exponent of 0 (files from before it): all of it, whatever the trees.
  assert.equal(reloadTreeShare({ ...tree, postSleepTreeExp: 0 }, 0), 1);
});

test('ksmd pays the share of its reload that the trees it searches give: their nodes and its budget', () => {
  const cold = { ...BASE, postSleepPageNs: 3000, postSleepMaxNs: 1e9, postSleepTauNs: 1 };
  const flat = scanCpu(cold, 20);
  const none = scanCpu(BASE, 20);
  // The second scan's batches k = 1..4 first search an unstable tree of (k - 1) x 10
  // nodes (the first scan's tree is gone, the pages are random, so no stable tree) and may
  // add their 10 pages: 10, 20, 30 and 40 nodes of 1,000, a share each of the 30 us.
  const grown = scanCpu({ ...cold, postSleepTreeExp: 1, postSleepTreeNodes: 1000 }, 20);
  assert.equal(grown.paid, flat.paid);
  assert.ok(Math.abs(grown.cpuNs - none.cpuNs - 30_000 * (0.01 + 0.02 + 0.03 + 0.04)) < 1e-6);
  // Trees of that size or more pay all of it, as without the share.
  const small = scanCpu({ ...cold, postSleepTreeExp: 1, postSleepTreeNodes: 10 }, 20);
  assert.equal(small.cpuNs, flat.cpuNs);
});

test('ksmd at sleep_millisecs 0 does not sleep between batches, so its searching batches owe no reload', () => {
  const none = scanCpu(BASE, 0);
  const cold = scanCpu({ ...BASE, postSleepPageNs: 3000, postSleepMaxNs: 1e9, postSleepTauNs: 1 }, 0);
  // Only the first batch follows a sleep (none known: all of it), and it searches no tree.
  assert.ok(cold.paid >= 4);
  assert.equal(cold.cpuNs - none.cpuNs, 0);
});

test('postSleepNoTreeNs: a batch of first visits reloads less, lost in its own time', () => {
  const c = { firstVisitNs: 0, postSleepNoTreeNs: 100_000, postSleepNoTreeTauNs: 20_000_000 };
  // 20 ms is one time constant: 100 us x (1 - 1/e).
  assert.ok(Math.abs(postSleepNoTreeNs(c, 20e6) - 63_212.06) < 0.01);
  assert.equal(postSleepNoTreeNs(c, Infinity), 100_000);
  assert.equal(postSleepNoTreeNs(c, 0), 0);
  assert.equal(postSleepNoTreeNs({ ...c, postSleepNoTreeNs: 0 }, 20e6), 0);
});

test('ksmd charges each first visit firstVisitNs, and a batch that takes checksums but searches no tree its no-tree reload', () => {
  const none = scanCpu(BASE, 20);
  // 40 pages, each allocated its rmap_item once.
  const first = scanCpu({ ...BASE, firstVisitNs: 500 }, 20);
  assert.equal(first.cpuNs - none.cpuNs, 40 * 500);
  // The first scan's four batches take checksums and search nothing: 9 us each (a share of
  // 1: tau 1 ns); the second scan's four take a checksum before they search, and pay it too,
  // since their tree reload (none here) is smaller. The fifth batch of each scan visits no page.
  const noTree = scanCpu({ ...BASE, postSleepNoTreeNs: 9000, postSleepNoTreeTauNs: 1 }, 20);
  assert.equal(noTree.cpuNs - none.cpuNs, 8 * 9000);
  assert.deepEqual([noTree.noTree, noTree.paid], [4, 4]);
  // With a tree reload of 7 us, a searching batch pays the larger of the two, once: the
  // first scan 4 x 3 us, the second 4 x 7 us.
  const both = scanCpu(
    { ...BASE, postSleepBatchNs: 7000, postSleepBatchTauNs: 1, postSleepNoTreeNs: 3000, postSleepNoTreeTauNs: 1 },
    20,
  );
  assert.equal(both.cpuNs - none.cpuNs, 4 * 3000 + 4 * 7000);
  assert.deepEqual([both.noTree, both.paid], [4, 4]);
});

test('searchReloadShare: a batch pays 1 - p of its tree reload at its first search and p / budget at each', () => {
  const part = { postSleepSearchPart: 0.6 };
  // 10 searches of a 100-page budget: 0.4 + 0.6 x 0.1.
  assert.ok(Math.abs(searchReloadShare(part, 10, 100) - 0.46) < 1e-12);
  assert.equal(searchReloadShare(part, 100, 100), 1);
  // p 0 (files from before it): all of it at the first search, whatever the searches.
  assert.equal(searchReloadShare({ postSleepSearchPart: 0 }, 10, 100), 1);
});

/**
 * ksmd's CPU over three full scans of 40 pages in batches of 10 after sleeps of 20 ms, the
 * even pages equal and the odd ones random, and the batches that paid a reload, each with
 * its searches.
 */
function mixedScanCpu(cost: CostModel): { cpuNs: number; paid: ReloadLogEntry[] } {
  const m = testMachine(cost);
  m.ksm.smartScan = false;
  m.ksm.pagesToScan = 10;
  m.ksm.sleepMillisecs = 20;
  const t = spawnTask(m.mmgr, 'a');
  const addr = doMmap(m.mmgr, t.mm, 40 * PAGE_SIZE);
  for (let i = 0; i < 40; i++) {
    const page = addr + i * PAGE_SIZE;
    const fill = i % 2 === 0 ? ({ kind: 'byte', byte: 0x5a } as const) : ({ kind: 'random', seed: BigInt(i) } as const);
    assert.equal(fillUser(m.mmgr, t.mm, page, PAGE_SIZE, fill, page), 0);
  }
  assert.equal(doMadvise(m.mmgr, t.mm, addr, 40 * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  const paid: ReloadLogEntry[] = [];
  m.ksm.reloadTreeLog = paid;
  m.scans(3);
  return { cpuNs: m.ksm.cpuNs, paid };
}

test('ksmd pays postSleepSearchPart of its tree reload per search: a batch that searches little pays less', () => {
  const none = mixedScanCpu(BASE);
  // A tree reload of 7 us a batch (the fixed part, a share of 1 after any sleep).
  const whole = { ...BASE, postSleepBatchNs: 7000, postSleepBatchTauNs: 1 };
  const atFirst = mixedScanCpu(whole);
  const perSearch = mixedScanCpu({ ...whole, postSleepSearchPart: 0.6 });
  // Scan 2's batches search for every page (the equal pages merge as they are met). In
  // scan 3 the equal pages are on their KSM page and return before the search
  // (cmp_and_merge_page), so each batch searches for its 5 random pages.
  assert.deepEqual(
    perSearch.paid.map((e) => e.searches),
    [10, 10, 10, 10, 5, 5, 5, 5],
  );
  assert.deepEqual(perSearch.paid, atFirst.paid);
  assert.equal(atFirst.cpuNs - none.cpuNs, 8 * 7000);
  // Scan 2 pays all of it, scan 3 0.4 + 0.6 x 5 / 10 of it.
  assert.ok(Math.abs(perSearch.cpuNs - none.cpuNs - (4 * 7000 + 4 * 7000 * 0.7)) < 1e-6);
});

test('a batch that did not sleep pays nothing per search, whatever the batch before it owed', () => {
  const cost = { ...BASE, postSleepBatchNs: 7000, postSleepBatchTauNs: 1, postSleepSearchPart: 1 };
  assert.equal(scanCpu(cost, 0).cpuNs, scanCpu(BASE, 0).cpuNs);
});
