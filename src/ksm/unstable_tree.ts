import { rbInsertColor, rbLinkNode, type RbDir } from '../lib/rbtree.ts';
import { SEQNR_MASK, UNSTABLE_FLAG } from './constants.ts';
import type { Ksm } from './ksm.ts';
import { getMergeablePage } from './merge.ts';
import type { RmapItem } from './rmap_item.ts';

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
 * @linux mm/ksm.c unstable_tree_search_insert
 */
export function unstableTreeSearchInsert(ksm: Ksm, item: RmapItem, pfn: number): UnstableMatch | null {
  const nid = ksm.getKpfnNid(pfn);
  const root = ksm.rootUnstableTree[nid]!;
  const frames = ksm.mmgr.frames;
  let parent: RmapItem | null = null;
  let dir: RbDir = 'left';
  let cur = root.rbNode;
  while (cur !== null) {
    const treePfn = getMergeablePage(ksm, cur);
    if (treePfn < 0) return null;
    if (treePfn === pfn) return null;
    const ret = ksm.memcmpPages(pfn, treePfn);
    parent = cur;
    if (ret < 0) { dir = 'left'; cur = cur.rbLeft; }
    else if (ret > 0) { dir = 'right'; cur = cur.rbRight; }
    else if (!ksm.mergeAcrossNodes && frames.pfnToNid(treePfn) !== nid) return null;
    else return { item: cur, pfn: treePfn };
  }
  item.flags |= UNSTABLE_FLAG | (ksm.ksmScan.seqnr & SEQNR_MASK);
  item.nid = nid;
  rbLinkNode(item, parent, dir, root);
  rbInsertColor(item, root);
  ksm.pagesUnshared++;
  return null;
}
