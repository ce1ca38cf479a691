import { rbInsertColor, rbLinkNode, type RbDir } from '../lib/rbtree.ts';
import { grownCapacity, resized } from '../lib/typed_arrays.ts';
import { KernelBug } from '../mm/kernel_bug.ts';
import { deepStepsCharge } from './cost.ts';
import type { Ksm } from './ksm.ts';
import { getMergeablePage } from './merge.ts';
import type { RmapItem } from './rmap_item.ts';
import { STRIDE, W_KEY, W_LEFT, W_RIGHT } from './unstable_nodes.ts';

/**
 * A full scan of unchanged memory, replayed.
 *
 * ksmd rebuilds the unstable tree from nothing in every full scan. Where memory has not
 * changed at all since an earlier scan (not a PTE, VMA, page byte or frame: the memory
 * generation is the same) and the scan calls unstable_tree_search_insert for the same
 * rmap_items in the same order, every call walks the same tree with the same keys and
 * does the same thing. Idle memory scanned again and again is the common case, and with
 * smart_scan on every page of a quiet process is visited in the same scans.
 *
 * So every full scan records its calls (the item, the first 4 bytes of its page, the
 * memcmps its walk charged, whether it inserted and into which node's tree), and the next
 * scan replays that recording while its calls match: it charges the same memcmps (with their
 * deep-step charges, as the walk charged them), sets the
 * item's flags and counts pages_unshared, and leaves the tree virtual. The first call
 * that differs, anything that needs the real tree (an rb_erase, a verifier) or any change
 * of the rmap_items (a free) builds it from the recorded keys and order, as the calls
 * built it (the first 8 bytes of each page decided every comparison of a recorded walk),
 * and from then on the scan walks for real, recording as it goes.
 *
 * A recording is given up (not replayed) where it could not describe a later scan: a walk
 * that compared whole pages (first 8 bytes equal), memory changing during the recorded
 * scan, an rmap_item freed. KSM+ (walkerFindsMergeablePage false) never replays.
 * `ksm.checkWalkCache` makes every replayable call walk for real as well and compares.
 */
const INFO_INSERTED = 1;
const INITIAL = 1024;

export class UnstableReplay {
  #items = new Int32Array(INITIAL);
  /** The first 8 bytes of the item's page as two biased int32 (unstable_tree.ts pageKey). */
  #keys = new Int32Array(INITIAL);
  #keys1 = new Int32Array(INITIAL);
  /** memcmps the call's walk charged (bytes 0 to 7 decided each). */
  #steps = new Uint8Array(INITIAL);
  /** INFO_INSERTED | nid << 1. */
  #info = new Uint8Array(INITIAL);
  /** Calls recorded. */
  #length = 0;
  /** Whether the recording describes a scan that can be replayed. */
  #valid = false;
  /** The memory generation all recorded calls saw. */
  #generation = -1;
  /** Calls of this scan so far. */
  #pos = 0;
  /** Every call of this scan so far was the recording's, with memory as recorded. */
  #following = false;
  /** The calls followed were replayed and this scan's trees are not built yet. */
  #virtual = false;
  /** Calls replayed, and (check mode) calls walked and found equal to the recording: statistics for tests. */
  replayed = 0;
  checked = 0;

