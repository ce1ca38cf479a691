import { grownCapacity, makeResident, resized } from '../lib/typed_arrays.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { SEQNR_MASK, UNSTABLE_FLAG } from './constants.ts';

/**
 * struct ksm_rmap_item: KSM's record of one scanned virtual page (mm, address), as a row of
 * the RmapItems table. 0 is NULL.
 *
 * Rows rather than objects because there is one per scanned page: a model of 64 GiB holds
 * 16 Mi of them, and as columns of typed arrays an item costs 71 bytes and no garbage
 * collection, against about 190 for an object with boxed numbers. Kernel field names are
 * the column names: `items.oldchecksum[item]` is `rmap_item->oldchecksum`.
 */
export type RmapItem = number;

/** The NULL rmap_item. */
export const NULL_ITEM: RmapItem = 0;

/**
 * `head` of an item that has been in an unstable tree: the first word of its rb_node, which
 * is no stable node's object (slab.ts numbers those from 1).
 */
export const HEAD_IN_RB_NODE = -1;

/**
 * Rows the table has at least; it starts at the size hint, but at most MAX_INITIAL_ITEMS
 * items and HEAD_ROWS list heads (one per mm, and per KSM+ VMA node), and grows by half.
 */
const INITIAL_ROWS = 1024;
const MAX_INITIAL_ITEMS = 1 << 16;
const HEAD_ROWS = 1024;

/**
 * Every rmap_item of one scanner, and the heads of its lists. The kernel keeps the flags in
 * the low bits of `address`; here they are the column `flags` (SEQNR_MASK | UNSTABLE_FLAG |
 * STABLE_FLAG) and `address` stays page aligned. The kernel's unions are spelled out: the
 * `treeNode` row (unstable_nodes.ts) serves while the item is in the unstable tree, `head`
 * and the hlist links while it is on a stable node. The one overlap that shows is kept:
 * entering the unstable tree overwrites `head` (enterUnstableTree).
 *
 * A list head (mm_slot->rmap_list, a KSM+ vma_node's list, ksm_scan.rmap_list's target) is a
 * row too, whose `rmapList` is the first item: a link is then always a row, as the kernel's
 * `struct ksm_rmap_item **` is always a pointer to a `rmap_list` field.
 *
 * Columns are replaced when the table grows: read them through the table each time, never
 * keep one across an `alloc`.
 */
export class RmapItems {
  /** Next item of this mm (or list), in rising address order. */
  rmapList: Int32Array;
  /** Index into `mms`. */
  mmIndex: Int32Array;
  address: Float64Array;
  flags: Uint32Array;
  /** Checksum of the page at the previous visit (u32). */
  oldchecksum: Uint32Array;
  /** smart_scan: visits without a merge, saturating at 255. */
  age: Uint8Array;
  /** smart_scan: visits still to skip. */
  remainingSkips: Uint8Array;
  /** NUMA tree the item was inserted in while unstable. */
  nid: Uint8Array;
  /** The item's row in the unstable trees' node table while it is in a tree this scan. */
  treeNode: Int32Array;
  /**
   * The stable node (regular node or dup) the item is attached to, by its object in the
   * slab (slab.ts); 0 none. Left dangling when the node goes stale, as in Linux, until the
   * item enters an unstable tree (HEAD_IN_RB_NODE).
   */
  head: Int32Array;
  hlistNext: Int32Array;
  hlistPrev: Int32Array;
  /** The item's own object in the slab (slab.ts); 0 for a list head. */
  slab: Int32Array;

  /** The mm of each `mmIndex`, with the number of rows that use it (freed at 0). */
  readonly #mms: Array<MmStruct | undefined> = [undefined];
  readonly #mmUses: number[] = [0];
  readonly #mmIndexOf = new Map<MmStruct, number>();
  readonly #freeMmIndices: number[] = [];
  #lastMm: MmStruct | undefined;
  #lastMmIndex = 0;

  #capacity: number;
  #used = 1;
  readonly #freeRows: number[] = [];
  /** Rows the owner expects at most (its frames); growth stops there before going past. */
  readonly #sizeHint: number;

