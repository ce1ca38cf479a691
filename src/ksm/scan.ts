import { RbRoot } from '../lib/rbtree.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MMF_VM_MERGEABLE, PG_anon, VM_MERGEABLE, _PAGE_SPECIAL } from '../mm/constants.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { advisorStartScan, advisorStopScan } from './advisor.ts';
import { cmpAndMergePage } from './cmp_and_merge_page.ts';
import type { Ksm } from './ksm.ts';
import type { MmSlot } from './mm_slot.ts';
import { allocRmapItem, freeRmapItem, removeRmapItemFromTree, removeTrailingRmapItems } from './rmap.ts';
import { NULL_ITEM, type RmapItem } from './rmap_item.ts';
import { shouldSkipRmapItem } from './smart_scan.ts';

/**
 * The rmap_item for `addr`, reusing the one on the list or inserting a new one; items for
 * lower addresses met on the way are stale (their page or VMA went) and are freed.
 * @linux mm/ksm.c get_next_rmap_item
 */
function getNextRmapItem(ksm: Ksm, slot: MmSlot, link: RmapItem, addr: number): RmapItem {
  const items = ksm.items;
  for (let item = items.rmapList[link]!; item !== NULL_ITEM; item = items.rmapList[link]!) {
    const address = items.address[item]!;
    if (address === addr) return item;
    if (address > addr) break;
    items.rmapList[link] = items.rmapList[item]!;
    removeRmapItemFromTree(ksm, item);
    freeRmapItem(ksm, item);
  }
  return allocRmapItem(ksm, link, slot.mm!, addr);
}

/**
 * The next page ksmd's walker finds in `mm` at or after `from` within [.., end): present,
 * a normal page (not the zero page), anonymous. Returns its vpn or -1.
 * @linux mm/ksm.c ksm_next_page_pmd_entry
 */
function nextScannablePage(ksm: Ksm, mm: MmStruct, from: number, end: number): number {
  const frameFlags = ksm.mmgr.frames.flags;
  const pt = mm.pgtable;
  for (
    let vpn = pt.nextPresentWithout(from, end, _PAGE_SPECIAL);
    vpn >= 0;
    vpn = pt.nextPresentWithout(vpn + 1, end, _PAGE_SPECIAL)
  ) {
    if ((frameFlags[pt.pfn(vpn)]! & PG_anon) !== 0) return vpn;
  }
  return -1;
}

/**
 * Advances ksmd's cursor to the next page to process. At the start of a full scan the
 * unstable trees are emptied; at the end of an mm its trailing items are freed (and a slot
 * with no mergeable VMA left is dropped); at the end of the list full_scans grows and null
 * is returned. Pages smart_scan skips are passed over inside this call. The item's page
 * goes to `ksm.ksmScan.page`, as the kernel's out parameter.
 * @linux mm/ksm.c scan_get_next_rmap_item
 */
export function scanGetNextRmapItem(ksm: Ksm): RmapItem {
  const scan = ksm.ksmScan;
  const head = ksm.mmHead;
  if (head.next === head) return NULL_ITEM;
  let slot = scan.mmSlot;
  if (slot === head) {
    advisorStartScan(ksm);
    // lru_add_drain_all: ksmd waits for every CPU to drain its LRU batches.
    ksm.blockedNs += ksm.events.clock.timer.workFlushNs;
    for (let nid = 0; nid < ksm.nrNodeIds; nid++) ksm.rootUnstableTree[nid] = new RbRoot<RmapItem>(NULL_ITEM);
    slot = head.next;
    scan.mmSlot = slot;
    if (slot === head) return NULL_ITEM;
    scan.address = 0;
    scan.rmapList = slot.head;
  }
  for (;;) {
    const mm = slot.mm!;
    if (!ksm.testExit(mm)) {
      for (let i = mm.indexAfter(scan.address); i < mm.vmas.length; i++) {
        const vma = mm.vmas[i]!;
        if ((vma.vmFlags & VM_MERGEABLE) === 0) continue;
        if (scan.address < vma.vmStart) scan.address = vma.vmStart;
        if (vma.anonVma === null) {
          scan.address = vma.vmEnd;
          continue;
        }
        const endVpn = vma.vmEnd / PAGE_SIZE;
        for (;;) {
          const vpn = nextScannablePage(ksm, mm, scan.address / PAGE_SIZE, endVpn);
          if (vpn < 0) {
            scan.address = vma.vmEnd;
            break;
          }
          scan.address = vpn * PAGE_SIZE;
          const pfn = mm.pgtable.pfn(vpn);
          const item = getNextRmapItem(ksm, slot, scan.rmapList, scan.address);
          scan.rmapList = item;
          scan.address += PAGE_SIZE;
          if (shouldSkipRmapItem(ksm, pfn, item)) {
            ksm.cpuNs += ksm.cost.skipNs;
            continue;
          }
          scan.page = pfn;
          return item;
        }
      }
    }
    if (ksm.testExit(mm)) {
      scan.address = 0;
      scan.rmapList = slot.head;
    }
    removeTrailingRmapItems(ksm, scan.rmapList);
    scan.mmSlot = slot.next;
    if (scan.address === 0) {
      // No VM_MERGEABLE VMA left (or the mm exited): forget the mm. Only MMF_VM_MERGEABLE
      // is cleared: the live 6.18 kernel keeps ksm_merge_any "yes" after this (measured;
      // the reference note says both flags go, the kernel disagrees).
      ksm.slots.delete(mm);
      slot.unlink();
      ksm.items.release(slot.head);
      mm.flags &= ~MMF_VM_MERGEABLE;
    }
    slot = scan.mmSlot;
    if (slot === head) break;
    scan.address = 0;
    scan.rmapList = slot.head;
  }
  advisorStopScan(ksm);
  scan.seqnr++;
  return NULL_ITEM;
}

/**
 * One batch of ksmd: up to `scanNpages` pages; the batch ends early at the end of a full
 * scan. Returns the number of pages processed.
 * @linux mm/ksm.c ksm_do_scan
 */
export function ksmDoScan(ksm: Ksm, scanNpages: number): number {
  let done = 0;
  while (done < scanNpages) {
    const item = scanGetNextRmapItem(ksm);
    if (item === NULL_ITEM) break;
    ksm.cpuNs += ksm.cost.visitNs;
    cmpAndMergePage(ksm, ksm.ksmScan.page, item);
    ksm.pagesScanned++;
    done++;
  }
  return done;
}
