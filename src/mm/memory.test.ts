/**
 * Faults of mm/memory.c: do_anonymous_page, do_wp_page (wp_can_reuse_anon_folio,
 * wp_page_reuse, wp_page_copy). Expected behaviour from Linux 6.18's mm/memory.c: a read of
 * an untouched anonymous page maps the shared zero page read-only and counts no RSS; a write
 * to a write-protected exclusive anonymous page reuses it in place; a page still shared
 * (refcount > 1) is copied; a KSM page is always copied, even with one mapping left, and
 * counts cow_ksm. Where mm_forbids_zeropage holds, do_anonymous_page skips the zero page and
 * allocates on a read as on a write, and makes the PTE from the VMA's flags: writable and
 * dirty in a writable mapping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { PG_anon_exclusive, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_SPECIAL } from './constants.ts';
import type { MemoryManager } from './memory_manager.ts';
import type { MmStruct } from './mm_struct.ts';
import { doMmap } from './mmap.ts';
import { exitTask, forkTask, spawnTask } from './process.ts';
import { testMm } from './testing.ts';
import { readUser, writeUser } from './uaccess.ts';
import { mmVerify, mmVerifyNoLeaks } from './verify.ts';

const pte = (mm: MmStruct, addr: number) => ({
  pfn: mm.pgtable.pfn(addr / PAGE_SIZE),
  flags: mm.pgtable.flags(addr / PAGE_SIZE),
});
const read1 = (mmgr: MemoryManager, mm: MmStruct, addr: number): number => {
  let byte = -1;
  assert.equal(
    readUser(mmgr, mm, addr, 1, (buf, off) => {
      byte = buf[off]!;
    }),
    0,
  );
  return byte;
};

/** A process with one private page written with `byte` at offset 0. */
function onePage(byte = 1) {
  const mmgr = testMm();
  const t = spawnTask(mmgr, 'a');
  const addr = doMmap(mmgr, t.mm, PAGE_SIZE);
  assert.equal(writeUser(mmgr, t.mm, addr, Uint8Array.of(byte)), 0);
  return { mmgr, t, addr };
}

test('doAnonymousPage: a read fault maps the shared zero page read-only, without RSS', () => {
  const mmgr = testMm();
  const t = spawnTask(mmgr, 'a');
  const addr = doMmap(mmgr, t.mm, 2 * PAGE_SIZE);
  assert.equal(read1(mmgr, t.mm, addr), 0);
  const p = pte(t.mm, addr);
  assert.equal(p.pfn, mmgr.frames.zeroPfn);
  assert.equal(
    p.flags & (_PAGE_PRESENT | _PAGE_SPECIAL | _PAGE_RW | _PAGE_DIRTY),
    _PAGE_PRESENT | _PAGE_SPECIAL,
    'present, special, not writable, and clean: a dirty zero-page PTE is the KSM marker',
  );
  assert.equal(t.mm.rssAnon, 0);
  // A later write copies from the zero page (wp_page_copy) into a new exclusive page.
  assert.equal(writeUser(mmgr, t.mm, addr + 5, Uint8Array.of(9)), 0);
  const w = pte(t.mm, addr);
  assert.notEqual(w.pfn, mmgr.frames.zeroPfn);
  assert.equal(w.flags & _PAGE_RW, _PAGE_RW);
  assert.equal(t.mm.rssAnon, 1);
  assert.equal(read1(mmgr, t.mm, addr), 0);
  assert.equal(read1(mmgr, t.mm, addr + 5), 9);
  mmVerify(mmgr);
});

