import { rbErase, rbInsertColor, rbLinkNode, rbReplaceNode, type RbDir, type RbRoot } from '../lib/rbtree.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import { EBUSY } from '../lib/errno.ts';
import { STABLE_FLAG, STABLE_NODE_CHAIN } from './constants.ts';
import type { Ksm } from './ksm.ts';
import { NULL_ITEM, type RmapItem } from './rmap_item.ts';
import { StableNode, hlistAddDup, hlistAddItem, hlistDelDup } from './stable_node.ts';

/**
 * The stable tree: KSM pages ordered by content, chains of dups past max_page_sharing,
 * and the lazy removal of nodes whose page has gone.
 */

/** @linux mm/ksm.c __is_page_sharing_candidate */
export function isPageSharingCandidate(ksm: Ksm, node: StableNode, offset = 0): boolean {
  return node.rmapHlistLen !== 0 && node.rmapHlistLen + offset < ksm.maxPageSharing;
}

/**
 * The keyhole test: the node's frame must still be a KSM page pointing back at the node.
 * Returns the frame, or -1 after removing the stale node. The model never races, so the
 * lock flavours of the kernel (NOLOCK, LOCK, TRYLOCK) all succeed.
 * @linux mm/ksm.c ksm_get_folio
 */
export function ksmGetFolio(ksm: Ksm, node: StableNode): number {
  if (ksm.mmgr.frames.stableNode(node.kpfn) === node) return node.kpfn;
  removeNodeFromStableTree(ksm, node);
  return -1;
}

/**
 * Drops a node whose KSM page is gone (or is being dropped), uncounting every item still
 * on it; the items stay on their mm's list, flags cleared, head left dangling as in Linux.
 * @linux mm/ksm.c remove_node_from_stable_tree
 */
export function removeNodeFromStableTree(ksm: Ksm, node: StableNode): void {
  if (node.rmapHlistLen < 0) throw new KernelBug('remove_node_from_stable_tree on a chain');
  const items = ksm.items;
  for (let item = node.hlist; item !== NULL_ITEM; item = items.hlistNext[item]!) {
    if (items.hlistNext[item] !== NULL_ITEM) ksm.pagesSharing--;
    else ksm.pagesShared--;
    items.mm(item).ksmMergingPages--;
    node.rmapHlistLen--;
    items.flags[item] = 0;
  }
  // The items keep the node in `head`, dangling: the next node given its object (slab.ts)
  // is the one they name then.
  ksm.stableNodes.delete(node.id);
  ksm.cpuNs += ksm.cost.freeNs;
  if (node.onMigrateList) {
    ksm.migrateNodes.splice(ksm.migrateNodes.indexOf(node), 1);
    node.onMigrateList = false;
  } else {
    stableNodeDupDel(ksm, node);
  }
  ksm.slab.free(node.id);
}

/** @linux mm/ksm.c stable_node_dup_del */
function stableNodeDupDel(ksm: Ksm, node: StableNode): void {
  if (node.isDup) {
    hlistDelDup(node);
    ksm.stableNodeDups--;
  } else {
    rbErase(ksm.stableStore, node, ksm.rootStableTree[node.nid]!);
  }
}

/** @linux mm/ksm.c stable_node_chain_add_dup */
function stableNodeChainAddDup(ksm: Ksm, dup: StableNode, chain: StableNode): void {
  dup.isDup = true;
  hlistAddDup(chain, dup);
  ksm.stableNodeDups++;
}

/**
 * Turns a regular node into the first dup of a new chain that takes its place in the tree.
 * @linux mm/ksm.c alloc_stable_node_chain
 */
function allocStableNodeChain(ksm: Ksm, dup: StableNode, root: RbRoot<StableNode | null>): StableNode {
  const chain = new StableNode(0, ksm, ksm.newStableNodeId());
  chain.chainPruneTime = ksm.events.clock.jiffies();
  chain.rmapHlistLen = STABLE_NODE_CHAIN;
  chain.nid = dup.nid;
  chain.key0 = dup.key0;
  chain.key1 = dup.key1;
  ksm.stableNodeChains++;
  rbReplaceNode(ksm.stableStore, dup, chain, root);
  stableNodeChainAddDup(ksm, dup, chain);
  return chain;
}

/** @linux mm/ksm.c free_stable_node_chain */
function freeStableNodeChain(ksm: Ksm, chain: StableNode, root: RbRoot<StableNode | null>): void {
  rbErase(ksm.stableStore, chain, root);
  ksm.stableNodeChains--;
  ksm.slab.free(chain.id);
}

