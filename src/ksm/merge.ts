import { ENOMEM } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import {
  FAULT_FLAG_REMOTE,
  FAULT_FLAG_UNSHARE,
  PG_anon,
  PG_anon_exclusive,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_SPECIAL,
} from '../mm/constants.ts';
import { handleMmFault } from '../mm/memory.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { PTRS_PER_PTE } from '../mm/page_table.ts';
import type { Vma } from '../mm/vma.ts';
import type { Ksm } from './ksm.ts';
import { removeRmapItemFromTree } from './rmap.ts';
import type { RmapItem } from './rmap_item.ts';

/**
 * Merging and unmerging pages: write-protecting, replacing PTEs, and breaking COW again.
 * Page arguments are frame numbers; `kpfn` null means "make this page the KSM page".
 */

/** @linux mm/ksm.c find_mergeable_vma */
export function findMergeableVma(ksm: Ksm, mm: MmStruct, addr: number): Vma | undefined {
  if (ksm.testExit(mm)) return undefined;
  const vma = mm.vmaLookup(addr);
  if (vma === undefined || !ksm.vmaMergeable(vma) || vma.anonVma === null) return undefined;
  return vma;
}

/**
 * The anonymous page (KSM or not) an item's address maps now, or -1.
 * @linux mm/ksm.c get_mergeable_page
 */
export function getMergeablePage(ksm: Ksm, item: RmapItem): number {
  const mm = ksm.items.mm(item);
  const address = ksm.items.address[item]!;
  const vma = findMergeableVma(ksm, mm, address);
  if (vma === undefined) return -1;
  const vpn = address / PAGE_SIZE;
  const pte = mm.pgtable.flags(vpn);
  if ((pte & _PAGE_PRESENT) === 0 || (pte & _PAGE_SPECIAL) !== 0) return -1;
  const pfn = mm.pgtable.pfn(vpn);
  if ((ksm.mmgr.frames.flags[pfn]! & PG_anon) === 0) return -1;
  // A KSM page of another scanner (KSM vs KSM+) is not ours to merge into.
  const link = ksm.mmgr.frames.stableNode(pfn);
  return link !== null && !ksm.owns(link) ? -1 : pfn;
}

/**
 * Makes the PTE mapping `pfn` at `addr` read-only and clean, and the page no longer
 * exclusive. Returns false if the PTE no longer maps the page. The kernel's extra
 * reference check (no GUP pins, no I/O) always passes in the model, which has neither.
 * @linux mm/ksm.c write_protect_page (partial: no pins, no swap cache)
 */
function writeProtectPage(ksm: Ksm, mm: MmStruct, addr: number, pfn: number): boolean {
  const vpn = addr / PAGE_SIZE;
  // The PTE's table looked up once for both reads (a merging scan does this for every page).
  const t = mm.pgtable.tableOf(vpn);
  const i = vpn % PTRS_PER_PTE;
  if (t === undefined || (t.flags[i]! & _PAGE_PRESENT) === 0 || t.pfn[i] !== pfn) return false;
  ksm.mmgr.frames.flags[pfn]! &= ~PG_anon_exclusive;
  mm.pgtable.setFlags(vpn, _PAGE_PRESENT);
  return true;
}

/**
 * Points the PTE at `addr` to the KSM page `kpfn` (or the zero page, marked dirty as KSM's
 * own) and drops the old page.
 * @linux mm/ksm.c replace_page
 */
function replacePage(ksm: Ksm, mm: MmStruct, addr: number, pfn: number, kpfn: number): void {
  const frames = ksm.mmgr.frames;
  const vpn = addr / PAGE_SIZE;
  if (kpfn !== frames.zeroPfn) {
    frames.getPage(kpfn);
    frames.mapcount[kpfn]!++;
    mm.pgtable.set(vpn, kpfn, _PAGE_PRESENT);
  } else {
    mm.pgtable.set(vpn, kpfn, _PAGE_PRESENT | _PAGE_SPECIAL | _PAGE_DIRTY);
    // ksm_map_zero_page
    ksm.zeroPages++;
    mm.ksmZeroPages++;
    mm.rssAnon--;
  }
  frames.mapcount[pfn]!--;
  frames.putPage(pfn);
}

/**
 * Merges the page at `addr` into `kpfn`, or with `kpfn` null turns it into a KSM page with
 * no stable node yet. Returns 0 or -EFAULT (as the kernel does, -14).
 * @linux mm/ksm.c try_to_merge_one_page (partial: no THP split, no lock contention)
 */
