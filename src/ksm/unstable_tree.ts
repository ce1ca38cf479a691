import { rbInsertColor, rbLinkNode, type RbDir } from '../lib/rbtree.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import { SEQNR_MASK, UNSTABLE_FLAG } from './constants.ts';
import type { Ksm } from './ksm.ts';
import { getMergeablePage } from './merge.ts';
import {
  N_LEFT,
  N_RIGHT,
  N_TREE_GEN_HI,
  N_TREE_GEN_LO,
  N_TREE_KEY,
  N_TREE_PFN,
  NODE_STRIDE,
  NULL_ITEM,
  type RmapItem,
} from './rmap_item.ts';

/** A match found in the unstable tree: the tree item and its page's frame. */
export interface UnstableMatch {
  readonly item: RmapItem;
  readonly pfn: number;
}

/**
 * Walks the unstable tree (ordered by the contents the pages have now, which may have
 * changed since they were inserted) for a page equal to `pfn`. Returns the match, or null
 * after inserting the item (pages_unshared++) or after a blocked walk: a tree item whose
 * page is gone, or the very same page (shared after fork), ends the walk uninserted.
 *
 * Like Linux, every step looks up the tree item's page (get_mergeable_page) and compares
 * contents (memcmp_pages, charged as such to ksmd's CPU). Unlike Linux, the model caches
 * what the lookup found, with the first 4 bytes of that page, for as long as nothing in
 * memory changes (MemoryGeneration): most steps of an all-unique walk then need no page
 * table, VMA or page bytes at all, and when the first 4 bytes of the two pages differ they
 * decide memcmp's sign by themselves. The result is the same as without the cache;
 * `ksm.checkWalkCache` recomputes every hit to prove it in tests.
 * @linux mm/ksm.c unstable_tree_search_insert
 */
export function unstableTreeSearchInsert(ksm: Ksm, item: RmapItem, pfn: number): UnstableMatch | null {
  const nid = ksm.getKpfnNid(pfn);
  const root = ksm.rootUnstableTree[nid]!;
  const frames = ksm.mmgr.frames;
  const items = ksm.items;
  const node = items.node;
  const gen = frames.generation.value;
  const genLo = gen | 0;
  const genHi = Math.floor(gen / 2 ** 32) | 0;
  const key = pageKey(ksm, pfn);
  let parent: RmapItem = NULL_ITEM;
  let dir: RbDir = 'left';
  let cur = root.rbNode;
  while (cur !== NULL_ITEM) {
    const at = cur * NODE_STRIDE;
    let treePfn: number;
    let treeKey: number;
    if (node[at + N_TREE_GEN_LO] === genLo && node[at + N_TREE_GEN_HI] === genHi) {
      treePfn = node[at + N_TREE_PFN]!;
      treeKey = node[at + N_TREE_KEY]! >>> 0;
      if (ksm.checkWalkCache) checkCached(ksm, cur, treePfn, treeKey);
    } else {
      treePfn = getMergeablePage(ksm, cur);
      treeKey = pageKey(ksm, treePfn);
      remember(node, at, treePfn, treeKey, genLo, genHi);
    }
    if (treePfn < 0) return null;
    if (treePfn === pfn) return null;
    let ret: number;
    if (key !== treeKey) {
      ret = key < treeKey ? -1 : 1;
      ksm.cpuNs += ksm.cost.memcmpNs;
    } else {
      ret = ksm.memcmpPages(pfn, treePfn);
    }
    parent = cur;
    if (ret < 0) {
      dir = 'left';
      cur = node[at + N_LEFT]!;
    } else if (ret > 0) {
      dir = 'right';
      cur = node[at + N_RIGHT]!;
    } else if (!ksm.mergeAcrossNodes && frames.pfnToNid(treePfn) !== nid) return null;
    else return { item: cur, pfn: treePfn };
  }
  items.flags[item]! |= UNSTABLE_FLAG | (ksm.ksmScan.seqnr & SEQNR_MASK);
  items.nid[item] = nid;
  // Walks to come will ask for this item's page. Where the scanner's walker tests what
  // get_mergeable_page tests (ksmd's does), that is the page being inserted: no KSM page
  // reaches this tree and nothing has changed since the walker found it.
  if (ksm.walkerFindsMergeablePage) {
    if (ksm.checkWalkCache && getMergeablePage(ksm, item) !== pfn)
      throw new KernelBug(`unstable-tree walk cache of rmap_item ${item}: its page is not frame ${pfn}`);
    remember(node, item * NODE_STRIDE, pfn, key, genLo, genHi);
  } else {
    const own = getMergeablePage(ksm, item);
    remember(node, item * NODE_STRIDE, own, pageKey(ksm, own), genLo, genHi);
  }
  rbLinkNode(items, item, parent, dir, root);
  rbInsertColor(items, item, root);
  ksm.pagesUnshared++;
  return null;
}

/** The first 4 bytes of frame `pfn`'s page (memcmp order), or 0 for no page (-1). */
function pageKey(ksm: Ksm, pfn: number): number {
  return pfn < 0 ? 0 : ksm.mmgr.contents.prefixKey(ksm.mmgr.frames.content[pfn]!);
}

/** Stores a walk-cache entry in the node fields at `at`. */
function remember(node: Int32Array, at: number, pfn: number, key: number, genLo: number, genHi: number): void {
  node[at + N_TREE_PFN] = pfn;
  node[at + N_TREE_KEY] = key;
  node[at + N_TREE_GEN_LO] = genLo;
  node[at + N_TREE_GEN_HI] = genHi;
}

/** The walk cache's proof: a hit must equal what the lookup finds now. */
function checkCached(ksm: Ksm, item: RmapItem, treePfn: number, treeKey: number): void {
  const pfn = getMergeablePage(ksm, item);
  const key = pageKey(ksm, pfn);
  if (pfn !== treePfn || key !== treeKey) {
    throw new KernelBug(
      `unstable-tree walk cache of rmap_item ${item}: cached frame ${treePfn} key ${treeKey}, now ${pfn} key ${key}`,
    );
  }
}
