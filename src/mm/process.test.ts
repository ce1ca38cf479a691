/**
 * fork and exec as they touch memory. Expected behaviour from Linux 6.18: copy_present_pte
 * (mm/memory.c) write-protects a private writable PTE in both parent and child and shares
 * the page (one more reference and mapping, AnonExclusive cleared), while the PTEs of a
 * shared mapping are not copied at all (vma_needs_copy); dup_mm and exec's mm_alloc carry MMF_INIT_LEGACY_MASK, which holds
 * MMF_VM_MERGE_ANY but not MMF_VM_MERGEABLE (include/linux/mm_types.h), so MERGE_ANY
 * survives fork and exec while registration with KSM is redone by ksm_fork/ksm_execve.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MMF_VM_MERGEABLE, MMF_VM_MERGE_ANY, PG_anon_exclusive, _PAGE_PRESENT, _PAGE_RW } from './constants.ts';
import { doMmap } from './mmap.ts';
import { execTask, forkTask, spawnTask } from './process.ts';
import { testMm } from './testing.ts';
import { fillUser, readUser } from './uaccess.ts';
import { mmVerify } from './verify.ts';

test('forkTask write-protects a private page on both sides and shares the frame', () => {
  const mmgr = testMm();
  const t = spawnTask(mmgr, 'a');
  const priv = doMmap(mmgr, t.mm, PAGE_SIZE);
  const shared = doMmap(mmgr, t.mm, PAGE_SIZE, { shared: true });
  assert.equal(fillUser(mmgr, t.mm, priv, PAGE_SIZE, { kind: 'byte', byte: 1 }, priv), 0);
  assert.equal(fillUser(mmgr, t.mm, shared, PAGE_SIZE, { kind: 'byte', byte: 2 }, shared), 0);
  const child = forkTask(mmgr, t);
  const vpn = priv / PAGE_SIZE;
  const pfn = t.mm.pgtable.pfn(vpn);
  assert.equal(child.mm.pgtable.pfn(vpn), pfn);
  assert.equal(t.mm.pgtable.flags(vpn) & _PAGE_RW, 0, 'parent read-only');
  assert.equal(child.mm.pgtable.flags(vpn) & _PAGE_RW, 0, 'child read-only');
  assert.deepEqual([mmgr.frames.refcount[pfn], mmgr.frames.mapcount[pfn]], [2, 2]);
  assert.equal(mmgr.frames.flags[pfn]! & PG_anon_exclusive, 0);
  assert.deepEqual([t.mm.rssAnon, child.mm.rssAnon], [1, 1]);
  // MAP_SHARED memory is not copy-on-write: the parent's PTE stays writable, and the child
  // gets no PTE at all (vma_needs_copy: no anon_vma), faulting the same shmem page in.
  const svpn = shared / PAGE_SIZE;
  assert.equal(t.mm.pgtable.flags(svpn) & _PAGE_RW, _PAGE_RW);
  assert.equal(child.mm.pgtable.flags(svpn) & _PAGE_PRESENT, 0);
  assert.equal(
    readUser(mmgr, child.mm, shared, 1, () => {}),
    0,
  );
  assert.equal(child.mm.pgtable.pfn(svpn), t.mm.pgtable.pfn(svpn));
  mmVerify(mmgr);
});

test('forkTask and execTask carry MMF_VM_MERGE_ANY but not MMF_VM_MERGEABLE', () => {
  const mmgr = testMm();
  const t = spawnTask(mmgr, 'a');
  t.mm.flags |= MMF_VM_MERGE_ANY | MMF_VM_MERGEABLE;
  const child = forkTask(mmgr, t);
  assert.equal(child.mm.flags & (MMF_VM_MERGE_ANY | MMF_VM_MERGEABLE), MMF_VM_MERGE_ANY);
  const before = child.mm;
  execTask(mmgr, child, 'other');
  assert.notEqual(child.mm, before, 'exec builds a fresh mm');
  assert.equal(child.comm, 'other');
  assert.equal(child.mm.flags & (MMF_VM_MERGE_ANY | MMF_VM_MERGEABLE), MMF_VM_MERGE_ANY);
  assert.equal(child.mm.vmas.length, 0, 'no VMA of the old program survives');
});
