import { DOUBLE_FIELD } from '../lib/double_field.ts';
import { FieldRbStore, RbRoot } from '../lib/rbtree.ts';
import type { EventQueue } from '../sim/event_queue.ts';
import type { KsmPageLink } from '../mm/ksm_hooks.ts';
import type { MemoryManager } from '../mm/memory_manager.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { ContentStore } from '../mm/content_store.ts';
import { VM_MERGEABLE } from '../mm/constants.ts';
import type { Vma } from '../mm/vma.ts';
import { type AdvisorCtx, newAdvisorCtx } from './advisor.ts';
import { KSM_DEFAULTS } from './constants.ts';
import type { CostModel } from './cost.ts';
import { DEFAULT_COST, reloadTreeShare } from './cost.ts';
import { MmSlot } from './mm_slot.ts';
import { ksmProfit } from './profit.ts';
import { RmapItems, type RmapItem } from './rmap_item.ts';
import type { StableNode } from './stable_node.ts';
import type { ChainResult } from './stable_tree.ts';
import { KsmSlab } from './slab.ts';
import { UnstableNodes } from './unstable_nodes.ts';
import { UnstableReplay } from './unstable_replay.ts';

/** A batch that paid the reload after its sleep (Ksm.reloadTreeLog): its trees' size and its searches. */
export interface ReloadLogEntry {
  readonly nodes: number;
  searches: number;
}

/** Ksm.noTreeDueNs once the batch has paid it (below -1, which means none owed). */
const NO_TREE_PAID = -2;

/** struct ksm_scan: the single cursor of ksmd. */
export interface KsmScan {
  mmSlot: MmSlot;
  address: number;
  /** The link to follow next: the slot's list head or the last visited item (a row). */
  rmapList: RmapItem;
  /** Completed full scans (what full_scans shows). */
  seqnr: number;
  /** The frame of the page scan_get_next_rmap_item last returned (its `struct page **`). */
  page: number;
  /** Visits of pages already on their KSM page made inside the last scan_get_next_rmap_item (model only). */
  settled: number;
}

/**
 * The state of mm/ksm.c: every global of the kernel file is a field here, so several
 * machines can run side by side. Behaviour lives in the sibling files, which take a `Ksm`.
 */
export class Ksm {
  readonly mmgr: MemoryManager;
  readonly events: EventQueue;
  readonly cost: CostModel;

  // ---- sysfs knobs ----
  run: number = KSM_DEFAULTS.run;
  /** ksm_thread_pages_to_scan */
  pagesToScan: number = KSM_DEFAULTS.pagesToScan;
  /** ksm_thread_sleep_millisecs */
  sleepMillisecs: number = KSM_DEFAULTS.sleepMillisecs;
  maxPageSharing: number = KSM_DEFAULTS.maxPageSharing;
  mergeAcrossNodes: boolean = KSM_DEFAULTS.mergeAcrossNodes;
  useZeroPages: boolean = KSM_DEFAULTS.useZeroPages;
  smartScan: boolean = KSM_DEFAULTS.smartScan;
  stableNodeChainsPruneMillisecs: number = KSM_DEFAULTS.stableNodeChainsPruneMillisecs;
  advisorMode: 'none' | 'scan-time' = 'none';
  /** ksm_advisor_max_cpu: an unsigned int. */
  advisorMaxCpu: number = KSM_DEFAULTS.advisorMaxCpu;
  /** ksm_advisor_min_pages_to_scan, ksm_advisor_max_pages_to_scan, ksm_advisor_target_scan_time: unsigned longs, exact. */
  advisorMinPagesToScan = BigInt(KSM_DEFAULTS.advisorMinPagesToScan);
  advisorMaxPagesToScan = BigInt(KSM_DEFAULTS.advisorMaxPagesToScan);
  advisorTargetScanTime = BigInt(KSM_DEFAULTS.advisorTargetScanTime);

  // ---- counters ----
  pagesShared = 0;
  pagesSharing = 0;
  pagesUnshared = 0;
  /** ksm_rmap_items: every allocated rmap_item. */
  rmapItems = 0;
  pagesScanned = 0;
  pagesSkipped = 0;
  stableNodeChains = 0;
  stableNodeDups = 0;
  /** ksm_zero_pages (global). */
  zeroPages = 0;

