import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_DONTNEED, _PAGE_RW } from './constants.ts';
import { KernelBug } from './kernel_bug.ts';
import { doMadvise } from './madvise.ts';
import type { MemoryManager } from './memory_manager.ts';
import { doMmap, doMunmap } from './mmap.ts';
import { exitTask, forkTask, spawnTask } from './process.ts';
import { fillUser, readUser, writeUser } from './uaccess.ts';
import { mmVerify, mmVerifyNoLeaks } from './verify.ts';
import { testMm } from './testing.ts';

/** A process with a private 4-page region: 3 pages filled, the 4th read (the zero page). */
function busy(mmgr: MemoryManager) {
  const t = spawnTask(mmgr, 'a');
  const priv = doMmap(mmgr, t.mm, 4 * PAGE_SIZE);
  assert.equal(fillUser(mmgr, t.mm, priv, 3 * PAGE_SIZE, { kind: 'byte', byte: 7 }, priv), 0);
  assert.equal(
    readUser(mmgr, t.mm, priv + 3 * PAGE_SIZE, 10, () => {}),
    0,
  );
  return { t, priv };
}

test('mmVerify accepts spawn, mmap, fill, fork, COW write, DONTNEED, munmap and exit', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  mmVerify(mmgr);
  const child = forkTask(mmgr, t);
  mmVerify(mmgr);
  assert.equal(writeUser(mmgr, child.mm, priv + 5, new Uint8Array([1, 2, 3])), 0);
  mmVerify(mmgr);
  assert.equal(doMadvise(mmgr, t.mm, priv, 2 * PAGE_SIZE, MADV_DONTNEED), 0);
  mmVerify(mmgr);
  assert.equal(doMunmap(mmgr, child.mm, priv + PAGE_SIZE, PAGE_SIZE), 0);
  mmVerify(mmgr);
  exitTask(mmgr, t);
  mmVerify(mmgr);
  exitTask(mmgr, child);
  mmVerify(mmgr);
  mmVerifyNoLeaks(mmgr);
});

test('mmVerify throws on a refcount that counts a pin nobody holds', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  const pfn = t.mm.pgtable.pfn(priv / PAGE_SIZE);
  mmgr.frames.getPage(pfn);
  assert.throws(
    () => mmVerify(mmgr),
    (e: unknown) => e instanceof KernelBug && /refcount 2/.test(e.message),
  );
});

test('mmVerify throws on a writable PTE to an anon page shared after fork', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  forkTask(mmgr, t);
  const vpn = priv / PAGE_SIZE;
  t.mm.pgtable.setFlags(vpn, t.mm.pgtable.flags(vpn) | _PAGE_RW);
  assert.throws(
    () => mmVerify(mmgr),
    (e: unknown) => e instanceof KernelBug && /writable PTE maps an anon page with refcount 2/.test(e.message),
  );
});

test('mmVerify throws on an rss counter off by one', () => {
  const mmgr = testMm();
  const { t } = busy(mmgr);
  t.mm.rssAnon++;
  assert.throws(
    () => mmVerify(mmgr),
    (e: unknown) => e instanceof KernelBug && /rssAnon 4 but 3/.test(e.message),
  );
});

test('mmVerify throws on a PTE outside every VMA', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  const pfn = t.mm.pgtable.pfn(priv / PAGE_SIZE);
  t.mm.vmas[0]!.vmStart += PAGE_SIZE;
  assert.ok(pfn > 0);
  assert.throws(
    () => mmVerify(mmgr),
    (e: unknown) => e instanceof KernelBug && /outside every VMA/.test(e.message),
  );
});

test('mmVerify throws on a content reference that no frame holds', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  mmgr.contents.retain(mmgr.frames.content[t.mm.pgtable.pfn(priv / PAGE_SIZE)]!);
  assert.throws(
    () => mmVerify(mmgr),
    (e: unknown) => e instanceof KernelBug && /^content \d+ has refcount 4 but 3 frames/.test(e.message),
  );
});

test('mmVerifyNoLeaks throws when a frame outlives every task', () => {
  const mmgr = testMm();
  const { t, priv } = busy(mmgr);
  const pfn = t.mm.pgtable.pfn(priv / PAGE_SIZE);
  mmgr.frames.getPage(pfn);
  exitTask(mmgr, t);
  assert.throws(
    () => mmVerifyNoLeaks(mmgr),
    (e: unknown) => e instanceof KernelBug && new RegExp(`frame ${pfn} leaked`).test(e.message),
  );
});

// Linux's shmem fault returns the folio with a reference of its own, which the new PTE keeps
// (finish_fault); the page cache holds another. The model's shmemFault takes none for the
// PTE when it allocates the page, so the first zap frees a page the object still caches.
test('shmemFault takes a reference for the PTE of a newly allocated shmem page', () => {
  const mmgr = testMm();
  const t = spawnTask(mmgr, 'a');
  const shared = doMmap(mmgr, t.mm, PAGE_SIZE, { shared: true });
  assert.equal(writeUser(mmgr, t.mm, shared, new Uint8Array([9])), 0);
  const pfn = t.mm.pgtable.pfn(shared / PAGE_SIZE);
  assert.equal(mmgr.frames.refcount[pfn], 2, 'one reference for the shmem object, one for the PTE');
  mmVerify(mmgr);
  // DONTNEED must not lose shared data: the object still holds the page.
  assert.equal(doMadvise(mmgr, t.mm, shared, PAGE_SIZE, MADV_DONTNEED), 0);
  let byte = -1;
  assert.equal(
    readUser(mmgr, t.mm, shared, 1, (b, o) => {
      byte = b[o]!;
    }),
    0,
  );
  assert.equal(byte, 9);
  exitTask(mmgr, t);
  mmVerifyNoLeaks(mmgr);
});
