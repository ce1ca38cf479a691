import { PAGE_SIZE } from '../lib/sizes.ts';
import { ContentStore } from './content_store.ts';
import {
  FAULT_FLAG_UNSHARE,
  FAULT_FLAG_WRITE,
  PG_anon,
  PG_anon_exclusive,
  PG_ksm,
  PG_shmem,
  VM_FAULT_OOM,
  VM_FAULT_SIGSEGV,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
} from './constants.ts';
import type { MemoryManager } from './memory_manager.ts';
import type { MmStruct } from './mm_struct.ts';
import type { Vma } from './vma.ts';

/**
 * Page faults and teardown: mm/memory.c. A fault returns 0 or VM_FAULT_* bits. Reference
 * counting follows Linux: a mapped page holds one reference and one mapcount per PTE.
 */

/** anon_vma_prepare: an anonymous VMA gets its anon_vma on its first anonymous page. */
function anonVmaPrepare(mmgr: MemoryManager, vma: Vma): void {
  if (vma.anonVma === null) vma.anonVma = mmgr.newAnonVma();
}

/**
 * Handles a fault at `addr` in `vma` (which contains it).
 * @linux mm/memory.c handle_mm_fault (partial: no swap, no THP, no file pages)
 */
export function handleMmFault(mmgr: MemoryManager, vma: Vma, addr: number, flags: number): number {
  const mm = vma.vmMm;
  const vpn = addr / PAGE_SIZE;
  const pte = mm.pgtable.flags(vpn);
  mmgr.vmstat.pgfault++;
  if ((pte & _PAGE_PRESENT) === 0) {
    if ((flags & FAULT_FLAG_UNSHARE) !== 0) return 0;
    if (vma.shmem !== null) return shmemFault(mmgr, vma, vpn);
    return doAnonymousPage(mmgr, vma, vpn, (flags & FAULT_FLAG_WRITE) !== 0);
  }
  if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0 && (pte & _PAGE_RW) === 0) {
    return doWpPage(mmgr, vma, vpn, (flags & FAULT_FLAG_UNSHARE) !== 0);
  }
  return 0;
}

/**
 * Whether a read fault in `mm` must not map the shared zero page (see
 * MemoryManager.forbidsZeropage).
 * @linux include/linux/mm.h mm_forbids_zeropage (partial: one answer for the whole machine, not per mm)
 */
export function mmForbidsZeropage(mmgr: MemoryManager, _mm: MmStruct): boolean {
  return mmgr.forbidsZeropage;
}

/**
 * A first touch of an anonymous page: a read maps the shared zero page, a write allocates.
 * Where the zero page is forbidden a read allocates too, and the new page is mapped
 * writable and dirty as after a write: Linux makes the PTE from the VMA's flags, not the
 * fault's.
 * @linux mm/memory.c do_anonymous_page
 */
function doAnonymousPage(mmgr: MemoryManager, vma: Vma, vpn: number, write: boolean): number {
  const mm = vma.vmMm;
  if (!write && !mmForbidsZeropage(mmgr, mm)) {
    mm.pgtable.set(vpn, mmgr.frames.zeroPfn, _PAGE_PRESENT | _PAGE_SPECIAL);
    return 0;
  }
  anonVmaPrepare(mmgr, vma);
  const pfn = mmgr.frames.allocPage(mmgr.contents.retain(ContentStore.ZERO), vma.bindNode);
  if (pfn < 0) {
    mmgr.contents.release(ContentStore.ZERO);
    return VM_FAULT_OOM;
  }
  mmgr.frames.flags[pfn] = PG_anon | PG_anon_exclusive;
  mmgr.frames.mapcount[pfn] = 1;
  mm.pgtable.set(vpn, pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY);
  mm.rssAnon++;
  return 0;
}

/** A page of a shared anonymous mapping: found in or added to its shmem object. */
function shmemFault(mmgr: MemoryManager, vma: Vma, vpn: number): number {
  const shmem = vma.shmem!;
  const index = vma.vmPgoff + (vpn - vma.vmStart / PAGE_SIZE);
  let pfn = shmem.pages.get(index);
  if (pfn === undefined) {
    pfn = mmgr.frames.allocPage(mmgr.contents.retain(ContentStore.ZERO), vma.bindNode);
    if (pfn < 0) {
      mmgr.contents.release(ContentStore.ZERO);
      return VM_FAULT_OOM;
    }
    mmgr.frames.flags[pfn] = PG_shmem;
    shmem.pages.set(index, pfn);
  }
  // The object holds one reference (the page cache's); the PTE takes its own.
  mmgr.frames.getPage(pfn);
  mmgr.frames.mapcount[pfn]!++;
  vma.vmMm.pgtable.set(vpn, pfn, _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY);
  vma.vmMm.rssShmem++;
  return 0;
}

/**
 * A write (or unshare) fault on a present read-only PTE. An exclusive anonymous page is
 * reused; a KSM page never is, even with one mapping left; anything else is copied.
 * @linux mm/memory.c do_wp_page
 */
