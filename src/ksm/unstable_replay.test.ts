/**
 * Replayed full scans (unstable_replay.ts) against walked ones: the same machine run with
 * checkWalkCache (every call walks for real and is compared with the recording) and
 * without (calls replayed while they match) must leave the same counters and virtual CPU
 * time after every batch (deep unstable-tree steps included), through writes, unmaps,
 * merges, run=2 and smart_scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap, doMunmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser, writeUser } from '../mm/uaccess.ts';
import { type CostModel, DEFAULT_COST } from './cost.ts';
import { ksmRunStore } from './run.ts';
import { testMachine, type TestMachine } from './testing.ts';
import { ksmVerify } from './verify.ts';

const PAGES = 300;

/**
 * Every step below depth 4 of the 300-page tree (9 to 10 levels) charged a deep step as
 * well, each cost a different prime, so a replay that charged any event other than its walk
 * would leave a different CPU time. The reload after a sleep follows the trees' size
 * (trees of 997 nodes pay all of it), so a replay that built the tree at another time than
 * the walk would leave another CPU time too.
 */
const DEEP_COST: CostModel = {
  ...DEFAULT_COST,
  memcmpNs: 211,
  deepStepNs: 1009,
  deepFrom: 4,
  postSleepTreeExp: 0.7,
  postSleepTreeNodes: 997,
};

/** Runs ksmd batch by batch, calling `at(batch)` before each, and records the counters after each. */
function run(check: boolean, smartScan: boolean, at: (m: TestMachine, batch: number, addr: number) => void) {
  const m = testMachine(DEEP_COST);
  m.ksm.checkWalkCache = check;
  m.ksm.smartScan = smartScan;
  m.ksm.pagesToScan = 40;
  const t = spawnTask(m.mmgr, 'a');
  const addr = doMmap(m.mmgr, t.mm, PAGES * PAGE_SIZE);
  assert.equal(fillUser(m.mmgr, t.mm, addr, PAGES * PAGE_SIZE, { kind: 'random', seed: 8n }, addr), 0);
  // Every page's first 4 bytes the same, so bytes 4 to 7 decide the walks.
  for (let p = 0; p < PAGES; p += 2)
    assert.equal(writeUser(m.mmgr, t.mm, addr + p * PAGE_SIZE, Uint8Array.of(7, 7, 7, 7)), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, PAGES * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  const out: number[][] = [];
  for (let batch = 0; batch < 160; batch++) {
    at(m, batch, addr);
    m.events.runNext(Number.POSITIVE_INFINITY);
    const k = m.ksm;
    out.push([
      k.ksmScan.seqnr,
      k.pagesScanned,
      k.pagesUnshared,
      k.pagesShared,
      k.pagesSharing,
      k.pagesSkipped,
      k.rmapItems,
      k.cpuNs,
      m.events.clock.now(),
    ]);
    if (batch % 16 === 8) ksmVerify(k);
  }
  return { out, replayed: m.ksm.unstableReplay.replayed, checked: m.ksm.unstableReplay.checked };
}

const quiet = (): void => {};

/** Writes, an unmap, a duplicate page, and run=2 then run=1, at batches inside scans. */
const busy = (m: TestMachine, batch: number, addr: number): void => {
  const mm = m.mmgr.frames && [...m.ksm.slots.keys()][0];
  if (mm === undefined) return;
  // Pages already in this scan's tree get new contents: their walk-cache entries go stale.
  if (batch === 33) assert.equal(fillUser(m.mmgr, mm, addr, 24 * PAGE_SIZE, { kind: 'random', seed: 9n }, addr), 0);
  if (batch === 70) assert.equal(doMunmap(m.mmgr, mm, addr + 250 * PAGE_SIZE, 3 * PAGE_SIZE), 0);
  if (batch === 95) {
    // Page 30 becomes a copy of page 31: they merge through the unstable tree.
    const copy = new Uint8Array(PAGE_SIZE);
    const src = m.mmgr.contents;
    const id = m.mmgr.frames.content[mm.pgtable.pfn(addr / PAGE_SIZE + 31)]!;
    copy.set(src.bufferOf(id).subarray(src.offsetOf(id), src.offsetOf(id) + PAGE_SIZE));
    assert.equal(writeUser(m.mmgr, mm, addr + 30 * PAGE_SIZE, copy), 0);
  }
  if (batch === 120) {
    assert.equal(ksmRunStore(m.ksm, m.ksmd, 2), 0);
    assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  }
};

for (const smartScan of [false, true]) {
  for (const [name, at] of [
    ['unchanged memory', quiet],
    ['writes, an unmap, a merge and run=2 inside scans', busy],
  ] as const) {
    test(`replayed scans leave the counters and CPU time of walked ones: ${name} (smart_scan ${smartScan ? 1 : 0})`, () => {
      const walked = run(true, smartScan, at);
      const replayed = run(false, smartScan, at);
      // Changes inside scans cut replays short (each one builds the trees and walks on).
      const least = at === quiet ? PAGES : 20;
      assert.ok(replayed.replayed > least, `only ${replayed.replayed} calls were replayed`);
      assert.ok(walked.checked > least, `only ${walked.checked} replayable calls were checked`);
      assert.equal(walked.replayed, 0);
      assert.deepEqual(replayed.out, walked.out);
    });
  }
}