  constructor(sizeHint: number) {
    this.#sizeHint = Math.max(INITIAL_ROWS, sizeHint);
    // Sized for the machine at once up to 64 Ki items and their list heads (2.8 MiB):
    // growing by copying every column costs a first full scan of a small machine ~100 ns
    // per page (a machine of exactly 64 Ki mergeable pages grew for its few heads). Past
    // that the table grows by half, so a scanner with few items (KSM+, often) stays small.
    this.#capacity = Math.min(this.#sizeHint, MAX_INITIAL_ITEMS + HEAD_ROWS);
    this.rmapList = new Int32Array(this.#capacity);
    this.mmIndex = new Int32Array(this.#capacity);
    this.address = new Float64Array(this.#capacity);
    this.flags = new Uint32Array(this.#capacity);
    this.oldchecksum = new Uint32Array(this.#capacity);
    this.age = new Uint8Array(this.#capacity);
    this.remainingSkips = new Uint8Array(this.#capacity);
    this.nid = new Uint8Array(this.#capacity);
    this.treeNode = new Int32Array(this.#capacity);
    this.head = new Int32Array(this.#capacity);
    this.hlistNext = new Int32Array(this.#capacity);
    this.hlistPrev = new Int32Array(this.#capacity);
    this.slab = new Int32Array(this.#capacity);
    // Resident from the start: otherwise the first full scan pays a host page fault for
    // about every hundred new items (4 KiB of the 8-byte column, 1-6 µs a fault in a VM),
    // which is the host's memory management and no part of what ksmd does.
    for (const column of [
      this.rmapList,
      this.mmIndex,
      this.address,
      this.flags,
      this.oldchecksum,
      this.age,
      this.remainingSkips,
      this.nid,
      this.treeNode,
      this.head,
      this.hlistNext,
      this.hlistPrev,
      this.slab,
    ])
      makeResident(column);
  }

  /** A zeroed rmap_item for (mm, address): alloc_rmap_item's kmem_cache_zalloc. */
  alloc(mm: MmStruct, address: number): RmapItem {
    const item = this.#allocRow();
    this.mmIndex[item] = this.#useMm(mm);
    this.address[item] = address;
    return item;
  }

  /** A list head: a row that is never an rmap_item, with an empty list. */
  allocHead(): RmapItem {
    return this.#allocRow();
  }

  /** Gives a row back (free_rmap_item, or a list head no longer needed). */
  release(row: RmapItem): void {
    const m = this.mmIndex[row]!;
    if (m !== 0 && --this.#mmUses[m]! === 0) {
      this.#mmIndexOf.delete(this.#mms[m]!);
      this.#mms[m] = undefined;
      this.#freeMmIndices.push(m);
    }
    this.#freeRows.push(row);
  }

  /**
   * The item enters an unstable tree (unstable_tree_search_insert): UNSTABLE_FLAG with the
   * scan's number, its tree's node, and `head` overwritten. Linux keeps `head` in a union
   * with the item's rb_node, and rb_link_node writes the parent's rb_node address (its colour
   * in bit 0) where `head` was: never NULL, never a stable node (64-byte aligned objects). So
   * a head left dangling by remove_node_from_stable_tree names nothing once the item has been
   * in an unstable tree (generated batch scenario 1009: a dangling head would otherwise have
   * met the node given its memory).
   */
  enterUnstableTree(item: RmapItem, seqnr: number, nid: number): void {
    this.flags[item]! |= UNSTABLE_FLAG | (seqnr & SEQNR_MASK);
    this.nid[item] = nid;
    this.head[item] = HEAD_IN_RB_NODE;
  }

  /** rmap_item->mm */
  mm(item: RmapItem): MmStruct {
    return this.#mms[this.mmIndex[item]!]!;
  }

  #allocRow(): RmapItem {
    if (this.#freeRows.length === 0) {
      // A row never used before is still all zeros, as the columns were allocated.
      if (this.#used === this.#capacity) this.#grow();
      return this.#used++;
    }
    const row = this.#freeRows.pop()!;
    this.rmapList[row] = 0;
    this.mmIndex[row] = 0;
    this.address[row] = 0;
    this.flags[row] = 0;
    this.oldchecksum[row] = 0;
    this.age[row] = 0;
    this.remainingSkips[row] = 0;
    this.nid[row] = 0;
    this.treeNode[row] = 0;
    this.head[row] = 0;
    this.hlistNext[row] = 0;
    this.hlistPrev[row] = 0;
    this.slab[row] = 0;
    return row;
  }

  #useMm(mm: MmStruct): number {
    // Items are allocated mm by mm as ksmd walks: the last mm is nearly always the next.
    if (mm === this.#lastMm && this.#mms[this.#lastMmIndex] === mm) {
      this.#mmUses[this.#lastMmIndex]!++;
      return this.#lastMmIndex;
    }
    let m = this.#mmIndexOf.get(mm);
    if (m === undefined) {
      m = this.#freeMmIndices.pop() ?? this.#mms.length;
      this.#mms[m] = mm;
      this.#mmUses[m] = 0;
      this.#mmIndexOf.set(mm, m);
    }
    this.#mmUses[m]!++;
    this.#lastMm = mm;
    this.#lastMmIndex = m;
    return m;
  }

  #grow(): void {
    const n = grownCapacity(this.#capacity, this.#sizeHint);
    this.#capacity = n;
    this.rmapList = resized(this.rmapList, n);
    this.mmIndex = resized(this.mmIndex, n);
    this.address = resized(this.address, n);
    this.flags = resized(this.flags, n);
    this.oldchecksum = resized(this.oldchecksum, n);
    this.age = resized(this.age, n);
    this.remainingSkips = resized(this.remainingSkips, n);
    this.nid = resized(this.nid, n);
    this.treeNode = resized(this.treeNode, n);
    this.head = resized(this.head, n);
    this.hlistNext = resized(this.hlistNext, n);
    this.hlistPrev = resized(this.hlistPrev, n);
    this.slab = resized(this.slab, n);
  }
}