  /** A full scan starts (the trees were just emptied): follow the last recording if any. */
  startScan(ksm: Ksm): void {
    // The scan that just ended is the recording now, unless it made no call at all: then
    // the one before it still describes the scans that do (smart_scan skips whole scans).
    if (this.#pos > 0) this.#length = this.#pos;
    this.#pos = 0;
    this.#following =
      this.#valid &&
      this.#length > 0 &&
      ksm.walkerFindsMergeablePage &&
      this.#generation === ksm.mmgr.frames.generation.value;
    // Check mode walks every call for real and compares it with the recording.
    this.#virtual = this.#following && !ksm.checkWalkCache;
    if (!this.#following) {
      this.#length = 0;
      this.#valid = ksm.walkerFindsMergeablePage;
    }
  }

  /**
   * Before the call of unstable_tree_search_insert for `item` (its page in tree `nid`):
   * replays it and returns true if it is the recording's next call and memory is as
   * recorded. Otherwise the trees are built and the caller walks for real.
   */
  replay(ksm: Ksm, item: RmapItem, nid: number): boolean {
    if (!this.#following) return false;
    const i = this.#pos;
    if (
      i >= this.#length ||
      this.#items[i] !== item ||
      this.#generation !== ksm.mmgr.frames.generation.value ||
      this.#info[i]! >> 1 !== nid
    ) {
      this.stopFollowing(ksm);
      return false;
    }
    if (!this.#virtual) return false; // check mode: record() compares the real walk
    const cost = ksm.cost;
    let charged = 0;
    const steps = this.#steps[i]!;
    for (let s = steps; s > 0; s--) charged += cost.memcmpNs;
    // A recorded walk compared no whole pages, so its steps were at depths 1 to `steps`.
    ksm.cpuNs += charged + deepStepsCharge(cost, steps);
    if ((this.#info[i]! & INFO_INSERTED) !== 0) {
      ksm.items.enterUnstableTree(item, ksm.ksmScan.seqnr, nid);
      ksm.pagesUnshared++;
      ksm.unstableTreeNodes++;
    }
    this.#pos++;
    this.replayed++;
    return true;
  }

  /**
   * After a real call for a page whose first 8 bytes are `key`, `key1`: `steps` memcmps
   * those bytes decided, `whole` memcmps they did not (a recording holding one cannot be
   * replayed), inserted or not. A call the recording holds already (check mode) must
   * agree with it.
   */
  record(
    ksm: Ksm,
    item: RmapItem,
    key: number,
    key1: number,
    steps: number,
    whole: number,
    inserted: boolean,
    nid: number,
  ): void {
    const i = this.#pos++;
    if (!this.#valid) return;
    const info = (inserted ? INFO_INSERTED : 0) | (nid << 1);
    if (this.#following) {
      checkReplayed(
        this.#keys[i]!,
        this.#keys1[i]!,
        this.#steps[i]!,
        this.#info[i]!,
        item,
        key,
        key1,
        steps + whole,
        info,
      );
      this.checked++;
      return;
    }
    const gen = ksm.mmgr.frames.generation.value;
    if (i === 0) this.#generation = gen;
    else if (gen !== this.#generation) this.#valid = false;
    if (whole > 0 || steps > 255 || nid > 127) this.#valid = false;
    if (i >= this.#items.length) this.#grow(ksm);
    this.#items[i] = item;
    this.#keys[i] = key;
    this.#keys1[i] = key1;
    this.#steps[i] = Math.min(steps, 255);
    this.#info[i] = info;
    this.#length = this.#pos;
  }

  /** rmap_items are being freed: no later scan can repeat this one. */
  forget(ksm: Ksm): void {
    this.stopFollowing(ksm);
    this.#valid = false;
  }

  /**
   * Something needs this scan's real trees (an rb_erase, a verifier): they are built, and
   * the rest of the scan walks for real.
   */
  stopFollowing(ksm: Ksm): void {
    this.#following = false;
    if (!this.#virtual) return;
    this.#virtual = false;
    this.#build(ksm);
  }

  /**
   * Builds this scan's unstable trees from the calls replayed so far, inserting their items
   * in order by their recorded keys (memcmp order, no ties), as their walks did.
   */
  #build(ksm: Ksm): void {
    const nodes = ksm.unstableNodes;
    const items = ksm.items;
    // Bytes 4 to 7 of each row's page, for keys whose first 4 bytes tie.
    const rowKey1 = new Int32Array(this.#pos + 1);
    let rows = 0;
    // The walk cache of the rows holds while memory is as recorded; otherwise it is stale.
    const fresh = this.#generation === ksm.mmgr.frames.generation.value;
    const stamp = fresh ? 2 * ksm.walkStamp() + 1 : 0;
    for (let i = 0; i < this.#pos; i++) {
      if ((this.#info[i]! & INFO_INSERTED) === 0) continue;
      const item = this.#items[i]!;
      const key = this.#keys[i]!;
      const key1 = this.#keys1[i]!;
      const root = ksm.rootUnstableTree[this.#info[i]! >> 1]!;
      const walk = nodes.walk;
      let parent = 0;
      let dir: RbDir = 'left';
      for (let cur = root.rbNode; cur !== 0; ) {
        parent = cur;
        const treeKey = walk[cur * STRIDE + W_KEY]!;
        if (key < treeKey || (key === treeKey && key1 < rowKey1[cur]!)) {
          dir = 'left';
          cur = walk[cur * STRIDE + W_LEFT]!;
        } else {
          dir = 'right';
          cur = walk[cur * STRIDE + W_RIGHT]!;
        }
      }
      const row = nodes.alloc(item, fresh ? getMergeablePage(ksm, item) : -1, key, stamp);
      // Rows are allocated in order from 1 after the reset at the start of the scan.
      if (row !== ++rows) throw new KernelBug(`unstable-tree replay: row ${row} built as the ${rows}th`);
      rowKey1[row] = key1;
      items.treeNode[item] = row;
      rbLinkNode(nodes, row, parent, dir, root);
      rbInsertColor(nodes, row, root);
    }
  }

  #grow(ksm: Ksm): void {
    const n = grownCapacity(this.#items.length, ksm.mmgr.frames.nrFrames);
    this.#items = resized(this.#items, n);
    this.#keys = resized(this.#keys, n);
    this.#keys1 = resized(this.#keys1, n);
    this.#steps = resized(this.#steps, n);
    this.#info = resized(this.#info, n);
  }
}

/** The proof of a replay: the real walk did what the recording says. */
function checkReplayed(
  rKey: number,
  rKey1: number,
  rSteps: number,
  rInfo: number,
  item: RmapItem,
  key: number,
  key1: number,
  steps: number,
  info: number,
): void {
  if (rKey !== key || rKey1 !== key1 || rSteps !== steps || rInfo !== info)
    throw new KernelBug(
      `unstable-tree replay of rmap_item ${item}: recorded key ${rKey}:${rKey1}, ${rSteps} memcmps, info ${rInfo}; walked ${key}:${key1}, ${steps}, ${info}`,
    );
}