export function tryToMergeOnePage(ksm: Ksm, vma: Vma, addr: number, pfn: number, kpfn: number | null): number {
  const frames = ksm.mmgr.frames;
  if (pfn === kpfn) return 0;
  if ((frames.flags[pfn]! & PG_anon) === 0) return -14;
  if (!writeProtectPage(ksm, vma.vmMm, addr, pfn)) return -14;
  if (kpfn === null) {
    frames.setStableNode(pfn, null);
    ksm.cpuNs += ksm.cost.mergeNs;
    return 0;
  }
  if (ksm.memcmpPages(pfn, kpfn) !== 0) return -14;
  replacePage(ksm, vma.vmMm, addr, pfn, kpfn);
  ksm.cpuNs += ksm.cost.mergeNs;
  return 0;
}

/**
 * Merges the page of `item` into `kpfn` (or makes it KSM), then takes the item out of the
 * unstable tree: its union field is about to hold the anon_vma.
 * @linux mm/ksm.c try_to_merge_with_ksm_page
 */
export function tryToMergeWithKsmPage(ksm: Ksm, item: RmapItem, pfn: number, kpfn: number | null): number {
  const address = ksm.items.address[item]!;
  const vma = findMergeableVma(ksm, ksm.items.mm(item), address);
  if (vma === undefined) return -14;
  const err = tryToMergeOnePage(ksm, vma, address, pfn, kpfn);
  if (err !== 0) return err;
  // The kernel now takes the anon_vma into the item for rmap walks (reclaim, migration),
  // which the model does not do.
  removeRmapItemFromTree(ksm, item);
  return 0;
}

/**
 * The page with an unchanged checksum same as the zero page's is replaced by the zero page
 * when use_zero_pages is on. Returns 0 when done (or the VMA went away), -EFAULT to go on.
 * @linux mm/ksm.c try_to_merge_with_zero_page
 */
export function tryToMergeWithZeroPage(ksm: Ksm, item: RmapItem, pfn: number): number {
  if (!ksm.useZeroPages || ksm.items.oldchecksum[item] !== ksm.zeroChecksum) return -14;
  const address = ksm.items.address[item]!;
  const vma = findMergeableVma(ksm, ksm.items.mm(item), address);
  if (vma === undefined) return 0;
  return tryToMergeOnePage(ksm, vma, address, pfn, ksm.mmgr.frames.zeroPfn);
}

/**
 * Merges two identical pages: the scanned page becomes the KSM page, then the tree page is
 * pointed at it. If the second step fails, the first is undone.
 * @linux mm/ksm.c try_to_merge_two_pages
 */
export function tryToMergeTwoPages(ksm: Ksm, item: RmapItem, pfn: number, treeItem: RmapItem, treePfn: number): number {
  let err = tryToMergeWithKsmPage(ksm, item, pfn, null);
  if (err === 0) {
    err = tryToMergeWithKsmPage(ksm, treeItem, treePfn, pfn);
    if (err !== 0) breakCow(ksm, item);
  }
  return err === 0 ? pfn : -1;
}

/**
 * Unshares the page at `addr` while it is a KSM page or a KSM-placed zero page, through an
 * unsharing fault (a private copy). Returns 0 or -ENOMEM.
 * @linux mm/ksm.c break_ksm
 */
export function breakKsm(ksm: Ksm, vma: Vma, addr: number): number {
  const mm = vma.vmMm;
  const vpn = addr / PAGE_SIZE;
  for (;;) {
    const pte = mm.pgtable.flags(vpn);
    if ((pte & _PAGE_PRESENT) === 0) return 0;
    const ksmPage =
      (pte & _PAGE_SPECIAL) !== 0 ? (pte & _PAGE_DIRTY) !== 0 : ksm.mmgr.frames.isKsm(mm.pgtable.pfn(vpn));
    if (!ksmPage) return 0;
    const ret = handleMmFault(ksm.mmgr, vma, addr, FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE);
    if ((ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_OOM)) !== 0) {
      return (ret & VM_FAULT_OOM) !== 0 ? -ENOMEM : 0;
    }
  }
}

/** @linux mm/ksm.c break_cow */
export function breakCow(ksm: Ksm, item: RmapItem): void {
  const address = ksm.items.address[item]!;
  const vma = findMergeableVma(ksm, ksm.items.mm(item), address);
  if (vma !== undefined) breakKsm(ksm, vma, address);
}

/**
 * Breaks every KSM page in [start, end) of `vma`. Items and counters are left for ksmd's
 * next pass, as in Linux.
 * @linux mm/ksm.c unmerge_ksm_pages
 */
export function unmergeKsmPages(ksm: Ksm, vma: Vma, start: number, end: number): number {
  const mm = vma.vmMm;
  const endVpn = end / PAGE_SIZE;
  for (
    let vpn = mm.pgtable.nextPresent(start / PAGE_SIZE, endVpn);
    vpn >= 0;
    vpn = mm.pgtable.nextPresent(vpn + 1, endVpn)
  ) {
    if (ksm.testExit(mm)) break;
    const err = breakKsm(ksm, vma, vpn * PAGE_SIZE);
    if (err !== 0) return err;
  }
  return 0;
}