/**
 * Result of resolving a tree node to a KSM page: the frame (-1: restart), the dup, the
 * node. One object per scanner (Ksm.chainResult), filled by every call and read before
 * the next: a tree step allocating one showed as 5 % garbage collection in a merging scan.
 */
export interface ChainResult {
  pfn: number;
  dup: StableNode | null;
  node: StableNode | null;
}

/**
 * Picks the dup of a chain to compare with and merge into: the first live one that can
 * take more sharers, or with `prune` (once per stable_node_chains_prune_millisecs) the
 * fullest candidate after walking them all and dropping dead ones. A chain left with one
 * dup collapses back into a regular node; an empty chain is freed.
 * @linux mm/ksm.c stable_node_dup
 */
function stableNodeDup(ksm: Ksm, chain: StableNode, root: RbRoot<StableNode | null>, prune: boolean): ChainResult {
  if (prune) {
    const clock = ksm.events.clock;
    const now = clock.jiffies();
    if (now < chain.chainPruneTime + clock.msecsToJiffies(ksm.stableNodeChainsPruneMillisecs)) prune = false;
    else chain.chainPruneTime = now;
  }
  let found: StableNode | null = null;
  let foundLen = 0;
  let treePfn = -1;
  for (let dup = chain.dups; dup !== null; ) {
    const next = dup.dupNext;
    const pfn = ksmGetFolio(ksm, dup);
    if (
      pfn >= 0 &&
      (found === null ||
        (isPageSharingCandidate(ksm, dup) && (!isPageSharingCandidate(ksm, found) || dup.rmapHlistLen > foundLen)))
    ) {
      found = dup;
      foundLen = dup.rmapHlistLen;
      treePfn = pfn;
      if (!prune && isPageSharingCandidate(ksm, found)) break;
    }
    dup = next;
  }
  let node = chain;
  if (found !== null) {
    if (chain.dups === found && found.dupNext === null) {
      // The only dup left: drop the chain and put the dup in its place in the tree.
      hlistDelDup(found);
      found.isDup = false;
      found.chain = null;
      rbReplaceNode(ksm.stableStore, chain, found, root);
      ksm.stableNodeChains--;
      ksm.stableNodeDups--;
      node = found;
    } else if (chain.dups !== found && isPageSharingCandidate(ksm, found, 1)) {
      hlistDelDup(found);
      hlistAddDup(chain, found);
    }
  } else {
    freeStableNodeChain(ksm, chain, root);
  }
  return chainResult(ksm, treePfn, found, node);
}

function chainResult(ksm: Ksm, pfn: number, dup: StableNode | null, node: StableNode): ChainResult {
  const r = ksm.chainResult;
  r.pfn = pfn;
  r.dup = dup;
  r.node = node;
  return r;
}

/** @linux mm/ksm.c __stable_node_chain */
function stableNodeChain(ksm: Ksm, node: StableNode, root: RbRoot<StableNode | null>, prune: boolean): ChainResult {
  if (!node.isChain()) return chainResult(ksm, ksmGetFolio(ksm, node), node, node);
  return stableNodeDup(ksm, node, root, prune);
}

/**
 * Looks for a KSM page with the content of `pfn`. Returns the KSM page's frame, -1 for
 * none (also when the matching KSM pages are all full), or -EBUSY. A page that is
 * already KSM finds itself (the "ksm page forked" case).
 * @linux mm/ksm.c stable_tree_search (partial: no NUMA migration, so no migrate_nodes paths)
 */
