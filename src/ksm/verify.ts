import { rbNext, rbFirst, rbVerify, type RbRoot, type RbStore } from '../lib/rbtree.ts';
import { MMF_VM_MERGEABLE, PG_anon } from '../mm/constants.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { countKsmZeroPtes } from '../mm/verify.ts';
import { SEQNR_MASK, STABLE_FLAG, UNSTABLE_FLAG } from './constants.ts';
import type { Ksm } from './ksm.ts';
import type { MmSlot } from './mm_slot.ts';
import { NULL_ITEM, type RmapItem, type RmapItems } from './rmap_item.ts';
import type { StableNode } from './stable_node.ts';

/**
 * ksmVerify: the counter identities of Linux 6.18 (reference §3) and the shape of KSM's
 * lists and trees, checked by walking everything from scratch. Counters change lazily in
 * KSM, so nothing here asks that a counter match the page tables, only that it match the
 * rmap_items and stable nodes that exist.
 */

const hex = (addr: number): string => `0x${addr.toString(16)}`;

function itemName(items: RmapItems, item: RmapItem): string {
  return `rmap_item ${item} (mm ${items.mm(item).id}, ${hex(items.address[item]!)}, flags ${hex(items.flags[item]!)})`;
}

/** rbVerify's plain Error, as a KernelBug naming the tree. */
function verifyTree<N>(store: RbStore<N>, root: RbRoot<N>, what: string): number {
  try {
    return rbVerify(store, root);
  } catch (e) {
    throw new KernelBug(`${what}: ${(e as Error).message}`);
  }
}

/** Per-mm tallies of the items on its slot's rmap_list. */
interface MmTally {
  items: number;
  stable: number;
}

/** Walks the mm_slot list: circular, consistent, the same slots as the hash. */
function verifySlotList(ksm: Ksm): MmSlot[] {
  const head = ksm.mmHead;
  if (head.mm !== null) throw new KernelBug('ksm_mm_head carries an mm');
  const slots: MmSlot[] = [];
  const seen = new Set<MmSlot>();
  for (let s = head.next; s !== head; s = s.next) {
    if (seen.has(s)) throw new KernelBug('mm_slot list loops without reaching its head');
    seen.add(s);
    if (s.next.prev !== s || s.prev.next !== s)
      throw new KernelBug(`mm_slot of mm ${s.mm?.id}: prev/next links disagree`);
    if (s.mm === null) throw new KernelBug('an mm_slot on the list has no mm');
    if (ksm.slots.get(s.mm) !== s)
      throw new KernelBug(`mm ${s.mm.id}: on the mm_slot list but not (or another slot) in the slot hash`);
    if ((s.mm.flags & MMF_VM_MERGEABLE) === 0)
      throw new KernelBug(`mm ${s.mm.id}: has an mm_slot but no MMF_VM_MERGEABLE`);
    slots.push(s);
  }
  if (head.next.prev !== head || head.prev.next !== head) throw new KernelBug('ksm_mm_head: prev/next links disagree');
  if (slots.length !== ksm.slots.size)
    throw new KernelBug(`mm_slot list holds ${slots.length} slots but the hash ${ksm.slots.size}`);
  if (ksm.ksmScan.mmSlot !== head && !seen.has(ksm.ksmScan.mmSlot))
    throw new KernelBug('ksm_scan.mm_slot is not on the mm_slot list');
  return slots;
}