function doWpPage(mmgr: MemoryManager, vma: Vma, vpn: number, unshare: boolean): number {
  const mm = vma.vmMm;
  const pte = mm.pgtable.flags(vpn);
  const pfn = mm.pgtable.pfn(vpn);
  const frames = mmgr.frames;
  if ((pte & _PAGE_SPECIAL) !== 0) return wpPageCopy(mmgr, vma, vpn, unshare);
  if ((frames.flags[pfn]! & PG_shmem) !== 0) {
    if (!unshare) mm.pgtable.setFlags(vpn, pte | _PAGE_RW | _PAGE_DIRTY);
    return 0;
  }
  if (
    (frames.flags[pfn]! & PG_anon) !== 0 &&
    ((frames.flags[pfn]! & PG_anon_exclusive) !== 0 || wpCanReuseAnonFolio(mmgr, pfn))
  ) {
    frames.flags[pfn]! |= PG_anon_exclusive;
    if (unshare) return 0;
    // wp_page_reuse
    mm.pgtable.setFlags(vpn, pte | _PAGE_RW | _PAGE_DIRTY);
    return 0;
  }
  return wpPageCopy(mmgr, vma, vpn, unshare);
}

/**
 * Whether a write may reuse the anonymous page in place: never for KSM pages, otherwise
 * only when this PTE holds the sole reference.
 * @linux mm/memory.c wp_can_reuse_anon_folio (partial: no swap cache, no LRU batches)
 */
function wpCanReuseAnonFolio(mmgr: MemoryManager, pfn: number): boolean {
  if ((mmgr.frames.flags[pfn]! & PG_ksm) !== 0) return false;
  return mmgr.frames.refcount[pfn] === 1;
}

/**
 * Copies the page behind a write-protected PTE into a new exclusive anonymous page. After an
 * unshare the new PTE stays read-only (a later write reuses the exclusive page).
 * @linux mm/memory.c wp_page_copy
 */
function wpPageCopy(mmgr: MemoryManager, vma: Vma, vpn: number, unshare: boolean): number {
  const mm = vma.vmMm;
  const frames = mmgr.frames;
  const oldPte = mm.pgtable.flags(vpn);
  const oldPfn = mm.pgtable.pfn(vpn);
  anonVmaPrepare(mmgr, vma);
  const fromZero = (oldPte & _PAGE_SPECIAL) !== 0;
  // do_wp_page counts the copy of a KSM page before wp_page_copy, so also when it fails.
  if (!fromZero && frames.isKsm(oldPfn)) mmgr.vmstat.cow_ksm++;
  const content = mmgr.contents.retain(fromZero ? ContentStore.ZERO : frames.content[oldPfn]!);
  const pfn = frames.allocPage(content, vma.bindNode);
  if (pfn < 0) {
    mmgr.contents.release(content);
    return VM_FAULT_OOM;
  }
  frames.flags[pfn] = PG_anon | PG_anon_exclusive;
  frames.mapcount[pfn] = 1;
  if (fromZero) {
    // A KSM-placed zero page carries the dirty bit; replacing it uncounts it at once.
    if ((oldPte & _PAGE_DIRTY) !== 0) mmgr.hooks.ksmMightUnmapZeroPage(mm);
    mm.rssAnon++;
  } else {
    frames.mapcount[oldPfn]!--;
    frames.putPage(oldPfn);
  }
  mm.pgtable.set(vpn, pfn, unshare ? _PAGE_PRESENT : _PAGE_PRESENT | _PAGE_RW | _PAGE_DIRTY);
  return 0;
}

/**
 * Unmaps every page in [start, end) of `vma`, dropping references and RSS; KSM zero pages
 * are uncounted at once.
 * @linux mm/memory.c zap_pte_range
 */
export function zapPageRange(mmgr: MemoryManager, vma: Vma, start: number, end: number): void {
  const mm = vma.vmMm;
  const frames = mmgr.frames;
  const endVpn = end / PAGE_SIZE;
  let vpn = mm.pgtable.nextPresent(start / PAGE_SIZE, endVpn);
  while (vpn >= 0) {
    const pte = mm.pgtable.flags(vpn);
    const pfn = mm.pgtable.pfn(vpn);
    mm.pgtable.clear(vpn);
    if ((pte & _PAGE_SPECIAL) !== 0) {
      if ((pte & _PAGE_DIRTY) !== 0) mmgr.hooks.ksmMightUnmapZeroPage(mm);
    } else {
      if ((frames.flags[pfn]! & PG_shmem) !== 0) mm.rssShmem--;
      else mm.rssAnon--;
      frames.mapcount[pfn]!--;
      frames.putPage(pfn);
    }
    vpn = mm.pgtable.nextPresent(vpn + 1, endVpn);
  }
}

/** faultInPage's answer when no frame was free for the page (VM_FAULT_OOM); -1 is any other fault. */
export const FAULT_OOM = -2;

/**
 * Makes the page at `addr` accessible for a read or a write the way a CPU access would:
 * faulting until the PTE allows it. Returns the frame, FAULT_OOM when no frame was free, or
 * -1 on SIGSEGV.
 */
export function faultInPage(mmgr: MemoryManager, mm: MmStruct, addr: number, write: boolean): number {
  const vma = mm.vmaLookup(addr);
  if (vma === undefined) return -1;
  const vpn = addr / PAGE_SIZE;
  for (let tries = 0; tries < 3; tries++) {
    const pte = mm.pgtable.flags(vpn);
    if ((pte & _PAGE_PRESENT) !== 0 && (!write || (pte & _PAGE_RW) !== 0)) {
      if (write) mm.pgtable.setFlags(vpn, pte | _PAGE_DIRTY);
      return mm.pgtable.pfn(vpn);
    }
    const ret = handleMmFault(mmgr, vma, addr, write ? FAULT_FLAG_WRITE : 0);
    if ((ret & VM_FAULT_OOM) !== 0) return FAULT_OOM;
    if ((ret & VM_FAULT_SIGSEGV) !== 0) return -1;
  }
  return -1;
}
