import { rbErase } from '../lib/rbtree.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import { SEQNR_MASK, STABLE_FLAG, UNSTABLE_FLAG } from './constants.ts';
import type { Ksm } from './ksm.ts';
import { RmapItem, type RmapListLink } from './rmap_item.ts';
import { hlistDelItem } from './stable_node.ts';
import { ksmGetFolio } from './stable_tree.ts';

/**
 * alloc_rmap_item + the bookkeeping of get_next_rmap_item: a zeroed item for (mm, addr).
 * @linux mm/ksm.c alloc_rmap_item
 */
export function allocRmapItem(ksm: Ksm, link: RmapListLink, mmAddr: { mm: RmapItem['mm']; address: number }): RmapItem {
  const item = new RmapItem(mmAddr.mm, mmAddr.address);
  ksm.rmapItems++;
  item.mm.ksmRmapItems++;
  item.rmapList = link.rmapList;
  link.rmapList = item;
  return item;
}

/** @linux mm/ksm.c free_rmap_item */
export function freeRmapItem(ksm: Ksm, item: RmapItem): void {
  ksm.rmapItems--;
  item.mm.ksmRmapItems--;
  ksm.cpuNs += ksm.cost.freeNs;
}

/**
 * Takes an item out of whichever tree holds it, with the counters. A stable item whose
 * KSM page is gone takes its whole stale node with it. An unstable item is erased from the
 * live tree only if it entered it in this scan; older ones sit in a tree already reset.
 * @linux mm/ksm.c remove_rmap_item_from_tree
 */
export function removeRmapItemFromTree(ksm: Ksm, item: RmapItem): void {
  if ((item.flags & STABLE_FLAG) !== 0) {
    const node = item.head!;
    if (ksmGetFolio(ksm, node) < 0) return; // the stale node's removal cleared this item
    hlistDelItem(node, item);
    if (node.hlist !== null) ksm.pagesSharing--;
    else ksm.pagesShared--;
    item.mm.ksmMergingPages--;
    if (node.rmapHlistLen <= 0) throw new KernelBug('rmap_hlist_len underflow');
    node.rmapHlistLen--;
    item.anonVma = null;
    item.head = null;
    item.flags = 0;
  } else if ((item.flags & UNSTABLE_FLAG) !== 0) {
    const age = (ksm.ksmScan.seqnr - (item.flags & SEQNR_MASK)) & 0xff;
    if (age > 1) throw new KernelBug(`unstable rmap_item aged ${age} scans`);
    if (age === 0) rbErase(item, ksm.rootUnstableTree[item.nid]!);
    ksm.pagesUnshared--;
    item.flags = 0;
  }
}

/**
 * Frees every item from `link` on: their addresses are no longer mergeable.
 * @linux mm/ksm.c remove_trailing_rmap_items
 */
export function removeTrailingRmapItems(ksm: Ksm, link: RmapListLink): void {
  while (link.rmapList !== null) {
    const item = link.rmapList;
    link.rmapList = item.rmapList;
    removeRmapItemFromTree(ksm, item);
    freeRmapItem(ksm, item);
  }
}