export function stableTreeSearch(ksm: Ksm, pfn: number): number {
  const frames = ksm.mmgr.frames;
  const pageNode = frames.stableNode(pfn);
  if (ksm.owns(pageNode) && !pageNode.onMigrateList) return pfn;
  const root = ksm.rootStableTree[ksm.getKpfnNid(pfn)]!;
  if (root.rbNode === null) return -1;
  const contents = ksm.mmgr.contents;
  const key0 = contents.prefixKey(frames.content[pfn]!);
  const key1 = contents.secondKey(frames.content[pfn]!);
  const cost = ksm.cost;
  // Virtual time stands still inside a search: one reading serves every chain's prune test.
  const clock = ksm.events.clock;
  const prunedBefore = clock.jiffies() - clock.msecsToJiffies(ksm.stableNodeChainsPruneMillisecs);
  let charged = 0;
  again: for (;;) {
    let cur: StableNode | null = root.rbNode;
    while (cur !== null) {
      // A step whose chain resolution changes nothing, on a node whose page differs from
      // this one in its first 8 bytes: memcmp's sign from the node's keys (stable_node.ts).
      const quiet = quietDup(ksm, cur, prunedBefore);
      if (quiet !== null) {
        if (ksm.checkWalkCache) checkQuietStep(ksm, cur, quiet, pfn, root);
        if (quiet.key0 !== key0 || quiet.key1 !== key1) {
          charged += cost.memcmpNs;
          cur = (quiet.key0 !== key0 ? key0 < quiet.key0 : key1 < quiet.key1) ? cur.rbLeft : cur.rbRight;
          continue;
        }
        // Keys equal: the resolution is still the quiet one (the node, its dup, live), so
        // only the pages' compare is left of the step, and of ksm_get_folio at a match.
        const ret = ksm.memcmpPages(pfn, quiet.kpfn);
        if (ret !== 0) {
          cur = ret < 0 ? cur.rbLeft : cur.rbRight;
          continue;
        }
        ksm.cpuNs += charged;
        return isPageSharingCandidate(ksm, quiet) ? quiet.kpfn : -1;
      }
      const r = stableNodeChain(ksm, cur, root, true);
      if (r.pfn < 0) continue again;
      const ret = ksm.memcmpPages(pfn, r.pfn);
      if (ret < 0) cur = r.node!.rbLeft;
      else if (ret > 0) cur = r.node!.rbRight;
      else {
        ksm.cpuNs += charged;
        if (r.dup === null || !isPageSharingCandidate(ksm, r.dup)) return -1;
        const kpfn = ksmGetFolio(ksm, r.dup);
        if (kpfn < 0) {
          charged = 0;
          continue again;
        }
        return kpfn;
      }
    }
    ksm.cpuNs += charged;
    return -1;
  }
}

/**
 * The dup stable_node_dup would pick for tree node `node` in a search if picking it changes
 * nothing, else null: a regular node whose page is still its KSM page; a chain of two dups
 * or more whose first is live and can take another sharer, when no prune is due (the walk
 * then stops at that first dup, moves nothing and collapses nothing). `prunedBefore` is
 * jiffies - msecs_to_jiffies(stable_node_chains_prune_millisecs).
 */
function quietDup(ksm: Ksm, node: StableNode, prunedBefore: number): StableNode | null {
  const frames = ksm.mmgr.frames;
  if (!node.isChain()) return frames.stableNode(node.kpfn) === node ? node : null;
  const head = node.dups;
  if (head === null || head.dupNext === null || frames.stableNode(head.kpfn) !== head) return null;
  if (!isPageSharingCandidate(ksm, head)) return null;
  // A prune is due at jiffies >= chain_prune_time + prune_millisecs.
  if (prunedBefore >= node.chainPruneTime) return null;
  return head;
}

/**
 * The proof of a quiet step: resolving the node as the kernel does picks the same dup and
 * changes nothing (no prune, no dup moved or dropped, no collapse), the node's keys are
 * its page's, and the pages differ where the keys do.
 */
function checkQuietStep(
  ksm: Ksm,
  node: StableNode,
  dup: StableNode,
  pfn: number,
  root: RbRoot<StableNode | null>,
): void {
  const before = [ksm.stableNodeChains, ksm.stableNodeDups, node.dups, node.chainPruneTime, root.rbNode] as const;
  const r = stableNodeChain(ksm, node, root, true);
  const after = [ksm.stableNodeChains, ksm.stableNodeDups, node.dups, node.chainPruneTime, root.rbNode] as const;
  if (r.dup !== dup || r.node !== node || r.pfn !== dup.kpfn || before.some((v, i) => v !== after[i]))
    throw new KernelBug(`stable-tree step at pfn ${dup.kpfn}: the resolution is not the quiet one`);
  const contents = ksm.mmgr.contents;
  const id = ksm.mmgr.frames.content[dup.kpfn]!;
  if (contents.prefixKey(id) !== dup.key0 || contents.secondKey(id) !== dup.key1 || dup.key0 !== node.key0)
    throw new KernelBug(`stable node of pfn ${dup.kpfn}: cached keys ${dup.key0}:${dup.key1} are not its page's`);
  const keysDiffer =
    contents.prefixKey(ksm.mmgr.frames.content[pfn]!) !== dup.key0 ||
    contents.secondKey(ksm.mmgr.frames.content[pfn]!) !== dup.key1;
  if (keysDiffer && contents.compare(ksm.mmgr.frames.content[pfn]!, id) === 0)
    throw new KernelBug(`stable-tree step at pfn ${dup.kpfn}: keys differ but the pages are equal`);
}

