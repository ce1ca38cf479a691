import { RbRoot } from '../lib/rbtree.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MMF_VM_MERGEABLE, PG_anon, VM_MERGEABLE, _PAGE_PRESENT, _PAGE_SPECIAL } from '../mm/constants.ts';
import { PTRS_PER_PTE } from '../mm/page_table.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { advisorStartScan, advisorStopScan } from './advisor.ts';
import { cmpAndMergePage } from './cmp_and_merge_page.ts';
import type { Ksm } from './ksm.ts';
import type { MmSlot } from './mm_slot.ts';
import { allocRmapItem, freeRmapItem, removeRmapItemFromTree, removeTrailingRmapItems } from './rmap.ts';
import { NULL_ITEM, type RmapItem } from './rmap_item.ts';
import { shouldSkipRmapItem } from './smart_scan.ts';
import type { StableNode } from './stable_node.ts';
import { stableTreeAppend } from './stable_tree.ts';

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
 * Makes, from ksmd's cursor on, up to `budget` visits of pages that are KSM pages of this
 * scanner, stopping at the first page of [cursor, endVpn) that is anything else. Each is
 * a visit ksm_do_scan would count as a page scanned, charging a visit, where
 * cmp_and_merge_page does one of two things without comparing or charging anything more:
 * - the item is already on the page's stable node: it returns at its first test;
 * - the address has no item yet (a page shared by fork, or mapped again): the new item
 *   finds the page itself in the stable tree ("ksm page forked"), the merge of a page
 *   with itself succeeds at once, and the item joins the page's node (stable_tree_append)
 *   when `joins` (the VMA lets find_mergeable_vma find it).
 * The pages are those the walker (nextScannablePage) finds; an item of a lower address
 * (stale, to be freed) or on another node sends the page the kernel's way, as does any
 * page that is not this scanner's KSM page. A test holds the result to the same machine
 * run with pages_to_scan 1, where a batch has no room for these visits. Returns their
 * number.
 */
function settleRun(ksm: Ksm, mm: MmStruct, endVpn: number, budget: number, joins: boolean): number {
  const scan = ksm.ksmScan;
  const frames = ksm.mmgr.frames;
  const frameFlags = frames.flags;
  const items = ksm.items;
  let rmapList = items.rmapList;
  let address = items.address;
  let head = items.head;
  let link = scan.rmapList;
  let vpn = scan.address / PAGE_SIZE;
  let n = 0;
  outer: while (n < budget && vpn < endVpn) {
    const t = mm.pgtable.tableOf(vpn);
    if (t === undefined) break;
    const base = vpn - (vpn % PTRS_PER_PTE);
    const end = Math.min(endVpn, base + PTRS_PER_PTE);
    const ptes = t.flags;
    const pfns = t.pfn;
    for (; vpn < end && n < budget; vpn++) {
      const f = ptes[vpn - base]!;
      if ((f & _PAGE_PRESENT) === 0 || (f & _PAGE_SPECIAL) !== 0) continue;
      const pfn = pfns[vpn - base]!;
      if ((frameFlags[pfn]! & PG_anon) === 0) continue;
      const node = frames.stableNode(pfn) as StableNode | null;
      if (node === null || node.owner !== ksm || node.onMigrateList) break outer;
      const item = rmapList[link]!;
      const addr = vpn * PAGE_SIZE;
      if (item !== NULL_ITEM && address[item] === addr) {
        if (head[item] !== node.id) break outer;
        link = item;
      } else if (joins && (item === NULL_ITEM || address[item]! > addr)) {
        link = allocRmapItem(ksm, link, mm, addr);
        stableTreeAppend(ksm, link, node);
        // The table may have grown: its columns are new arrays.
        rmapList = items.rmapList;
        address = items.address;
        head = items.head;
      } else {
        break outer;
      }
      n++;
    }
  }
  if (n > 0) {
    // The cursor moves past the last page visited, as after returning it.
    scan.rmapList = link;
    scan.address = items.address[link]! + PAGE_SIZE;
    ksm.cpuNs += n * ksm.cost.visitNs;
    ksm.pagesScanned += n;
    ksm.settledVisits += n;
  }
  return n;
}

/**
 * Advances ksmd's cursor to the next page to process. At the start of a full scan the
 * unstable trees are emptied; at the end of an mm its trailing items are freed (and a slot
 * with no mergeable VMA left is dropped); at the end of the list full_scans grows and null
 * is returned. Pages smart_scan skips are passed over inside this call. The item's page
 * goes to `ksm.ksmScan.page`, as the kernel's out parameter.
 *
 * Unlike Linux, up to `settle` visits of KSM pages that cmp_and_merge_page would only
 * leave or attach their item to are also made inside this call (settleRun), without a
 * round trip through ksm_do_scan for each; their number goes to `ksm.ksmScan.settled`.
 * @linux mm/ksm.c scan_get_next_rmap_item
 */
export function scanGetNextRmapItem(ksm: Ksm, settle = 0): RmapItem {
  const scan = ksm.ksmScan;
  scan.settled = 0;
  const head = ksm.mmHead;
  if (head.next === head) return NULL_ITEM;
  let slot = scan.mmSlot;
  if (slot === head) {
    advisorStartScan(ksm);
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
          if (scan.settled < settle)
            scan.settled += settleRun(ksm, mm, endVpn, settle - scan.settled, ksm.vmaMergeable(vma));
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
    // Visits of pages already on their KSM page are made inside, leaving room for the item
    // returned (see scanGetNextRmapItem).
    const item = scanGetNextRmapItem(ksm, scanNpages - done - 1);
    done += ksm.ksmScan.settled;
    if (item === NULL_ITEM) break;
    ksm.cpuNs += ksm.cost.visitNs;
    cmpAndMergePage(ksm, ksm.ksmScan.page, item);
    ksm.pagesScanned++;
    done++;
  }
  return done;
}