  // ---- trees and lists ----
  /** ksm_nr_node_ids: 1 while merge_across_nodes, else the number of NUMA nodes. */
  nrNodeIds = 1;
  /** Every rmap_item of this scanner (rows of typed arrays), and its lists' heads. */
  readonly items: RmapItems;
  /** The stable tree's links live in the StableNode objects. */
  readonly stableStore = new FieldRbStore<StableNode>();
  /** root_stable_tree[nid]: one per NUMA node; only [0] is used while merge_across_nodes. */
  readonly rootStableTree: RbRoot<StableNode | null>[];
  /**
   * Nodes in the unstable trees (all nids), replayed insertions (unstable_replay.ts) included:
   * model only, what a batch's reload after a sleep follows (payReload).
   */
  unstableTreeNodes = 0;
  /** root_unstable_tree[nid], reset at the start of each full scan; nodes are rows of unstableNodes. */
  readonly rootUnstableTree: RbRoot<number>[];
  /** The nodes of the unstable trees (see unstable_nodes.ts). */
  readonly unstableNodes: UnstableNodes;
  /** The last full scan's unstable-tree calls, replayed while memory is unchanged (unstable_replay.ts). */
  readonly unstableReplay = new UnstableReplay();
  readonly migrateNodes: StableNode[] = [];
  /** What stable_tree.ts's chain resolution returns, reused by every call. */
  readonly chainResult: ChainResult = { pfn: -1, dup: null, node: null };
  /** ksm_mm_head: the dummy head of the mm_slot list. */
  readonly mmHead: MmSlot;
  /**
   * Stable nodes that rmap_items may name in their `head` column, by id: the node's object
   * in `slab`. An item whose node went away keeps its head, dangling as in Linux, and names
   * whichever node takes that object next (slab.ts). Nodes of the other scanner are told
   * apart by owner before any id is compared.
   */
  readonly stableNodes = new Map<number, StableNode>();
  /** The cache of rmap_items and stable nodes, as objects (slab.ts). */
  readonly slab = new KsmSlab();
  /** mm_slots_hash */
  readonly slots = new Map<MmStruct, MmSlot>();
  readonly ksmScan: KsmScan;
  readonly zeroChecksum: number;
  advisorCtx: AdvisorCtx = newAdvisorCtx();

  /** Tests: recompute every hit of the unstable-tree walk cache and throw if it differs. */
  checkWalkCache = false;
  /** The walk cache's stamp (see walkStamp) and the memory generation it stands for. */
  #walkStamp = 1;
  #walkStampGeneration = 0;
  /** Visits scan.ts settleRun made (model only: how often the short path was taken). */
  settledVisits = 0;

  // ---- ksmd ----
  /** CPU time ksmd has used, in ns, from the cost model (a double: see DOUBLE_FIELD). */
  cpuNs = DOUBLE_FIELD;
  /** Wall time ksmd has spent blocked inside batches (lru_add_drain_all), in ns. */
  blockedNs = DOUBLE_FIELD;
  /** cpuNs + blockedNs when ksmd's current batch began (set by its kthread); -1 outside batches. */
  batchStartNs = DOUBLE_FIELD;
  /** The reload the current batch still owes for its sleep (set by its kthread); -1 when none. */
  reloadDueNs = DOUBLE_FIELD;
  /** What each search of the running batch pays of its reload (set by payReload); -1 before its first. */
  reloadPerSearchNs = DOUBLE_FIELD;
  /**
   * Model only: when an array, payReload pushes an entry for each paying batch, its trees'
   * size (its reloadTreeShare argument) and its searches: the calibration's counting model
   * reads them, and its length is the batches that paid.
   */
  reloadTreeLog: ReloadLogEntry[] | null = null;
  /**
   * The running batch's budget (ksm_do_scan's scan_npages), set as it begins: the nodes
   * its searches may add to the trees (payReload).
   */
  batchPages = 0;
  /**
   * The reload the current batch owes if it takes checksums and searches no tree (set by its
   * kthread); -1 when none or void, NO_TREE_PAID once paid in this batch.
   */
  noTreeDueNs = DOUBLE_FIELD;
  /** What the batch paid at payNoTreeReload, read while noTreeDueNs is NO_TREE_PAID. */
  #noTreePaidNs = DOUBLE_FIELD;
  /** Batches that paid the no-tree reload and searched no tree after: the calibration counts them. */
  noTreeBatches = 0;