/**
 * Adds a new KSM page to the stable tree: as a regular node, or as a new dup of the chain
 * (created if needed) when a node of identical content is already there.
 * @linux mm/ksm.c stable_tree_insert
 */
export function stableTreeInsert(ksm: Ksm, kpfn: number): StableNode {
  const nid = ksm.getKpfnNid(kpfn);
  const root = ksm.rootStableTree[nid]!;
  let parent: StableNode | null = null;
  let dir: RbDir = 'left';
  let match: StableNode | null = null;
  again: for (;;) {
    parent = null;
    let cur = root.rbNode;
    while (cur !== null) {
      const r = stableNodeChain(ksm, cur, root, false);
      if (r.pfn < 0) continue again;
      const ret = ksm.memcmpPages(kpfn, r.pfn);
      parent = r.node;
      if (ret < 0) {
        dir = 'left';
        cur = r.node!.rbLeft;
      } else if (ret > 0) {
        dir = 'right';
        cur = r.node!.rbRight;
      } else {
        match = r.node;
        break;
      }
    }
    break;
  }
  const dup = new StableNode(kpfn, ksm, ksm.newStableNodeId());
  dup.nid = nid;
  const id = ksm.mmgr.frames.content[kpfn]!;
  dup.key0 = ksm.mmgr.contents.prefixKey(id);
  dup.key1 = ksm.mmgr.contents.secondKey(id);
  // Named by its object from now on: items will hold it in their `head`.
  ksm.stableNodes.set(dup.id, dup);
  if (match === null) {
    rbLinkNode(ksm.stableStore, dup, parent, dir, root);
    rbInsertColor(ksm.stableStore, dup, root);
  } else {
    const chain = match.isChain() ? match : allocStableNodeChain(ksm, match, root);
    stableNodeChainAddDup(ksm, dup, chain);
  }
  ksm.mmgr.frames.setStableNode(kpfn, dup);
  return dup;
}

/**
 * Attaches an item to a KSM page's list: the first item counts in pages_shared, every
 * further one in pages_sharing. `mm` is the item's, when the caller knows it already.
 * @linux mm/ksm.c stable_tree_append
 */
export function stableTreeAppend(ksm: Ksm, item: RmapItem, node: StableNode, mm = ksm.items.mm(item)): void {
  if (node.rmapHlistLen < 0) throw new KernelBug('stable_tree_append on a chain');
  const items = ksm.items;
  node.rmapHlistLen++;
  items.head[item] = node.id;
  items.flags[item]! |= STABLE_FLAG;
  hlistAddItem(items, node, item);
  if (items.hlistNext[item] !== NULL_ITEM) ksm.pagesSharing++;
  else ksm.pagesShared++;
  mm.ksmMergingPages++;
}

/**
 * Drops a stable node whose page is no longer mapped; -EBUSY if it still is.
 * @linux mm/ksm.c remove_stable_node
 */
function removeStableNode(ksm: Ksm, node: StableNode): number {
  const pfn = ksmGetFolio(ksm, node);
  if (pfn < 0) return 0;
  if (ksm.mmgr.frames.mapcount[pfn]! > 0) return -EBUSY;
  ksm.mmgr.frames.setStableNode(pfn, null);
  removeNodeFromStableTree(ksm, node);
  return 0;
}

/** @linux mm/ksm.c remove_stable_node_chain */
function removeStableNodeChain(ksm: Ksm, node: StableNode, root: RbRoot<StableNode | null>): boolean {
  if (!node.isChain()) return removeStableNode(ksm, node) !== 0;
  for (let dup = node.dups; dup !== null; ) {
    const next = dup.dupNext;
    if (removeStableNode(ksm, dup) !== 0) return true;
    dup = next;
  }
  freeStableNodeChain(ksm, node, root);
  return false;
}

/**
 * Empties every stable tree; -EBUSY if a KSM page is still mapped somewhere.
 * @linux mm/ksm.c remove_all_stable_nodes
 */
export function removeAllStableNodes(ksm: Ksm): number {
  let err = 0;
  for (const root of ksm.rootStableTree) {
    while (root.rbNode !== null) {
      if (removeStableNodeChain(ksm, root.rbNode, root)) {
        err = -EBUSY;
        break;
      }
    }
  }
  for (const node of [...ksm.migrateNodes]) if (removeStableNode(ksm, node) !== 0) err = -EBUSY;
  return err;
}
