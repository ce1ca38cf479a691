import { KernelBug } from '../mm/kernel_bug.ts';
import type { Ksm } from './ksm.ts';
import { breakCow, tryToMergeTwoPages, tryToMergeWithKsmPage, tryToMergeWithZeroPage } from './merge.ts';
import { removeRmapItemFromTree } from './rmap.ts';
import type { RmapItem } from './rmap_item.ts';
import { isPageSharingCandidate, stableTreeAppend, stableTreeInsert, stableTreeSearch } from './stable_tree.ts';
import { unstableTreeSearchInsert } from './unstable_tree.ts';

/**
 * What ksmd does with one page, in the order of Linux 6.11 and later: a page that is not
 * yet KSM must first show an unchanged checksum (so a new page needs two visits), may then
 * become the zero page, and only then is looked up in the stable tree and, failing that,
 * in the unstable tree, where an equal page makes both pages one new KSM page.
 * @linux mm/ksm.c cmp_and_merge_page (partial: no NUMA migration, no THP)
 */
export function cmpAndMergePage(ksm: Ksm, pfn: number, item: RmapItem): void {
  const frames = ksm.mmgr.frames;
  const items = ksm.items;
  const link = frames.stableNode(pfn);
  if (link !== null && !ksm.owns(link)) return; // the other scanner's KSM page (model only)
  const stableNode = link;
  // rmap_item->head == stable_node, by id (see Ksm.stableNodes).
  const headIsNode = stableNode !== null && items.head[item] === stableNode.id;
  let bypass = false;
  if (stableNode !== null) {
    if (!stableNode.onMigrateList && headIsNode) return;
    // A KSM fork may take a node past max_page_sharing.
    if (!isPageSharingCandidate(ksm, stableNode)) bypass = true;
  } else {
    removeRmapItemFromTree(ksm, item);
    ksm.payNoTreeReload();
    const checksum = ksm.calcChecksum(pfn);
    if (items.oldchecksum[item] !== checksum) {
      items.oldchecksum[item] = checksum;
      return;
    }
    if (tryToMergeWithZeroPage(ksm, item, pfn) === 0) return;
  }

  ksm.payReload();
  const kpfn = stableTreeSearch(ksm, pfn);
  if (kpfn === pfn && (stableNode === null ? items.head[item] === 0 : headIsNode)) return;
  removeRmapItemFromTree(ksm, item);
  if (kpfn >= 0) {
    if (tryToMergeWithKsmPage(ksm, item, pfn, kpfn) === 0) {
      const kpage = frames.stableNode(kpfn);
      if (!ksm.owns(kpage))
        throw new KernelBug(`stable_tree_search found KSM page ${kpfn}, which is not in this stable tree`);
      stableTreeAppend(ksm, item, kpage);
    }
    void bypass; // the kernel only uses it to silence a warning
    return;
  }
  if (kpfn !== -1) return; // -EBUSY

  const match = unstableTreeSearchInsert(ksm, item, pfn);
  if (match === null) return;
  const kfolio = tryToMergeTwoPages(ksm, item, pfn, match.item, match.pfn);
  if (kfolio < 0) return;
  const node = stableTreeInsert(ksm, kfolio);
  stableTreeAppend(ksm, match.item, node);
  stableTreeAppend(ksm, item, node);
  void breakCow; // stable_tree_insert cannot fail to allocate in the model
}