/** Checks one KSM page's node (regular or dup): its hlist, and counts it. */
function verifyPageNode(
  ksm: Ksm,
  node: StableNode,
  live: Set<RmapItem>,
  onHlist: Set<RmapItem>,
  acc: { shared: number; sharing: number },
): void {
  if (node.rmapHlistLen < 0)
    throw new KernelBug(`stable node of pfn ${node.kpfn}: rmap_hlist_len ${node.rmapHlistLen}`);
  const items = ksm.items;
  const name = (item: RmapItem): string => itemName(items, item);
  let len = 0;
  let prev: RmapItem = NULL_ITEM;
  for (let item = node.hlist; item !== NULL_ITEM; item = items.hlistNext[item]!) {
    if (items.hlistPrev[item] !== prev)
      throw new KernelBug(`stable node of pfn ${node.kpfn}: hlist prev link of ${name(item)} is wrong`);
    if (onHlist.has(item)) throw new KernelBug(`${name(item)} is on two stable hlists (or twice on one)`);
    onHlist.add(item);
    if (!live.has(item))
      throw new KernelBug(`rmap_item ${item} is on the hlist of pfn ${node.kpfn} but on no mm's rmap_list (freed)`);
    if ((items.flags[item]! & STABLE_FLAG) === 0)
      throw new KernelBug(`${name(item)} is on the hlist of pfn ${node.kpfn} without STABLE_FLAG`);
    if (items.head[item] !== node.id)
      throw new KernelBug(`${name(item)} is on the hlist of pfn ${node.kpfn} but its head is another node`);
    if (ksm.stableNodes.get(node.id) !== node)
      throw new KernelBug(`stable node of pfn ${node.kpfn} holds rmap_items but is not registered by its id`);
    prev = item;
    len++;
  }
  if (len !== node.rmapHlistLen)
    throw new KernelBug(
      `stable node of pfn ${node.kpfn}: rmap_hlist_len ${node.rmapHlistLen} but ${len} items on its hlist`,
    );
  if (len > 0) {
    acc.shared++;
    acc.sharing += len - 1;
  }
  const kpfn = node.kpfn;
  if (!ksm.owns(node)) throw new KernelBug(`stable node of pfn ${kpfn} belongs to another scanner`);
}

/** Whether the node's KSM page is still alive: the frame's mapping points back at it (the keyhole). */
function alive(ksm: Ksm, node: StableNode): boolean {
  return ksm.mmgr.frames.stableNode(node.kpfn) === node;
}

/**
 * Checks every invariant and throws KernelBug naming the first violation:
 * - pages_shared + pages_sharing = items with STABLE_FLAG; pages_unshared = items with
 *   UNSTABLE_FLAG; no item has both; rmap_items = all items = the sum of mm->ksm_rmap_items
 *   (exited mms still on the list included); per mm, ksm_merging_pages = its stable items;
 * - rmap lists sorted by address without duplicates; the mm_slot list circular and equal to
 *   the slot hash; registered mms carry MMF_VM_MERGEABLE, unregistered live mms have no items;
 * - every stable item is on its head's hlist, whose length is rmap_hlist_len; pages_shared is
 *   the number of nodes (regular and dups) with a non-empty hlist, pages_sharing the sum of
 *   (length − 1); stable_node_chains and stable_node_dups equal what the trees hold; every
 *   live KSM frame's node is in a tree;
 * - every tree passes rbVerify; stable trees are ordered by content over live nodes, and a
 *   chain's live dups share one content; during a scan the unstable trees hold exactly the
 *   items marked UNSTABLE in this scan (seqnr & 0xff), with their nid;
 * - ksm_zero_pages = the sum of mm->ksm_zero_pages = the KSM-placed zero PTEs (special and
 *   dirty), per mm as well.
 */