  constructor(mmgr: MemoryManager, events: EventQueue, cost: CostModel = DEFAULT_COST) {
    this.mmgr = mmgr;
    this.events = events;
    this.cost = cost;
    this.cpuNs = 0;
    this.blockedNs = 0;
    this.batchStartNs = -1;
    this.reloadDueNs = -1;
    this.noTreeDueNs = -1;
    this.reloadPerSearchNs = -1;
    this.#noTreePaidNs = 0;
    this.items = new RmapItems(mmgr.frames.nrFrames + 1024);
    this.mmHead = new MmSlot(null, this.items.allocHead());
    this.ksmScan = { mmSlot: this.mmHead, address: 0, rmapList: this.mmHead.head, seqnr: 0, page: -1, settled: 0 };
    const nodes = Math.max(1, mmgr.frames.nrNodes);
    this.rootStableTree = Array.from({ length: nodes }, () => new RbRoot<StableNode | null>(null));
    this.rootUnstableTree = Array.from({ length: nodes }, () => new RbRoot<number>(0));
    this.unstableNodes = new UnstableNodes(mmgr.frames.nrFrames);
    // ksm_init: zero_checksum = calc_checksum(ZERO_PAGE(0))
    this.zeroChecksum = mmgr.contents.checksum(ContentStore.ZERO);
  }

  /**
   * Whether every page the scanner's walker hands to cmp_and_merge_page is the page
   * get_mergeable_page finds at its item's address (ksmd's walker tests the same VMA
   * flags, anon_vma and PTE); the unstable tree then need not look it up at insertion.
   */
  get walkerFindsMergeablePage(): boolean {
    return true;
  }

  /**
   * Whether ksmd may merge pages of this VMA (the VM_MERGEABLE test of find_mergeable_vma).
   * KSM+ overrides it: it scans named programs' compatible VMAs without madvise.
   */
  vmaMergeable(vma: Vma): boolean {
    return (vma.vmFlags & VM_MERGEABLE) !== 0;
  }

  /**
   * Empties the unstable trees at the start of a full scan, and their node table with them.
   * Linux empties only the roots in use (root_unstable_tree[0 .. ksm_nr_node_ids)); a root
   * past them (merge_across_nodes went to 1 during an earlier scan) keeps pointing at that
   * scan's rmap_items, which may be freed or linked into tree 0 since, and a switch back to
   * 0 would have ksmd walk them. The model empties those roots too, since their rows go
   * with the table (docs/divergences.md, "Stale per-node unstable trees"). Within one scan
   * nothing is reset, so a switch there and back keeps Linux's trees exactly.
   */
  resetUnstableTrees(): void {
    for (let nid = 0; nid < this.rootUnstableTree.length; nid++) this.rootUnstableTree[nid] = new RbRoot<number>(0);
    this.unstableTreeNodes = 0;
    this.unstableNodes.reset();
    this.#walkStamp = 1;
    this.#walkStampGeneration = this.mmgr.frames.generation.value;
    this.unstableReplay.startScan(this);
  }

  /**
   * The unstable-tree walk cache's stamp for memory as it is now: a new one whenever memory
   * changed since the last call (MemoryGeneration), so an entry read at an older stamp is
   * stale. Stamps restart with every full scan (the node table holding them is emptied
   * then), so they stay far below 2^30 and twice a stamp fits an Int32Array.
   */
  walkStamp(): number {
    const gen = this.mmgr.frames.generation.value;
    if (gen !== this.#walkStampGeneration) {
      this.#walkStamp++;
      this.#walkStampGeneration = gen;
    }
    return this.#walkStamp;
  }

  /**
   * Whether a page's KSM link is a stable node of this scanner: the one owner check, and the
   * one place an opaque link becomes a StableNode. Linux has one scanner; the model can run
   * KSM+ beside it, and neither touches the other's KSM pages.
   */
  owns(link: KsmPageLink | null): link is StableNode {
    return link !== null && link.owner === this;
  }

  /** An id for a new stable node: its object in the slab (see stableNodes). */
  newStableNodeId(): number {
    return this.slab.alloc();
  }

  /** The live stable node an item's `head` names, or undefined if it went away. */
  stableNodeOf(item: RmapItem): StableNode | undefined {
    const id = this.items.head[item]!;
    return id === 0 ? undefined : this.stableNodes.get(id);
  }

  /** get_kpfn_nid: the tree index of a frame. */
  getKpfnNid(pfn: number): number {
    return this.mergeAcrossNodes ? 0 : this.mmgr.frames.pfnToNid(pfn);
  }

  /** ksm_test_exit */
  testExit(mm: MmStruct): boolean {
    return mm.mmUsers === 0;
  }

