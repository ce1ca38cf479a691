import type { ContentStore } from './content_store.ts';
import type { KsmPageLink } from './ksm_hooks.ts';
import { PG_ksm, PG_zero } from './constants.ts';
import { KernelBug } from './kernel_bug.ts';
import { MemoryGeneration } from './generation.ts';

/**
 * Physical memory: the kernel's mem_map of struct page, as parallel typed arrays indexed by
 * page frame number (pfn), so a 64 GiB machine costs a few bytes per frame. Frame 0 is the
 * shared zero page and is never allocated or freed. Frames are split into NUMA nodes in
 * contiguous blocks; allocation without a binding interleaves round-robin over the nodes.
 */
export class PageFrames {
  readonly nrFrames: number;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  /** ContentStore id of the frame's bytes. */
  readonly content: Int32Array;
  /** PG_* bits. */
  readonly flags: Uint8Array;
  /**
   * folio->mapping of KSM folios: the stable node, or null while stable_tree_insert runs
   * (and for every frame that is not KSM). An array by frame rather than a map of the KSM
   * frames: ksmd asks on every visit and at every stable-tree step, and an array answers
   * for 8 bytes a frame what a map lookup costs 15-20 ns for. Made when the first frame
   * becomes KSM: a machine that never merges does not pay for it.
   */
  #ksmLinks: Array<KsmPageLink | null> | null = null;
  readonly #freeStacks: Int32Array[];
  readonly #freeTops: number[];
  readonly #nodeStart: number[];
  #nextNode = 0;
  readonly zeroPfn = 0;

  readonly nrNodes: number;
  readonly contents: ContentStore;
  /** Changes of frames (allocation, freeing, becoming KSM) and of everything mapping them. */
  readonly generation = new MemoryGeneration();

  constructor(nrFrames: number, nrNodes: number, contents: ContentStore) {
    this.nrNodes = nrNodes;
    this.contents = contents;
    if (nrFrames < 2) throw new RangeError('A machine needs at least 2 page frames');
    this.nrFrames = nrFrames;
    this.refcount = new Int32Array(nrFrames);
    this.mapcount = new Int32Array(nrFrames);
    this.content = new Int32Array(nrFrames);
    this.flags = new Uint8Array(nrFrames);
    this.flags[0] = PG_zero;
    this.refcount[0] = 1;
    this.#freeStacks = [];
    this.#freeTops = [];
    this.#nodeStart = [];
    const per = Math.ceil((nrFrames - 1) / nrNodes);
    for (let n = 0; n < nrNodes; n++) {
      const lo = 1 + n * per;
      const hi = Math.min(nrFrames, lo + per);
      this.#nodeStart.push(lo);
      const stack = new Int32Array(Math.max(0, hi - lo));
      // Lowest pfn on top, so allocation order is deterministic and readable in traces.
      for (let i = 0; i < stack.length; i++) stack[i] = hi - 1 - i;
      this.#freeStacks.push(stack);
      this.#freeTops.push(stack.length);
    }
  }

  /** NUMA node of a frame (pfn_to_nid). */
  pfnToNid(pfn: number): number {
    if (pfn === 0) return 0;
    let n = this.nrNodes - 1;
    while (n > 0 && pfn < this.#nodeStart[n]!) n--;
    return n;
  }

  /** Free frames, all nodes. */
  nrFree(): number {
    let s = 0;
    for (const t of this.#freeTops) s += t;
    return s;
  }

  /**
   * Allocates a frame holding `content` (the reference passes to the frame), on `nid` if
   * given, else on the next node round-robin. Returns -1 when memory is exhausted.
   */
  allocPage(content: number, nid: number | undefined): number {
    let node = nid ?? this.#nextNode;
    if (nid === undefined) this.#nextNode = (this.#nextNode + 1) % this.nrNodes;
    if (this.#freeTops[node] === 0) {
      if (nid !== undefined) return -1;
      node = this.#freeTops.findIndex((t) => t > 0);
      if (node < 0) return -1;
    }
    const pfn = this.#freeStacks[node]![--this.#freeTops[node]!]!;
    this.generation.bump();
    this.refcount[pfn] = 1;
    this.mapcount[pfn] = 0;
    this.content[pfn] = content;
    this.flags[pfn] = 0;
    return pfn;
  }

  getPage(pfn: number): void {
    this.refcount[pfn]!++;
  }

  /** Drops a reference; the last one frees the frame and its bytes (put_page). */
  putPage(pfn: number): void {
    if (pfn === this.zeroPfn) return;
    const r = --this.refcount[pfn]!;
    if (r > 0) return;
    if (r < 0) throw new KernelBug(`put_page on free frame ${pfn}`);
    this.generation.bump();
    // Freeing resets folio->mapping: a stable node pointing here is now stale (keyhole).
    if (this.#ksmLinks !== null) this.#ksmLinks[pfn] = null;
    this.contents.release(this.content[pfn]!);
    this.flags[pfn] = 0;
    this.mapcount[pfn] = 0;
    const node = this.pfnToNid(pfn);
    this.#freeStacks[node]![this.#freeTops[node]!++] = pfn;
  }

  isKsm(pfn: number): boolean {
    return (this.flags[pfn]! & PG_ksm) !== 0;
  }

  /** folio_stable_node: the stable node of a KSM page, else null. */
  stableNode(pfn: number): KsmPageLink | null {
    return this.#ksmLinks === null ? null : (this.#ksmLinks[pfn] as KsmPageLink | null);
  }

  /** folio_set_stable_node: marks the frame a KSM page pointing at `node` (or at none yet). */
  setStableNode(pfn: number, node: KsmPageLink | null): void {
    this.generation.bump();
    this.flags[pfn]! |= PG_ksm;
    this.#ksmLinks ??= new Array<KsmPageLink | null>(this.nrFrames).fill(null);
    this.#ksmLinks[pfn] = node;
  }

  /** Whether the frame is free (refcount 0). */
  isFree(pfn: number): boolean {
    return pfn !== this.zeroPfn && this.refcount[pfn] === 0;
  }
}
