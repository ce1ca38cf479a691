import { PAGE_SIZE } from '../lib/sizes.ts';
import { MMF_VM_MERGEABLE, PG_anon, PG_ksm, VM_MERGEABLE, _PAGE_PRESENT, _PAGE_SPECIAL } from '../mm/constants.ts';
import { PTRS_PER_PTE } from '../mm/page_table.ts';
import type { Vma } from '../mm/vma.ts';
import { advisorStartScan, advisorStopScan } from './advisor.ts';
import { cmpAndMergePage } from './cmp_and_merge_page.ts';
import type { Ksm } from './ksm.ts';
import type { MmSlot } from './mm_slot.ts';
import { allocRmapItem, freeRmapItem, removeRmapItemFromTree, removeTrailingRmapItems } from './rmap.ts';
import { NULL_ITEM, type RmapItem } from './rmap_item.ts';
import { shouldSkipRmapItem } from './smart_scan.ts';
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
 * Walks the pages of `vma` from ksmd's cursor on, as ksm_next_page_pmd_entry finds them
 * (present, a normal page, anonymous), taking each one's rmap_item (get_next_rmap_item)
 * and passing over those smart_scan skips. Returns the item of the first page to process,
 * its frame in `ksm.ksmScan.page`, or NULL_ITEM at the end of the VMA.
 *
 * Unlike Linux, up to `settle` visits of this scanner's KSM pages are made here too when
 * cmp_and_merge_page would do no more than one of two things, without comparing or
 * charging anything but the visit:
 * - the item is already on the page's stable node: it returns at its first test;
 * - the item is in no tree (new, or taken out): the page finds itself in the stable tree
 *   ("ksm page forked"), merges with itself at once, and the item joins the page's node
 *   (stable_tree_append), when find_mergeable_vma accepts the VMA (`joins`).
 * Each such visit counts as a page scanned with a visit's CPU, as ksm_do_scan would; their
 * number goes to `ksm.ksmScan.settled`. A test holds the counters to the same machine run
 * with pages_to_scan 1, where a batch has no room for them.
 * @linux mm/ksm.c ksm_next_page_pmd_entry: with scan_get_next_rmap_item's loop over a VMA's pages
 */
function walkVma(ksm: Ksm, slot: MmSlot, vma: Vma, settle: number): RmapItem {
  const scan = ksm.ksmScan;
  const mm = vma.vmMm;
  const frames = ksm.mmgr.frames;
  const frameFlags = frames.flags;
  const items = ksm.items;
  const cost = ksm.cost;
  const endVpn = vma.vmEnd / PAGE_SIZE;
  const joins = ksm.vmaMergeable(vma);
  const room = settle - scan.settled;
  // Settled visits and the CPU charged here (one read of a constant per event, as the
  // counting cost model needs), added to the counters on the way out.
  let settled = 0;
  let charged = 0;
  let link = scan.rmapList;
  let vpn = scan.address / PAGE_SIZE;
  let found = NULL_ITEM;
  pages: while (vpn < endVpn) {
    const t = mm.pgtable.tableOf(vpn);
    const base = vpn - (vpn % PTRS_PER_PTE);
    const end = Math.min(endVpn, base + PTRS_PER_PTE);
    if (t === undefined) {
      vpn = end;
      continue;
    }
    const ptes = t.flags;
    const pfns = t.pfn;
    for (; vpn < end; vpn++) {
      const f = ptes[vpn - base]!;
      if ((f & _PAGE_PRESENT) === 0 || (f & _PAGE_SPECIAL) !== 0) continue;
      const pfn = pfns[vpn - base]!;
      const pageFlags = frameFlags[pfn]!;
      if ((pageFlags & PG_anon) === 0) continue;
      const addr = vpn * PAGE_SIZE;
      // The item is nearly always the next one on the list, or a new one goes there (a
      // page just forked, or faulted in); otherwise stale ones are freed first.
      let item = items.rmapList[link]!;
      let fresh = false;
      if (item === NULL_ITEM || items.address[item] !== addr) {
        fresh = item === NULL_ITEM || items.address[item]! > addr;
        item = fresh ? allocRmapItem(ksm, link, mm, addr) : getNextRmapItem(ksm, slot, link, addr);
      }
      link = item;
      if ((pageFlags & PG_ksm) !== 0 && settled < room) {
        const node = frames.stableNode(pfn);
        if (ksm.owns(node) && !node.onMigrateList) {
          // A new item is on no node and in no tree.
          if (!fresh && items.head[item] === node.id) {
            settled++;
            charged += cost.visitNs;
            continue;
          }
          if (joins && (fresh || items.flags[item] === 0)) {
            stableTreeAppend(ksm, item, node, mm);
            settled++;
            charged += cost.visitNs;
            continue;
          }
        }
      }
      if (shouldSkipRmapItem(ksm, pfn, item, (pageFlags & PG_ksm) !== 0)) {
        charged += cost.skipNs;
        continue;
      }
      scan.page = pfn;
      found = item;
      vpn++;
      break pages;
    }
  }
  scan.rmapList = link;
  scan.address = found === NULL_ITEM ? vma.vmEnd : vpn * PAGE_SIZE;
  ksm.cpuNs += charged;
  if (settled > 0) {
    ksm.pagesScanned += settled;
    scan.settled += settled;
    ksm.settledVisits += settled;
  }
  return found;
}

/**
 * Advances ksmd's cursor to the next page to process. At the start of a full scan the
 * unstable trees are emptied; at the end of an mm its trailing items are freed (and a slot
 * with no mergeable VMA left is dropped); at the end of the list full_scans grows and null
 * is returned. Pages smart_scan skips are passed over inside this call. The item's page
 * goes to `ksm.ksmScan.page`, as the kernel's out parameter.
 *
 * Unlike Linux, up to `settle` visits of KSM pages that cmp_and_merge_page would only
 * leave or attach their item to are also made inside this call (walkVma), without a round
 * trip through ksm_do_scan for each; their number goes to `ksm.ksmScan.settled`.
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
    // lru_add_drain_all: ksmd waits for every CPU to drain its LRU batches.
    ksm.blockedNs += ksm.events.clock.timer.workFlushNs;
    ksm.resetUnstableTrees();
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
        const item = walkVma(ksm, slot, vma, settle);
        if (item !== NULL_ITEM) return item;
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
  // Model only: the reload after a sleep follows the trees the batch may grow (Ksm.payReload).
  ksm.batchPages = scanNpages;
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
