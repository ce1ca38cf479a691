import { rbErase } from '../lib/rbtree.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { SEQNR_MASK, STABLE_FLAG, UNSTABLE_FLAG } from './constants.ts';
import type { Ksm } from './ksm.ts';
import { NULL_ITEM, type RmapItem } from './rmap_item.ts';
import { hlistDelItem } from './stable_node.ts';
import { ksmGetFolio } from './stable_tree.ts';

/**
 * alloc_rmap_item + the bookkeeping of get_next_rmap_item: a zeroed item for (mm, addr).
 * @linux mm/ksm.c alloc_rmap_item
 */
export function allocRmapItem(ksm: Ksm, link: RmapItem, mm: MmStruct, address: number): RmapItem {
  const items = ksm.items;
  const item = items.alloc(mm, address);
  items.slab[item] = ksm.slab.alloc();
  // A page new to ksmd costs it more than a later visit (CostModel.firstVisitNs).
  ksm.cpuNs += ksm.cost.firstVisitNs;
  ksm.rmapItems++;
  mm.ksmRmapItems++;
  items.rmapList[item] = items.rmapList[link]!;
  items.rmapList[link] = item;
  return item;
}

/** @linux mm/ksm.c free_rmap_item */
export function freeRmapItem(ksm: Ksm, item: RmapItem): void {
  // A replayed scan names items by row: a freed row may come back as another item.
  ksm.unstableReplay.forget(ksm);
  ksm.rmapItems--;
  ksm.items.mm(item).ksmRmapItems--;
  ksm.cpuNs += ksm.cost.freeNs;
  ksm.slab.free(ksm.items.slab[item]!);
  ksm.items.release(item);
}

/**
 * Takes an item out of whichever tree holds it, with the counters. A stable item whose
 * KSM page is gone takes its whole stale node with it. An unstable item is erased from the
 * live tree only if it entered it in this scan; older ones sit in a tree already reset.
 * @linux mm/ksm.c remove_rmap_item_from_tree
 */
export function removeRmapItemFromTree(ksm: Ksm, item: RmapItem): void {
  const items = ksm.items;
  const flags = items.flags[item]!;
  if ((flags & STABLE_FLAG) !== 0) {
    const node = ksm.stableNodeOf(item);
    if (node === undefined) throw new KernelBug(`stable rmap_item ${item} names no live stable node`);
    if (ksmGetFolio(ksm, node) < 0) return; // the stale node's removal cleared this item
    hlistDelItem(items, node, item);
    if (node.hlist !== NULL_ITEM) ksm.pagesSharing--;
    else ksm.pagesShared--;
    items.mm(item).ksmMergingPages--;
    if (node.rmapHlistLen <= 0) throw new KernelBug('rmap_hlist_len underflow');
    node.rmapHlistLen--;
    items.head[item] = 0;
    items.flags[item] = 0;
  } else if ((flags & UNSTABLE_FLAG) !== 0) {
    const age = (ksm.ksmScan.seqnr - (flags & SEQNR_MASK)) & 0xff;
    if (age > 1) throw new KernelBug(`unstable rmap_item aged ${age} scans`);
    if (age === 0) {
      ksm.unstableReplay.stopFollowing(ksm);
      rbErase(ksm.unstableNodes, items.treeNode[item]!, ksm.rootUnstableTree[items.nid[item]!]!);
      ksm.unstableTreeNodes--;
    }
    ksm.pagesUnshared--;
    items.flags[item] = 0;
  }
}

/**
 * Frees every item from `link` on: their addresses are no longer mergeable.
 * @linux mm/ksm.c remove_trailing_rmap_items
 */
export function removeTrailingRmapItems(ksm: Ksm, link: RmapItem): void {
  const items = ksm.items;
  for (let item = items.rmapList[link]!; item !== NULL_ITEM; item = items.rmapList[link]!) {
    items.rmapList[link] = items.rmapList[item]!;
    removeRmapItemFromTree(ksm, item);
    freeRmapItem(ksm, item);
  }
}
