import { rbInsertColor, rbLinkNode, type RbDir } from '../lib/rbtree.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import type { Ksm } from './ksm.ts';
import { getMergeablePage } from './merge.ts';
import type { RmapItem } from './rmap_item.ts';
import { STRIDE, W_KEY, W_LEFT, W_RIGHT, W_STAMP } from './unstable_nodes.ts';

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
 * `ksm.checkWalkCache` recomputes every hit to prove it in tests. Where memory has not
 * changed since an earlier full scan made the same calls, the call is replayed instead of
 * walked (unstable_replay.ts).
 *
 * Every unequal step is charged `memcmpNs`, and `deepStepNs` more where the node compared
 * is deeper than `deepFrom` (the root is depth 1): deep nodes miss the caches (cost.ts).
 * @linux mm/ksm.c unstable_tree_search_insert
 */
export function unstableTreeSearchInsert(ksm: Ksm, item: RmapItem, pfn: number): UnstableMatch | null {
  const nid = ksm.getKpfnNid(pfn);
  if (ksm.unstableReplay.replay(ksm, item, nid)) return null;
  const root = ksm.rootUnstableTree[nid]!;
  const nodes = ksm.unstableNodes;
  const walk = nodes.walk;
  const cost = ksm.cost;
  const deepFrom = cost.deepFrom;
  const check = ksm.checkWalkCache;
  // A row's stamp: 2 * the walk stamp it was read at, + 1 if the item had a page.
  const noPage = 2 * ksm.walkStamp();
  const hasPage = noPage + 1;
  const key = pageKey(ksm, pfn);
  // memcmps the keys decided, charged on the way out (one read of the constant each, and of
  // deepStepNs for each deep one), and how many: with the whole-page ones, what
  // unstable_replay.ts records of the walk. steps + whole is the depth of the node compared.
  let charged = 0;
  let steps = 0;
  let whole = 0;
  let parent = 0;
  let dir: RbDir = 'left';
  let cur = root.rbNode;
  while (cur !== 0) {
    const at = cur * STRIDE;
    let stamp = walk[at + W_STAMP]!;
    if (stamp !== hasPage && stamp !== noPage) {
      const treePfn = getMergeablePage(ksm, nodes.item(cur));
      stamp = treePfn < 0 ? noPage : hasPage;
      nodes.remember(cur, treePfn, pageKey(ksm, treePfn), stamp);
    } else if (check) {
      checkCached(ksm, cur, stamp === hasPage);
    }
    if (stamp === noPage) {
      ksm.cpuNs += charged;
      ksm.unstableReplay.record(ksm, item, key, secondKey(ksm, pfn), steps, whole, false, nid);
      return null;
    }
    const treeKey = walk[at + W_KEY]!;
    parent = cur;
    if (key !== treeKey) {
      // Different first bytes: different pages, and memcmp's sign without reading them.
      charged += cost.memcmpNs;
      steps++;
      if (steps + whole > deepFrom) charged += cost.deepStepNs;
      if (key < treeKey) {
        dir = 'left';
        cur = walk[at + W_LEFT]!;
      } else {
        dir = 'right';
        cur = walk[at + W_RIGHT]!;
      }
      continue;
    }
    const treePfn = nodes.pfn(cur);
    if (treePfn === pfn) {
      ksm.cpuNs += charged;
      ksm.unstableReplay.record(ksm, item, key, secondKey(ksm, pfn), steps, whole, false, nid);
      return null;
    }
    // The first 4 bytes tie: bytes 4 to 7 decide if they differ (a recorded walk can be
    // built again from them), else the pages are compared whole.
    if (secondKey(ksm, pfn) === secondKey(ksm, treePfn)) whole++;
    else steps++;
    const ret = ksm.memcmpPages(pfn, treePfn);
    if (ret !== 0 && steps + whole > deepFrom) charged += cost.deepStepNs;
    if (ret < 0) {
      dir = 'left';
      cur = walk[at + W_LEFT]!;
    } else if (ret > 0) {
      dir = 'right';
      cur = walk[at + W_RIGHT]!;
    } else {
      ksm.cpuNs += charged;
      ksm.unstableReplay.record(ksm, item, key, secondKey(ksm, pfn), steps, whole, false, nid);
      if (!ksm.mergeAcrossNodes && ksm.mmgr.frames.pfnToNid(treePfn) !== nid) return null;
      return { item: nodes.item(cur), pfn: treePfn };
    }
  }
  ksm.cpuNs += charged;
  ksm.unstableReplay.record(ksm, item, key, secondKey(ksm, pfn), steps, whole, true, nid);
  const items = ksm.items;
  items.enterUnstableTree(item, ksm.ksmScan.seqnr, nid);
  // Walks to come will ask for this item's page. Where the scanner's walker tests what
  // get_mergeable_page tests (ksmd's does), that is the page being inserted: no KSM page
  // reaches this tree and nothing has changed since the walker found it.
  let row: number;
  if (ksm.walkerFindsMergeablePage) {
    if (check && getMergeablePage(ksm, item) !== pfn)
      throw new KernelBug(`unstable-tree walk cache of rmap_item ${item}: its page is not frame ${pfn}`);
    row = nodes.alloc(item, pfn, key, hasPage);
  } else {
    const own = getMergeablePage(ksm, item);
    row = nodes.alloc(item, own, pageKey(ksm, own), own < 0 ? noPage : hasPage);
  }
  items.treeNode[item] = row;
  rbLinkNode(nodes, row, parent, dir, root);
  rbInsertColor(nodes, row, root);
  ksm.pagesUnshared++;
  ksm.unstableTreeNodes++;
  return null;
}

/**
 * The first 4 bytes of frame `pfn`'s page in memcmp order, biased so that signed order is
 * memcmp order (the node table holds Int32), or 0 for no page (-1).
 */
function pageKey(ksm: Ksm, pfn: number): number {
  return pfn < 0 ? 0 : (ksm.mmgr.contents.prefixKey(ksm.mmgr.frames.content[pfn]!) ^ 0x80000000) | 0;
}

/** Bytes 4 to 7 of frame `pfn`'s page, biased as pageKey's. */
function secondKey(ksm: Ksm, pfn: number): number {
  return (ksm.mmgr.contents.secondKey(ksm.mmgr.frames.content[pfn]!) ^ 0x80000000) | 0;
}

/** The walk cache's proof: a hit must equal what the lookup finds now. */
function checkCached(ksm: Ksm, row: number, hasPage: boolean): void {
  const nodes = ksm.unstableNodes;
  const pfn = getMergeablePage(ksm, nodes.item(row));
  const key = pageKey(ksm, pfn);
  const cachedKey = nodes.walk[row * STRIDE + W_KEY]!;
  if (pfn < 0 ? hasPage : !hasPage || pfn !== nodes.pfn(row) || key !== cachedKey) {
    throw new KernelBug(
      `unstable-tree walk cache of rmap_item ${nodes.item(row)}: cached frame ${hasPage ? nodes.pfn(row) : -1} key ${cachedKey}, now ${pfn} key ${key}`,
    );
  }
}
