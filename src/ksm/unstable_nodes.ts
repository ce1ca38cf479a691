import type { RbStore } from '../lib/rbtree.ts';
import { grownCapacity, resized } from '../lib/typed_arrays.ts';
import type { RmapItem } from './rmap_item.ts';

/**
 * The nodes of the unstable trees: in Linux an rmap_item's `node` field (a union with its
 * stable-tree fields); here a table with one row per item inserted in the current full
 * scan, in insertion order, emptied when the scan starts again (when Linux resets the
 * trees). Row 0 is nil.
 *
 * Why not columns of the rmap_item table: every step of a tree walk is a cache miss on a
 * row chosen by page contents, and a table of only this scan's tree is as small as it can
 * be (with smart_scan a scan inserts a sixth of the items, or less), its rows in the order
 * the walker met them. A row is 32 bytes, two to a cache line, everything a walk step and
 * the rebalancing read together: the links and colour, and the walk cache of
 * unstable_tree.ts (the tree item's page, the first 4 bytes of that page biased so that
 * signed order is memcmp order, and the stamp they were read at).
 */
export const W_LEFT = 0;
export const W_RIGHT = 1;
export const W_KEY = 2;
export const W_STAMP = 3;
const W_PARENT = 4;
const W_RED = 5;
const W_ITEM = 6;
const W_PFN = 7;
export const STRIDE = 8;

const INITIAL_ROWS = 1024;

export class UnstableNodes implements RbStore<number> {
  readonly nil = 0;
  /** STRIDE int32 per row (see W_*). Replaced when the table grows. */
  walk: Int32Array;
  #used = 1;
  /** Rows the owner expects at most (its rmap_items): growth stops there before going past. */
  readonly #sizeHint: number;

  constructor(sizeHint: number) {
    this.#sizeHint = Math.max(INITIAL_ROWS, sizeHint);
    this.walk = new Int32Array(INITIAL_ROWS * STRIDE);
  }

  /** Forgets every row: the trees were reset. */
  reset(): void {
    this.#used = 1;
  }

  /** A new row for `item`, whose page is frame `pfn` with (biased) key `key` read at `stamp`. */
  alloc(item: RmapItem, pfn: number, key: number, stamp: number): number {
    if (this.#used * STRIDE === this.walk.length)
      this.walk = resized(this.walk, grownCapacity(this.#used, this.#sizeHint) * STRIDE);
    const row = this.#used++;
    this.walk[row * STRIDE + W_ITEM] = item;
    this.remember(row, pfn, key, stamp);
    return row;
  }

  /** Stores a row's walk cache: its page's frame (-1: none), key and stamp. */
  remember(row: number, pfn: number, key: number, stamp: number): void {
    const at = row * STRIDE;
    this.walk[at + W_PFN] = pfn;
    this.walk[at + W_KEY] = key;
    this.walk[at + W_STAMP] = stamp;
  }

  item(row: number): RmapItem {
    return this.walk[row * STRIDE + W_ITEM]!;
  }

  /** The frame the row's walk cache holds. */
  pfn(row: number): number {
    return this.walk[row * STRIDE + W_PFN]!;
  }

  parent(n: number): number {
    return this.walk[n * STRIDE + W_PARENT]!;
  }
  left(n: number): number {
    return this.walk[n * STRIDE + W_LEFT]!;
  }
  right(n: number): number {
    return this.walk[n * STRIDE + W_RIGHT]!;
  }
  isRed(n: number): boolean {
    return this.walk[n * STRIDE + W_RED] === 1;
  }
  setParent(n: number, v: number): void {
    this.walk[n * STRIDE + W_PARENT] = v;
  }
  setLeft(n: number, v: number): void {
    this.walk[n * STRIDE + W_LEFT] = v;
  }
  setRight(n: number, v: number): void {
    this.walk[n * STRIDE + W_RIGHT] = v;
  }
  setRed(n: number, red: boolean): void {
    this.walk[n * STRIDE + W_RED] = red ? 1 : 0;
  }
}
