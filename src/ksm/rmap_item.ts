import type { RbNode } from '../lib/rbtree.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import type { AnonVma } from '../mm/vma.ts';
import type { StableNode } from './stable_node.ts';

/**
 * struct ksm_rmap_item: KSM's record of one scanned virtual page (mm, address).
 *
 * The kernel keeps the flags in the low bits of `address`; here they are the separate
 * field `flags` (SEQNR_MASK | UNSTABLE_FLAG | STABLE_FLAG) and `address` stays page
 * aligned. The kernel's unions are spelled out: the rb fields serve while the item is in
 * the unstable tree, `head` and the hlist links while it is on a stable node.
 */
export class RmapItem implements RbNode<RmapItem> {
  /** Next item of this mm, in rising address order (rmap_list). */
  rmapList: RmapItem | null = null;
  /** The VMA's anon_vma, held while the item is stable. */
  anonVma: AnonVma | null = null;
  /** NUMA tree the item was inserted in while unstable. */
  nid = 0;
  readonly mm: MmStruct;
  readonly address: number;
  flags = 0;
  /** Checksum of the page at the previous visit (u32). */
  oldchecksum = 0;
  /** smart_scan: visits without a merge, saturating at 255. */
  age = 0;
  /** smart_scan: visits still to skip. */
  remainingSkips = 0;
  rbParent: RmapItem | null = null;
  rbLeft: RmapItem | null = null;
  rbRight: RmapItem | null = null;
  rbRed = false;
  /** The stable node (regular node or dup) this item is attached to. */
  head: StableNode | null = null;
  hlistNext: RmapItem | null = null;
  hlistPrev: RmapItem | null = null;

  constructor(mm: MmStruct, address: number) {
    this.mm = mm;
    this.address = address;
  }
}

/** What `ksm_scan.rmap_list` points into: the slot's list head or an item's next link. */
export interface RmapListLink {
  rmapList: RmapItem | null;
}
