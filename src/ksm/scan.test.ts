/**
 * ksmd's walker: visits of pages that are already the KSM page of their rmap_item are made
 * inside scan_get_next_rmap_item (settleRun) when the batch has room for them. With
 * pages_to_scan 1 a batch never has room, so every visit goes through cmp_and_merge_page
 * as in Linux: both must leave the same counters after every full scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE, MADV_UNMERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap, doMunmap } from '../mm/mmap.ts';
import { exitTask, forkTask, spawnTask } from '../mm/process.ts';
import { fillUser, writeUser } from '../mm/uaccess.ts';
import { mmVerify } from '../mm/verify.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';
import { ksmVerify } from './verify.ts';

const PAGES = 96;

/** Counters after each of 12 full scans of a machine that merges, forks, writes, unmaps and exits. */
function history(pagesToScan: number, smartScan: boolean, maxPageSharing: number) {
  const m = testMachine();
  m.ksm.checkWalkCache = true;
  m.ksm.pagesToScan = pagesToScan;
  // No sleep: the run's virtual time then hardly depends on the batch size, and chain
  // pruning (every 2 s of virtual time) never happens in either run.
  m.ksm.sleepMillisecs = 0;
  m.ksm.smartScan = smartScan;
  m.ksm.maxPageSharing = maxPageSharing;
  const parent = spawnTask(m.mmgr, 'parent');
  const addr = doMmap(m.mmgr, parent.mm, PAGES * PAGE_SIZE);
  assert.equal(
    fillUser(m.mmgr, parent.mm, addr, (PAGES / 2) * PAGE_SIZE, { kind: 'page-mod', period: 5, seed: 3n }, addr),
    0,
  );
  const tail = addr + (PAGES / 2) * PAGE_SIZE;
  assert.equal(fillUser(m.mmgr, parent.mm, tail, (PAGES / 2) * PAGE_SIZE, { kind: 'random', seed: 4n }, tail), 0);
  assert.equal(doMadvise(m.mmgr, parent.mm, addr, PAGES * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  const out: number[][] = [];
  const record = (): void => {
    ksmVerify(m.ksm);
    mmVerify(m.mmgr);
    const k = m.ksm;
    out.push([k.pagesShared, k.pagesSharing, k.pagesUnshared, k.rmapItems, k.pagesScanned, k.pagesSkipped]);
    out.push([k.stableNodeChains, k.stableNodeDups, parent.mm.ksmMergingPages, parent.mm.ksmRmapItems]);
  };
  m.scans(3);
  record();
  const children = [forkTask(m.mmgr, parent), forkTask(m.mmgr, parent)];
  for (let i = 0; i < 4; i++) {
    m.scans(1);
    record();
  }
  // A write breaks a KSM page in a child; an unmap drops pages from the middle of the
  // parent's list (a whole period, so the page after the hole has the content of the
  // first page unmapped, whose item is now stale); MADV_UNMERGEABLE unmerges a range of
  // the other child.
  assert.equal(writeUser(m.mmgr, children[0]!.mm, addr + 3 * PAGE_SIZE + 7, Uint8Array.of(1, 2)), 0);
  assert.equal(doMunmap(m.mmgr, parent.mm, addr + 10 * PAGE_SIZE, 5 * PAGE_SIZE), 0);
  assert.equal(doMadvise(m.mmgr, children[1]!.mm, addr + 20 * PAGE_SIZE, 8 * PAGE_SIZE, MADV_UNMERGEABLE), 0);
  for (let i = 0; i < 3; i++) {
    m.scans(1);
    record();
  }
  exitTask(m.mmgr, children[0]!);
  for (let i = 0; i < 2; i++) {
    m.scans(1);
    record();
  }
  return { out, settled: m.ksm.settledVisits };
}

for (const smartScan of [false, true]) {
  for (const maxPageSharing of [256, 3]) {
    test(`visits settled in the walker leave the counters of visits one by one (smart_scan ${smartScan ? 1 : 0}, max_page_sharing ${maxPageSharing})`, () => {
      const one = history(1, smartScan, maxPageSharing);
      const many = history(10_000, smartScan, maxPageSharing);
      assert.equal(one.settled, 0, 'a batch of one page has no room for settled visits');
      assert.ok(many.settled > PAGES, `the walker settled only ${many.settled} visits`);
      assert.deepEqual(many.out, one.out);
    });
  }
}
