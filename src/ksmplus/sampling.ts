import { PAGE_SIZE } from '../lib/sizes.ts';
import { samplePageIndices } from '../lib/thesis_sampling.ts';
import { PG_anon, VM_NOT_MERGEABLE, _PAGE_PRESENT, _PAGE_SPECIAL } from '../mm/constants.ts';
import { STABLE_FLAG } from '../ksm/constants.ts';
import { ksmCompatible } from '../ksm/control.ts';
import { allocRmapItem, freeRmapItem, removeRmapItemFromTree, removeTrailingRmapItems } from '../ksm/rmap.ts';
import type { Vma } from '../mm/vma.ts';
import { NULL_ITEM, type RmapItem } from '../ksm/rmap_item.ts';
import type { KsmPlus } from './ksmplus.ts';
import type { PlusSlot } from './plus_slot.ts';
import { VmaNode } from './vma_node.ts';

/** The page indices a round samples in a VMA (src/lib/thesis_sampling.ts), with the machine's PRNG. */
export function samplePages(plus: KsmPlus, pages: number, coefficient: number): number[] {
  return samplePageIndices(pages, coefficient, (n) => plus.prng.below(n));
}

/**
 * Whether a stable item that a round passes over still maps its KSM page. The thesis keeps
 * every stable item; an item whose page was written since would then count as sharing for
 * ever, so KSM+ here drops it as ksmd's next visit would (a deviation, docs/ksmplus.md).
 */
function stillMerged(plus: KsmPlus, item: RmapItem): boolean {
  const items = plus.engine.items;
  const vpn = items.address[item]! / PAGE_SIZE;
  const pt = items.mm(item).pgtable;
  const head = plus.engine.stableNodeOf(item);
  return (
    (pt.flags(vpn) & _PAGE_PRESENT) !== 0 &&
    head !== undefined &&
    pt.pfn(vpn) === head.kpfn &&
    plus.mmgr.frames.stableNode(head.kpfn) === head
  );
}

/**
 * Frees the items after `link` up to (not including) `addr` that are not in the stable
 * tree, keeping merged ones: the rmap_item reclamation of the thesis.
 * @thesis 4.2.2 vma_node_do_sampling (reclamation part)
 */
function reclaimUpTo(plus: KsmPlus, node: VmaNode, addr: number): RmapItem {
  const items = plus.engine.items;
  let link = node.cursor;
  for (
    let item = items.rmapList[link]!;
    item !== NULL_ITEM && items.address[item]! < addr;
    item = items.rmapList[link]!
  ) {
    if ((items.flags[item]! & STABLE_FLAG) !== 0 && stillMerged(plus, item)) {
      link = item;
      continue;
    }
    items.rmapList[link] = items.rmapList[item]!;
    removeRmapItemFromTree(plus.engine, item);
    freeRmapItem(plus.engine, item);
  }
  return link;
}

/** A new vma_node for `vma`, with its list head row. */
function allocVmaNode(plus: KsmPlus, vma: Vma): VmaNode {
  plus.vmaNodes++;
  return new VmaNode(vma, plus.initialCoefficient, plus.engine.items.allocHead());
}

/** Frees a vma_node: its items, then its list head (the VMA went away, was dropped, or run=2). */
export function dropVmaNode(plus: KsmPlus, node: VmaNode): void {
  removeTrailingRmapItems(plus.engine, node.head);
  plus.engine.items.release(node.head);
  plus.vmaNodes--;
}

/**
 * Brings a slot's vma_nodes in line with the process's VMAs: a node per compatible
 * anonymous VMA that KSM+ has not given up on; nodes of VMAs that changed or vanished go.
 */
export function syncVmaNodes(plus: KsmPlus, slot: PlusSlot): void {
  const keep: VmaNode[] = [];
  const old = new Map(slot.vmaNodes.map((n) => [`${n.start}:${n.end}`, n]));
  for (const vma of slot.mm.vmas) {
    if (!ksmCompatible(vma.vmFlags) || (vma.vmFlags & VM_NOT_MERGEABLE) !== 0 || vma.anonVma === null) continue;
    const key = `${vma.vmStart}:${vma.vmEnd}`;
    const node = old.get(key);
    if (node !== undefined && node.vma === vma) {
      old.delete(key);
      keep.push(node);
    } else {
      keep.push(allocVmaNode(plus, vma));
    }
  }
  for (const gone of old.values()) dropVmaNode(plus, gone);
  const current = slot.vmaNodes[slot.nodeIdx];
  slot.vmaNodes = keep;
  const idx = current === undefined ? -1 : keep.indexOf(current);
  slot.nodeIdx = idx >= 0 ? idx : Math.min(slot.nodeIdx, keep.length);
}

/** The next sampled page of `node` this round, as (item, frame), or null when done. */
export function nextSample(plus: KsmPlus, node: VmaNode): { item: RmapItem; pfn: number } | null {
  if (node.samples === null) {
    node.samples = samplePages(plus, node.pages(), node.coefficient);
    node.sampleIdx = 0;
    node.cursor = node.head;
  }
  const items = plus.engine.items;
  const frames = plus.mmgr.frames;
  while (node.sampleIdx < node.samples.length) {
    const addr = node.start + node.samples[node.sampleIdx++]! * PAGE_SIZE;
    const link = reclaimUpTo(plus, node, addr);
    node.cursor = link;
    const vpn = addr / PAGE_SIZE;
    const pt = node.vma.vmMm.pgtable;
    const pte = pt.flags(vpn);
    if ((pte & _PAGE_PRESENT) === 0 || (pte & _PAGE_SPECIAL) !== 0) continue;
    const pfn = pt.pfn(vpn);
    if ((frames.flags[pfn]! & PG_anon) === 0) continue;
    let item = items.rmapList[link]!;
    if (item === NULL_ITEM || items.address[item] !== addr) {
      item = allocRmapItem(plus.engine, link, node.vma.vmMm, addr);
      // A page newly picked by sampling counts as seen once already (docs/ksmplus.md, "first
      // visit"): without this, cmp_and_merge_page's checksum rule would keep it out of the
      // unstable tree until a second visit, which a freed-and-resampled page rarely gets.
      items.oldchecksum[item] = plus.engine.calcChecksum(pfn);
    }
    node.cursor = item;
    return { item, pfn };
  }
  return null;
}

/**
 * Ends a vma_node's round: unsampled items past the last sample are reclaimed, the
 * coefficient falls, and a VMA with nothing merged once the coefficient is low is given up
 * (VM_NOT_MERGEABLE). Returns false when the node was dropped.
 * @thesis 4.2.2 vma_node_do_sampling (vma_node reclamation)
 */
export function finishVmaNodeRound(plus: KsmPlus, node: VmaNode): boolean {
  reclaimUpTo(plus, node, Number.POSITIVE_INFINITY);
  node.samples = null;
  // The thesis tests `coefficient < 10` right after `coefficient -= 10`: the value before any
  // floor, so with the defaults a VMA is dropped after the round that sampled 10 %.
  const next = node.coefficient - plus.coefficientStep;
  node.coefficient = Math.max(plus.minCoefficient, next);
  const items = plus.engine.items;
  let stable = 0;
  for (let i = items.rmapList[node.head]!; i !== NULL_ITEM; i = items.rmapList[i]!)
    if ((items.flags[i]! & STABLE_FLAG) !== 0) stable++;
  if (stable === 0 && next < plus.dropCoefficient) {
    dropVmaNode(plus, node);
    node.vma.vmFlags |= VM_NOT_MERGEABLE;
    return false;
  }
  return true;
}