test('doAnonymousPage: where the zero page is forbidden, a read fault allocates a writable page of its own', () => {
  const mmgr = testMm(true);
  const t = spawnTask(mmgr, 'a');
  const addr = doMmap(mmgr, t.mm, 2 * PAGE_SIZE);
  assert.equal(read1(mmgr, t.mm, addr), 0);
  assert.equal(read1(mmgr, t.mm, addr + PAGE_SIZE), 0);
  const first = pte(t.mm, addr);
  const second = pte(t.mm, addr + PAGE_SIZE);
  assert.notEqual(first.pfn, mmgr.frames.zeroPfn);
  assert.notEqual(first.pfn, second.pfn, 'each read its own frame');
  assert.equal(
    first.flags & (_PAGE_PRESENT | _PAGE_SPECIAL | _PAGE_RW | _PAGE_DIRTY),
    _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY,
  );
  assert.equal(mmgr.frames.flags[first.pfn]! & PG_anon_exclusive, PG_anon_exclusive);
  assert.equal(t.mm.rssAnon, 2);
  // The write that follows needs no fault: the same frame, written in place.
  const faults = mmgr.vmstat.pgfault;
  assert.equal(writeUser(mmgr, t.mm, addr + 5, Uint8Array.of(9)), 0);
  assert.equal(mmgr.vmstat.pgfault, faults);
  assert.equal(pte(t.mm, addr).pfn, first.pfn);
  assert.equal(read1(mmgr, t.mm, addr + 5), 9);
  mmVerify(mmgr);
  exitTask(mmgr, t);
  mmVerifyNoLeaks(mmgr);
});

test('doWpPage reuses an exclusive anonymous page in place once the other side of a fork has copied', () => {
  const { mmgr, t, addr } = onePage();
  const child = forkTask(mmgr, t);
  const shared = pte(t.mm, addr).pfn;
  // The child's write finds the page shared (refcount 2): wp_page_copy.
  assert.equal(writeUser(mmgr, child.mm, addr, Uint8Array.of(2)), 0);
  assert.notEqual(pte(child.mm, addr).pfn, shared);
  assert.equal(mmgr.frames.refcount[shared], 1);
  // The parent's PTE is still read-only, but the page is its alone now: reused, no copy.
  assert.equal(pte(t.mm, addr).flags & _PAGE_RW, 0);
  assert.equal(writeUser(mmgr, t.mm, addr, Uint8Array.of(3)), 0);
  assert.equal(pte(t.mm, addr).pfn, shared, 'the same frame, made writable (wp_page_reuse)');
  assert.equal(pte(t.mm, addr).flags & _PAGE_RW, _PAGE_RW);
  assert.notEqual(mmgr.frames.flags[shared]! & PG_anon_exclusive, 0, 'AnonExclusive again');
  assert.deepEqual([read1(mmgr, t.mm, addr), read1(mmgr, child.mm, addr)], [3, 2]);
  mmVerify(mmgr);
});

test('doWpPage always copies a KSM page, even with a single mapping, and counts cow_ksm', () => {
  const { mmgr, t, addr } = onePage(7);
  const pfn = pte(t.mm, addr).pfn;
  // What KSM's write_protect_page and replace_page leave: a read-only PTE to a KSM folio
  // that is not AnonExclusive, here mapped once.
  mmgr.frames.setStableNode(pfn, { kpfn: pfn, id: 1, owner: mmgr });
  mmgr.frames.flags[pfn]! &= ~PG_anon_exclusive;
  t.mm.pgtable.setFlags(addr / PAGE_SIZE, t.mm.pgtable.flags(addr / PAGE_SIZE) & ~(_PAGE_RW | _PAGE_DIRTY));
  assert.equal(mmgr.frames.refcount[pfn], 1);
  assert.equal(writeUser(mmgr, t.mm, addr + 1, Uint8Array.of(8)), 0);
  assert.notEqual(pte(t.mm, addr).pfn, pfn, 'copied, not reused');
  assert.equal(mmgr.vmstat.cow_ksm, 1);
  assert.ok(mmgr.frames.isFree(pfn), 'the KSM page lost its last mapping and was freed');
  assert.deepEqual([read1(mmgr, t.mm, addr), read1(mmgr, t.mm, addr + 1)], [7, 8]);
  exitTask(mmgr, t);
  mmVerifyNoLeaks(mmgr);
});