  /**
   * Pays the reload the running batch owes for its sleep (CostModel.postSleepPageNs): called
   * at every visit that searches the trees. What a sleep lets the caches lose and a batch
   * reads back is mostly the trees: their nodes and the pages they are compared with. A batch
   * that searches no tree (every page a first visit, skipped, or already on its KSM page)
   * does not read them and is not charged here; one that takes checksums pays the smaller
   * reload of payNoTreeReload instead, and if it goes on to search, pays here only what its
   * tree reload comes to beyond that (docs/cost-model-journal.md, "The reload follows the
   * trees", "First visits"). The batch owes the share of its reload that trees of its size
   * cost (reloadTreeShare): the nodes in the stable and unstable trees as it first searches
   * them, and the pages of its budget, which its searches may add (docs/cost-model-journal.md,
   * "The reload follows the trees' size"). It pays 1 - postSleepSearchPart of that at its
   * first search and postSleepSearchPart / budget of it at each search, the first included
   * (cost.ts searchReloadShare; the journal's "A batch that searches little").
   */
  payReload(): void {
    if (this.reloadDueNs >= 0) {
      const nodes = this.stableNodes.size + this.unstableTreeNodes + this.batchPages;
      const owed = this.reloadDueNs * reloadTreeShare(this.cost, nodes);
      const part = this.cost.postSleepSearchPart;
      const paidNoTree = this.noTreeDueNs === NO_TREE_PAID;
      this.cpuNs += Math.max(0, owed * (1 - part) - (paidNoTree ? this.#noTreePaidNs : 0));
      this.reloadPerSearchNs = this.batchPages > 0 ? (owed * part) / this.batchPages : 0;
      this.reloadTreeLog?.push({ nodes, searches: 0 });
      this.reloadDueNs = -1;
      if (paidNoTree) this.noTreeBatches--;
      this.noTreeDueNs = -1;
    }
    if (this.reloadPerSearchNs < 0) return;
    this.cpuNs += this.reloadPerSearchNs;
    const log = this.reloadTreeLog;
    if (log !== null && log.length > 0) log[log.length - 1]!.searches++;
  }

  /**
   * Pays the reload the running batch owes for its sleep if it searches no tree
   * (CostModel.postSleepNoTreeNs), once: called at the batch's first checksum. Measured on
   * Linux 6.18: passes of first visits, whose batches take checksums and search no tree,
   * cost 40-180 µs a batch more after sleeps of 8-210 ms than the model's events, growing
   * with the sleep (docs/cost-model-journal.md, "First visits"). A batch that goes on to search the
   * trees pays there only its tree reload beyond this, so the larger of the two in all.
   */
  payNoTreeReload(): void {
    if (this.noTreeDueNs < 0) return;
    this.cpuNs += this.noTreeDueNs;
    this.#noTreePaidNs = this.noTreeDueNs;
    this.noTreeDueNs = NO_TREE_PAID;
    this.noTreeBatches++;
  }

  /** The page behind a frame: its checksum, counting the CPU cost. */
  calcChecksum(pfn: number): number {
    this.cpuNs += this.cost.checksumNs;
    return this.mmgr.contents.checksum(this.mmgr.frames.content[pfn]!);
  }

  /** memcmp_pages, counting the CPU cost. */
  memcmpPages(a: number, b: number): number {
    const c = this.mmgr.contents;
    const r = c.compare(this.mmgr.frames.content[a]!, this.mmgr.frames.content[b]!);
    this.cpuNs += r === 0 ? this.cost.memcmpEqualNs : this.cost.memcmpNs;
    return r;
  }

  /**
   * ktime_get() inside ksmd's batch: the model runs a batch's work at the instant it begins
   * and lets its CPU and blocked time pass after, so the time at a point inside the batch is
   * its start plus what the batch has spent up to that point. Outside batches, the clock.
   */
  ktimeGet(): number {
    const now = this.events.clock.now();
    return this.batchStartNs < 0 ? now : now + (this.cpuNs + this.blockedNs - this.batchStartNs);
  }

  /** pages_volatile as sysfs computes it, clamped at 0. */
  pagesVolatile(): number {
    return Math.max(0, this.rmapItems - this.pagesShared - this.pagesSharing - this.pagesUnshared);
  }

  /** general_profit in bytes: pages_sharing and KSM's zero pages, less every rmap_item. */
  generalProfit(): number {
    return ksmProfit(this.pagesSharing + this.zeroPages, this.rmapItems);
  }
}
