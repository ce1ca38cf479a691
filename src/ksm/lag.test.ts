import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { exitTask, forkTask, spawnTask } from '../mm/process.ts';
import { fillUser, writeUser } from '../mm/uaccess.ts';
import { ksmLag } from './lag.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';

const SETTLED = { unattached: 0, unattachedUnscanned: 0, stale: 0 };

test('ksmLag: a fork leaves the child unattached, a CoW break and an exit leave items stale, until ksmd visits', () => {
  const m = testMachine();
  const p = spawnTask(m.mmgr, 'p');
  const addr = doMmap(m.mmgr, p.mm, 6 * PAGE_SIZE);
  // Four pages of one content, two zero pages: two KSM pages of 4 and 2 mappings.
  assert.equal(fillUser(m.mmgr, p.mm, addr, 4 * PAGE_SIZE, { kind: 'byte', byte: 1 }, addr), 0);
  assert.equal(fillUser(m.mmgr, p.mm, addr + 4 * PAGE_SIZE, 2 * PAGE_SIZE, { kind: 'zero' }, addr), 0);
  assert.equal(doMadvise(m.mmgr, p.mm, addr, 6 * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(2);
  assert.equal(m.ksm.pagesSharing, 4);
  assert.deepEqual(ksmLag(m.ksm), SETTLED);
  // The child maps all six pages at once; it has no rmap_item until ksmd scans it.
  const c = forkTask(m.mmgr, p);
  assert.deepEqual(ksmLag(m.ksm), { unattached: 0, unattachedUnscanned: 6, stale: 0 });
  // The parent's write copies page 0: its item there still names the KSM page.
  assert.equal(writeUser(m.mmgr, p.mm, addr, new Uint8Array([7])), 0);
  assert.deepEqual(ksmLag(m.ksm), { unattached: 0, unattachedUnscanned: 6, stale: 1 });
  m.scans(2);
  assert.deepEqual(ksmLag(m.ksm), SETTLED);
  // The child's six items stay on the stable nodes until ksmd reaches its slot.
  exitTask(m.mmgr, c);
  assert.deepEqual(ksmLag(m.ksm), { unattached: 0, unattachedUnscanned: 0, stale: 6 });
  m.scans(1);
  assert.deepEqual(ksmLag(m.ksm), SETTLED);
  exitTask(m.mmgr, p);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 2), 0);
});

// The case of test/fixtures/attribution/cow-merged-in-place.yaml, whose figures the live
// kernel gave (Linux 6.18): at a full-scan boundary the parent maps a KSM page twice with
// one rmap_item, so pages_sharing is 1 while the page has three mappings.
test('ksmLag: a page a parent shares with its child, merged in place through the child, leaves the parent unattached', () => {
  const m = testMachine();
  const p = spawnTask(m.mmgr, 'p');
  const addr = doMmap(m.mmgr, p.mm, 2 * PAGE_SIZE);
  assert.equal(doMadvise(m.mmgr, p.mm, addr, 2 * PAGE_SIZE, MADV_MERGEABLE), 0);
  // Page 1 alone for five passes: smart_scan then skips it every other visit.
  assert.equal(fillUser(m.mmgr, p.mm, addr + PAGE_SIZE, PAGE_SIZE, { kind: 'random', seed: 3n }, addr), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(5);
  assert.equal(fillUser(m.mmgr, p.mm, addr, 2 * PAGE_SIZE, { kind: 'page-mod', period: 1, seed: 1n }, addr), 0);
  forkTask(m.mmgr, p);
  m.scans(2);
  assert.equal(m.ksm.pagesShared, 1);
  assert.equal(m.ksm.pagesSharing, 1);
  assert.equal(p.mm.ksmMergingPages, 1);
  assert.deepEqual(ksmLag(m.ksm), { unattached: 1, unattachedUnscanned: 0, stale: 0 });
  m.scans(1);
  assert.equal(m.ksm.pagesSharing, 3);
  assert.deepEqual(ksmLag(m.ksm), SETTLED);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 2), 0);
});
