import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE, MADV_UNMERGEABLE } from '../mm/constants.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { exitTask, forkTask, spawnTask } from '../mm/process.ts';
import { fillUser, writeUser } from '../mm/uaccess.ts';
import { mmVerify, mmVerifyNoLeaks } from '../mm/verify.ts';
import { ksmRunStore } from './run.ts';
import { ksmVerify } from './verify.ts';
import { testMachine } from './testing.ts';

/** One process, 8 pages MADV_MERGEABLE: 4 of byte 1, 2 alternating, 2 zero; merged by 2 scans. */
function merged() {
  const m = testMachine();
  const t = spawnTask(m.mmgr, 'a');
  const addr = doMmap(m.mmgr, t.mm, 8 * PAGE_SIZE);
  assert.equal(fillUser(m.mmgr, t.mm, addr, 4 * PAGE_SIZE, { kind: 'byte', byte: 1 }, addr), 0);
  assert.equal(
    fillUser(m.mmgr, t.mm, addr + 4 * PAGE_SIZE, 2 * PAGE_SIZE, { kind: 'page-mod', period: 2, seed: 1n }, addr),
    0,
  );
  assert.equal(fillUser(m.mmgr, t.mm, addr + 6 * PAGE_SIZE, 2 * PAGE_SIZE, { kind: 'zero' }, addr), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, 8 * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(2);
  return { ...m, t, addr };
}

const bug =
  (re: RegExp) =>
  (e: unknown): boolean =>
    e instanceof KernelBug && re.test(e.message);

test('ksmVerify accepts a merged process, a fork, COW breaks, unmerge, exit and run=2', () => {
  const m = merged();
  assert.equal(m.ksm.pagesShared, 2);
  assert.equal(m.ksm.pagesSharing, 4);
  ksmVerify(m.ksm);
  mmVerify(m.mmgr);
  const child = forkTask(m.mmgr, m.t);
  ksmVerify(m.ksm);
  assert.equal(writeUser(m.mmgr, child.mm, m.addr + 1, new Uint8Array([5])), 0);
  assert.equal(writeUser(m.mmgr, m.t.mm, m.addr, new Uint8Array([5])), 0);
  ksmVerify(m.ksm);
  mmVerify(m.mmgr);
  m.scans(2);
  ksmVerify(m.ksm);
  mmVerify(m.mmgr);
  assert.equal(doMadvise(m.mmgr, m.t.mm, m.addr, 2 * PAGE_SIZE, MADV_UNMERGEABLE), 0);
  ksmVerify(m.ksm);
  exitTask(m.mmgr, m.t);
  ksmVerify(m.ksm);
  mmVerify(m.mmgr);
  m.scans(1);
  ksmVerify(m.ksm);
  exitTask(m.mmgr, child);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 2), 0);
  ksmVerify(m.ksm);
  assert.equal(m.ksm.rmapItems, 0);
  mmVerifyNoLeaks(m.mmgr);
});

test('ksmVerify accepts a state in the middle of a scan and zero-page merges', () => {
  const m = testMachine();
  m.ksm.useZeroPages = true;
  m.ksm.pagesToScan = 3;
  const t = spawnTask(m.mmgr, 'a');
  const addr = doMmap(m.mmgr, t.mm, 8 * PAGE_SIZE);
  assert.equal(fillUser(m.mmgr, t.mm, addr, 8 * PAGE_SIZE, { kind: 'page-mod', period: 2, seed: 1n }, addr), 0);
  assert.equal(fillUser(m.mmgr, t.mm, addr + 6 * PAGE_SIZE, 2 * PAGE_SIZE, { kind: 'zero' }, addr), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, 8 * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  for (let i = 0; i < 40; i++) {
    // Each event is one ksmd batch (or its end): check between every two.
    assert.ok(m.ksm.events.runNext(Number.POSITIVE_INFINITY));
    ksmVerify(m.ksm);
    mmVerify(m.mmgr);
  }
  assert.equal(m.ksm.zeroPages, 2);
  assert.equal(t.mm.ksmZeroPages, 2);
  exitTask(m.mmgr, t);
  ksmVerify(m.ksm);
});

test('ksmVerify throws on a corrupted pages_sharing', () => {
  const m = merged();
  m.ksm.pagesSharing++;
  assert.throws(() => ksmVerify(m.ksm), bug(/pages_shared 2 \+ pages_sharing 5 != 6 stable items/));
});

test('ksmVerify throws on a corrupted pages_unshared', () => {
  const m = merged();
  m.ksm.pagesUnshared++;
  assert.throws(() => ksmVerify(m.ksm), bug(/pages_unshared (\d+) but (?!\1)\d+ unstable items/));
});

test('ksmVerify throws on a corrupted per-mm ksm_merging_pages', () => {
  const m = merged();
  m.t.mm.ksmMergingPages--;
  assert.throws(() => ksmVerify(m.ksm), bug(/ksm_merging_pages 5 but 6 stable items/));
});

test('ksmVerify throws on a corrupted rmap_hlist_len', () => {
  const m = merged();
  const node = m.ksm.rootStableTree[0]!.rbNode!;
  node.rmapHlistLen++;
  assert.throws(() => ksmVerify(m.ksm), bug(/rmap_hlist_len \d but \d items on its hlist/));
});

test('ksmVerify throws on a corrupted stable_node_chains', () => {
  const m = merged();
  m.ksm.stableNodeChains = 1;
  assert.throws(() => ksmVerify(m.ksm), bug(/stable_node_chains 1 but the trees hold 0 chains/));
});

test('ksmVerify throws on a corrupted ksm_zero_pages', () => {
  const m = merged();
  m.ksm.zeroPages++;
  assert.throws(() => ksmVerify(m.ksm), bug(/ksm_zero_pages 1 but the mms' ksm_zero_pages sum to 0/));
});

test('ksmVerify throws on an rmap_item with both tree flags', () => {
  const m = merged();
  const first = m.ksm.items.rmapList[m.ksm.slots.get(m.t.mm)!.head]!;
  m.ksm.items.flags[first]! |= 0x100;
  assert.throws(() => ksmVerify(m.ksm), bug(/both STABLE_FLAG and UNSTABLE_FLAG/));
});