export function ksmVerify(ksm: Ksm): void {
  const slots = verifySlotList(ksm);
  const frames = ksm.mmgr.frames;
  const seqnr = ksm.ksmScan.seqnr & SEQNR_MASK;
  const midScan = ksm.ksmScan.mmSlot !== ksm.mmHead;

  // ---- rmap lists ----
  const items = ksm.items;
  const name = (item: RmapItem): string => itemName(items, item);
  const live = new Set<RmapItem>();
  const stableItems = new Set<RmapItem>();
  const unstableNow = new Set<RmapItem>();
  const tally = new Map<MmStruct, MmTally>();
  let unstable = 0;
  for (const slot of slots) {
    const mm = slot.mm!;
    const t: MmTally = { items: 0, stable: 0 };
    tally.set(mm, t);
    let lastAddr = -1;
    for (let item = items.rmapList[slot.head]!; item !== NULL_ITEM; item = items.rmapList[item]!) {
      if (live.has(item)) throw new KernelBug(`mm ${mm.id}: rmap_list loops at ${name(item)}`);
      live.add(item);
      const address = items.address[item]!;
      if (items.mm(item) !== mm) throw new KernelBug(`${name(item)} is on the rmap_list of mm ${mm.id}`);
      if (address % 4096 !== 0) throw new KernelBug(`${name(item)}: address not page-aligned`);
      if (address <= lastAddr)
        throw new KernelBug(`mm ${mm.id}: rmap_list not strictly sorted (${hex(address)} after ${hex(lastAddr)})`);
      lastAddr = address;
      const f = items.flags[item]!;
      if ((f & ~(SEQNR_MASK | UNSTABLE_FLAG | STABLE_FLAG)) !== 0)
        throw new KernelBug(`${name(item)}: unknown flag bits`);
      if ((f & STABLE_FLAG) !== 0 && (f & UNSTABLE_FLAG) !== 0)
        throw new KernelBug(`${name(item)}: both STABLE_FLAG and UNSTABLE_FLAG`);
      t.items++;
      if ((f & STABLE_FLAG) !== 0) {
        t.stable++;
        stableItems.add(item);
        if (ksm.stableNodeOf(item) === undefined) throw new KernelBug(`${name(item)}: stable without a live head node`);
      } else if ((f & UNSTABLE_FLAG) !== 0) {
        unstable++;
        const age = (ksm.ksmScan.seqnr - (f & SEQNR_MASK)) & 0xff;
        // Unstable items are revisited (or freed) within one scan of entering the tree.
        if (age > 1) throw new KernelBug(`${name(item)}: unstable for ${age} scans (seqnr ${ksm.ksmScan.seqnr})`);
        if (midScan && age === 0) unstableNow.add(item);
      }
    }
    if (mm.ksmRmapItems !== t.items)
      throw new KernelBug(`mm ${mm.id}: ksm_rmap_items ${mm.ksmRmapItems} but ${t.items} items on its rmap_list`);
    if (mm.ksmMergingPages !== t.stable)
      throw new KernelBug(`mm ${mm.id}: ksm_merging_pages ${mm.ksmMergingPages} but ${t.stable} stable items`);
  }
  if (ksm.rmapItems !== live.size)
    throw new KernelBug(`ksm_rmap_items ${ksm.rmapItems} but ${live.size} items on the rmap_lists`);
  if (ksm.pagesShared + ksm.pagesSharing !== stableItems.size) {
    throw new KernelBug(
      `pages_shared ${ksm.pagesShared} + pages_sharing ${ksm.pagesSharing} != ${stableItems.size} stable items`,
    );
  }
  if (ksm.pagesUnshared !== unstable)
    throw new KernelBug(`pages_unshared ${ksm.pagesUnshared} but ${unstable} unstable items`);

  // ---- ksm_scan cursor ----
  if (midScan) {
    const slot = ksm.ksmScan.mmSlot;
    const link = ksm.ksmScan.rmapList;
    let ok = link === slot.head;
    for (let item = items.rmapList[slot.head]!; !ok && item !== NULL_ITEM; item = items.rmapList[item]!)
      ok = item === link;
    if (!ok) throw new KernelBug(`ksm_scan.rmap_list points outside the rmap_list of mm ${slot.mm?.id}`);
  }

  // ---- per-mm counters of live and exited mms ----
  const mms = new Set<MmStruct>(tally.keys());
  for (const task of ksm.mmgr.tasks.values()) {
    const mm = task.mm;
    mms.add(mm);
    if (!tally.has(mm)) {
      if ((mm.flags & MMF_VM_MERGEABLE) !== 0) throw new KernelBug(`mm ${mm.id}: MMF_VM_MERGEABLE without an mm_slot`);
      if (mm.ksmRmapItems !== 0 || mm.ksmMergingPages !== 0) {
        throw new KernelBug(
          `mm ${mm.id}: unregistered but ksm_rmap_items ${mm.ksmRmapItems}, ksm_merging_pages ${mm.ksmMergingPages}`,
        );
      }
    }
  }
  let zeroSum = 0;
  for (const mm of mms) {
    const ptes = countKsmZeroPtes(mm);
    if (mm.ksmZeroPages !== ptes)
      throw new KernelBug(`mm ${mm.id}: ksm_zero_pages ${mm.ksmZeroPages} but ${ptes} KSM zero-page PTEs`);
    zeroSum += mm.ksmZeroPages;
  }
  if (ksm.zeroPages !== zeroSum)
    throw new KernelBug(`ksm_zero_pages ${ksm.zeroPages} but the mms' ksm_zero_pages sum to ${zeroSum}`);

  // ---- stable trees ----
  const contents = ksm.mmgr.contents;
  const onHlist = new Set<RmapItem>();
  const nodes = new Set<StableNode>();
  const acc = { shared: 0, sharing: 0 };
  let chains = 0;
  let dups = 0;
  ksm.rootStableTree.forEach((root, nid) => {
    const what = `stable tree ${nid}`;
    verifyTree(ksm.stableStore, root, what);
    let prevContent = -1;
    for (let node = rbFirst(ksm.stableStore, root); node !== null; node = rbNext(ksm.stableStore, node)) {
      if (node.nid !== nid) throw new KernelBug(`${what}: node of pfn ${node.kpfn} says nid ${node.nid}`);
      if (node.isDup) throw new KernelBug(`${what}: a dup (pfn ${node.kpfn}) sits in the tree itself`);
      nodes.add(node);
      let content = -1;
      if (node.isChain()) {
        chains++;
        if (node.hlist !== NULL_ITEM) throw new KernelBug(`${what}: a chain holds rmap_items`);
        let prev: StableNode | null = null;
        for (let dup = node.dups; dup !== null; dup = dup.dupNext) {
          if (nodes.has(dup)) throw new KernelBug(`${what}: dup of pfn ${dup.kpfn} reached twice`);
          nodes.add(dup);
          if (!dup.isDup || dup.chain !== node)
            throw new KernelBug(`${what}: dup of pfn ${dup.kpfn} does not name its chain`);
          if (dup.dupPrev !== prev) throw new KernelBug(`${what}: dup of pfn ${dup.kpfn}: prev link is wrong`);
          if (dup.nid !== nid) throw new KernelBug(`${what}: dup of pfn ${dup.kpfn} says nid ${dup.nid}`);
          prev = dup;
          dups++;
          verifyPageNode(ksm, dup, live, onHlist, acc);
          if (alive(ksm, dup)) {
            const c = frames.content[dup.kpfn]!;
            if (content >= 0 && contents.compare(content, c) !== 0)
              throw new KernelBug(`${what}: live dups of one chain differ in content (pfn ${dup.kpfn})`);
            content = c;
          }
        }
      } else {
        verifyPageNode(ksm, node, live, onHlist, acc);
        if (alive(ksm, node)) content = frames.content[node.kpfn]!;
      }
      if (content >= 0) {
        if (prevContent >= 0 && contents.compare(prevContent, content) > 0) {
          throw new KernelBug(
            `${what}: in-order walk meets pfn ${node.kpfn} whose content sorts before its predecessor's`,
          );
        }
        prevContent = content;
      }
    }
  });
  for (const node of ksm.migrateNodes) {
    if (!node.onMigrateList) throw new KernelBug(`migrate_nodes holds pfn ${node.kpfn} not marked as on it`);
    if (nodes.has(node)) throw new KernelBug(`node of pfn ${node.kpfn} is on migrate_nodes and in a tree`);
    nodes.add(node);
    verifyPageNode(ksm, node, live, onHlist, acc);
  }
  if (onHlist.size !== stableItems.size) {
    const lost = [...stableItems].find((i) => !onHlist.has(i))!;
    throw new KernelBug(`${name(lost)} is stable but on no hlist of a node in the stable trees`);
  }
  if (ksm.pagesShared !== acc.shared)
    throw new KernelBug(`pages_shared ${ksm.pagesShared} but ${acc.shared} stable nodes have rmap_items`);
  if (ksm.pagesSharing !== acc.sharing)
    throw new KernelBug(`pages_sharing ${ksm.pagesSharing} but the nodes' rmap_hlist_len − 1 sum to ${acc.sharing}`);
  if (ksm.stableNodeChains !== chains)
    throw new KernelBug(`stable_node_chains ${ksm.stableNodeChains} but the trees hold ${chains} chains`);
  if (ksm.stableNodeDups !== dups)
    throw new KernelBug(`stable_node_dups ${ksm.stableNodeDups} but the chains hold ${dups} dups`);
  for (let pfn = 1; pfn < frames.nrFrames; pfn++) {
    if (frames.refcount[pfn] === 0 || !frames.isKsm(pfn)) continue;
    if ((frames.flags[pfn]! & PG_anon) === 0) throw new KernelBug(`KSM frame ${pfn} is not anon`);
    const node = frames.stableNode(pfn);
    if (node === null) throw new KernelBug(`KSM frame ${pfn} points at no stable node`);
    if (!ksm.owns(node)) continue; // another scanner's page (KSM+), not in these trees
    if (!nodes.has(node)) throw new KernelBug(`KSM frame ${pfn} points at a stable node that is in no tree`);
    if (node.kpfn !== pfn) throw new KernelBug(`KSM frame ${pfn} points at the node of pfn ${node.kpfn}`);
  }

  // ---- unstable trees ----
  // Between scans the trees are dead: the next scan resets them before any lookup, and run=2
  // may have freed their items without erasing them, and their rows may hold new items now
  // (as freed memory does in Linux). So they are checked only during a scan.
  let inTrees = 0;
  ksm.rootUnstableTree.forEach((root, nid) => {
    // Roots past ksm_nr_node_ids (merge_across_nodes went back to 1) are not in use and not
    // reset by the scan, so they may hold anything, as in Linux.
    if (nid >= ksm.nrNodeIds || !midScan) return;
    // A replayed scan's trees are built first (unstable_replay.ts).
    ksm.unstableReplay.stopFollowing(ksm);
    const what = `unstable tree ${nid}`;
    const nodes = ksm.unstableNodes;
    verifyTree(nodes, root, what);
    // No content order is checked: pages change under the unstable tree (hence its name),
    // and Linux walks it anyway.
    for (let row = rbFirst(nodes, root); row !== nodes.nil; row = rbNext(nodes, row)) {
      const item = nodes.item(row);
      if (items.treeNode[item] !== row)
        throw new KernelBug(`${what}: node ${row} holds rmap_item ${item}, whose node is another`);
      if (!unstableNow.has(item))
        throw new KernelBug(`${what} holds rmap_item ${item} that is on no rmap_list or not unstable in this scan`);
      const f = items.flags[item]!;
      if ((f & UNSTABLE_FLAG) === 0) throw new KernelBug(`${what} holds ${name(item)} without UNSTABLE_FLAG`);
      if ((f & SEQNR_MASK) !== seqnr)
        throw new KernelBug(`${what} holds ${name(item)} of another scan (seqnr ${ksm.ksmScan.seqnr})`);
      if (items.nid[item] !== nid) throw new KernelBug(`${what} holds ${name(item)} of nid ${items.nid[item]}`);
      inTrees++;
    }
  });
  // This scan's items of a node past ksm_nr_node_ids are in that node's root, unchecked above.
  let inUse = 0;
  for (const item of unstableNow) if (items.nid[item]! < ksm.nrNodeIds) inUse++;
  if (midScan && inTrees !== inUse) {
    throw new KernelBug(`${inUse} items entered the unstable trees in use in this scan but the trees hold ${inTrees}`);
  }
  // The model's count of them, which the reload after a sleep follows (Ksm.payReload).
  if (midScan && ksm.unstableTreeNodes !== unstableNow.size)
    throw new KernelBug(`the unstable trees count ${ksm.unstableTreeNodes} nodes but hold ${unstableNow.size}`);
}
