/**
 * ksmd's CPU cost, so the model's virtual time and CPU share mean something (the scan-time
 * advisor divides by them). Each constant is nanoseconds of ksmd CPU per event.
 *
 * The model backend reads the constants from a calibration set's cost-model.json (this
 * machine's host set, else calibration/cost-model.json: backends/model/calibration.ts),
 * which `samepage bench --calibrate` fits to the live ksmd's CPU time (docs/cost-model.md).
 * DEFAULT_COST is the default set's calibration as shipped (Linux 6.18.44, Intel Xeon, 2 vCPUs,
 * 65536-page workloads on a quiet machine: an all-unique page visit with ~15 unstable-tree
 * steps costs about 2.4 µs), used where no file is given.
 */
export interface CostModel {
  /** Per page handed to cmp_and_merge_page: the page walk, rmap_item lookup, locking. */
  readonly visitNs: number;
  /** Per page skipped by smart_scan (walk and lookup only). */
  readonly skipNs: number;
  /** Per calc_checksum (xxh64 of 4 KiB). */
  readonly checksumNs: number;
  /** Per memcmp_pages on different pages (they usually differ early). */
  readonly memcmpNs: number;
  /** Per memcmp_pages that finds the pages equal (reads both pages whole). */
  readonly memcmpEqualNs: number;
  /** Per successful try_to_merge_one_page (write-protect, rmap, TLB flush). */
  readonly mergeNs: number;
  /** Per rmap_item freed or stale node removed. */
  readonly freeNs: number;
  /**
   * Per unequal step of an unstable-tree walk at a depth greater than `deepFrom`, on top of
   * its `memcmpNs`: the tree nodes and pages deep down a large tree miss the CPU's caches
   * (measured: an all-unique scan's cost per step grows with the tree's size,
   * docs/cost-model-journal.md "Deep steps and skips, measured"). 0: every step costs the same.
   */
  readonly deepStepNs: number;
  /**
   * The depth (the root is depth 1) below which an unstable-tree step is charged
   * `deepStepNs` as well: a step comparing with a node at depth d > deepFrom is deep. Not a
   * cost: a whole number of tree levels, chosen by the calibration's fit.
   */
  readonly deepFrom: number;
  /**
   * The reload after a sleep, per page of the batch that follows it (the batch's budget,
   * pages_to_scan): while ksmd sleeps, the VM's other work evicts its rmap_items, page tables
   * and tree nodes from the CPU's caches, and its next batch reads them back in. Measured:
   * a batch after a sleep of 20 ms or more costs up to about 0.6 ms more than a warm one,
   * a 70-page batch about 0.14 ms (docs/cost-model-journal.md, "ksmd's batch after a sleep"). Owed
   * by `postSleepNs` from the start of each batch and paid once, where the batch first
   * searches the trees (Ksm.payReload): a batch of first visits or skips reads no tree and
   * pays none of it ("The reload follows the trees"; a batch of first visits pays the smaller
   * postSleepNoTreeNs instead). Not per event, so the calibration's
   * event counts do not see it. 0 with `postSleepMaxNs` 0: no reload.
   */
  readonly postSleepPageNs: number;
  /** The most a batch's reload costs (the working set the caches lose), before the sleep's share. */
  readonly postSleepMaxNs: number;
  /**
   * How fast the caches lose ksmd's working set while it sleeps: a sleep of s ns costs
   * 1 - exp(-s / postSleepTauNs) of the reload (next to nothing after the 4-8 ms sleeps of
   * sleep_millisecs 1, nearly all of it after 50 ms).
   */
  readonly postSleepTauNs: number;
  /**
   * The reload after a sleep that does not grow with the batch: ksmd's own code, stack, mm
   * and scan cursor, and the top of the unstable tree, which every batch touches. Measured on
   * a quiet machine: a batch of 100 pages cost 92 µs more after a sleep of 8 ms and 132 µs
   * after 24 ms, about half of its warm CPU, where a share of the per-page reload charges it
   * a tenth of that (docs/cost-model-journal.md, "The reload of a small batch"). 0: none.
   */
  readonly postSleepBatchNs: number;
  /** How fast the caches lose that fixed part: a sleep of s ns costs 1 - exp(-s / postSleepBatchTauNs) of it. */
  readonly postSleepBatchTauNs: number;
  /**
   * How the reload grows with the trees the batch searches: a batch that meets n nodes pays
   * min(1, n / postSleepTreeNodes) ^ postSleepTreeExp of it (reloadTreeShare), n being the
   * stable and unstable trees' nodes at its first search and the pages its budget may add.
   * Measured: a batch after a sleep reloads about twice as much on trees of 20,000 nodes as
   * on trees of 2,000 (docs/cost-model-journal.md, "The reload follows the trees' size"). 0: the same
   * reload on trees of any size.
   */
  readonly postSleepTreeExp: number;
  /**
   * The trees' size from which a batch pays the whole reload: the largest the calibration
   * measures (20,000). Beyond it the reload did not grow: measured on regions of 40,000 to
   * 160,000 random pages, a 100-page batch after 20 ms paid about what it paid on 20,000
   * (docs/cost-model-journal.md, "The reload beyond 20,000 nodes"). Above 0.
   */
  readonly postSleepTreeNodes: number;
  /**
   * The part of a batch's tree reload (its share by the trees) that it pays per search rather
   * than at its first: a batch that searches the trees for s of its budget's B pages pays
   * (1 - postSleepSearchPart) + postSleepSearchPart x s / B of it (searchReloadShare).
   * Measured on Linux 6.18: a batch that searched the trees for one page in ten paid 0.43 to
   * 0.53 of the reload that a batch searching for every page paid on trees of the same size
   * (docs/cost-model-journal.md, "A batch that searches little"): a search reads back the
   * nodes and pages it compares with, which a sleep let the caches lose. In [0, 1]; 0: all of
   * it at the first search.
   */
  readonly postSleepSearchPart: number;
  /**
   * What a page's first visit costs more than a later one (alloc_rmap_item, and whatever else
   * a page new to ksmd costs it): charged per rmap_item allocated. Measured on passes of
   * fresh processes, in which ksmd spends about 0.9 µs a page where visitNs + checksumNs
   * come to 0.5 (docs/cost-model-journal.md, "First visits"). 0: none.
   */
  readonly firstVisitNs: number;
  /**
   * The reload after a sleep of a batch that takes checksums but searches no tree (a batch of
   * first visits): postSleepNoTreeNs x (1 - exp(-slept / postSleepNoTreeTauNs)), paid at the
   * batch's first checksum (Ksm.payNoTreeReload). A batch that then searches the trees pays
   * its tree reload (postSleepNs) less what it paid here. 0: none.
   */
  readonly postSleepNoTreeNs: number;
  /** How fast the caches lose what a batch of first visits reads back. */
  readonly postSleepNoTreeTauNs: number;
}

export const DEFAULT_COST: CostModel = {
  visitNs: 109,
  skipNs: 108,
  checksumNs: 778,
  memcmpNs: 9,
  memcmpEqualNs: 222,
  mergeNs: 169,
  freeNs: 34,
  deepStepNs: 358,
  deepFrom: 10,
  postSleepPageNs: 1149,
  postSleepMaxNs: 2521789,
  postSleepTauNs: 78851055,
  postSleepBatchNs: 108860,
  postSleepBatchTauNs: 4069624,
  postSleepTreeExp: 0,
  postSleepTreeNodes: 1,
  postSleepSearchPart: 0,
  firstVisitNs: 0,
  postSleepNoTreeNs: 0,
  postSleepNoTreeTauNs: 1,
};

/**
 * The per-event constants' names (every field but `deepFrom`), in a fixed order
 * (calibration files, event counts, fits, tables). The model reads each of them once per
 * event it charges, which is how the calibration counts events (src/measure/model.ts).
 */
export const COST_KEYS = [
  'visitNs',
  'skipNs',
  'checksumNs',
  'memcmpNs',
  'memcmpEqualNs',
  'mergeNs',
  'freeNs',
  'deepStepNs',
] as const satisfies ReadonlyArray<keyof CostModel>;

/**
 * The deep-step charges of an unstable-tree walk of `steps` unequal steps, each at one
 * depth more than the last from the root (depth 1): one read of `deepStepNs` for every
 * step at a depth greater than `deepFrom`. unstable_tree.ts charges the same step by step.
 */
export function deepStepsCharge(cost: CostModel, steps: number): number {
  let charged = 0;
  for (let depth = cost.deepFrom + 1; depth <= steps; depth++) charged += cost.deepStepNs;
  return charged;
}

/**
 * The CPU that ksmd's batch of `pages` pages (its budget) costs on top of its events after a
 * sleep of `sleptNs` of the thread's time (from the end of the batch before to this one's
 * start; Infinity before the first): postSleepBatchNs x (1 - exp(-sleptNs /
 * postSleepBatchTauNs)) + min(pages x postSleepPageNs, postSleepMaxNs) x (1 - exp(-sleptNs /
 * postSleepTauNs)). A batch that did not sleep (sleep_millisecs 0) costs nothing more.
 */
export function postSleepNs(cost: PostSleepCost, sleptNs: number, pages: number): number {
  if (sleptNs <= 0) return 0;
  const fixed =
    cost.postSleepBatchNs <= 0 ? 0 : cost.postSleepBatchNs * -Math.expm1(-sleptNs / cost.postSleepBatchTauNs);
  if (cost.postSleepMaxNs <= 0) return fixed;
  const reload = Math.min(pages * cost.postSleepPageNs, cost.postSleepMaxNs);
  return fixed + reload * -Math.expm1(-sleptNs / cost.postSleepTauNs);
}

/**
 * The share of its reload (postSleepNs) that a batch pays whose searches meet `treeNodes`
 * nodes: min(1, treeNodes / postSleepTreeNodes) ^ postSleepTreeExp; all of it with
 * postSleepTreeExp 0.
 */
export function reloadTreeShare(cost: ReloadTreeCost, treeNodes: number): number {
  if (cost.postSleepTreeExp <= 0) return 1;
  return Math.min(1, Math.max(0, treeNodes) / cost.postSleepTreeNodes) ** cost.postSleepTreeExp;
}

/**
 * The reload after a sleep `sleptNs` long of a batch that takes checksums but searches no
 * tree: postSleepNoTreeNs x (1 - exp(-sleptNs / postSleepNoTreeTauNs)); nothing after no sleep.
 */
export function postSleepNoTreeNs(cost: FirstVisitCost, sleptNs: number): number {
  if (sleptNs <= 0 || cost.postSleepNoTreeNs <= 0) return 0;
  return cost.postSleepNoTreeNs * -Math.expm1(-sleptNs / cost.postSleepNoTreeTauNs);
}

/** The first-visit parameters, the first-visit fit's output (src/measure/first_visit.ts). */
export type FirstVisitCost = Pick<CostModel, 'firstVisitNs' | 'postSleepNoTreeNs' | 'postSleepNoTreeTauNs'>;

/** No first-visit charges (files from before them; the calibration's counting model). */
export const NO_FIRST_VISIT: FirstVisitCost = { firstVisitNs: 0, postSleepNoTreeNs: 0, postSleepNoTreeTauNs: 1 };

/** The reload's parameters (cost.ts postSleepNs), the post-sleep fit's output. */
export type PostSleepCost = Pick<
  CostModel,
  'postSleepPageNs' | 'postSleepMaxNs' | 'postSleepTauNs' | 'postSleepBatchNs' | 'postSleepBatchTauNs'
>;

/** A cost without a reload after sleeps (old calibration files; the calibration's counting model). */
export const NO_RELOAD: PostSleepCost = {
  postSleepPageNs: 0,
  postSleepMaxNs: 0,
  postSleepTauNs: 1,
  postSleepBatchNs: 0,
  postSleepBatchTauNs: 1,
};

/** How the reload follows the trees' size (reloadTreeShare), the tree-size fit's output. */
export type ReloadTreeCost = Pick<CostModel, 'postSleepTreeExp' | 'postSleepTreeNodes'>;

/** A reload that does not follow the trees' size (files from before it; the counting model). */
export const FLAT_RELOAD: ReloadTreeCost = { postSleepTreeExp: 0, postSleepTreeNodes: 1 };

/** How the reload follows the batch's searches (searchReloadShare), the search-part fit's output. */
export type SearchPartCost = Pick<CostModel, 'postSleepSearchPart'>;

/** All of the tree reload at a batch's first search (files from before the search part; the counting model). */
export const AT_FIRST_SEARCH: SearchPartCost = { postSleepSearchPart: 0 };

/**
 * The share of its tree reload that a batch of `budget` pages (pages_to_scan) pays when it
 * searches the trees for `searches` of them: (1 - p) at its first search and p / budget at
 * each, p being postSleepSearchPart. A batch that searches for every page pays all of it.
 */
export function searchReloadShare(cost: SearchPartCost, searches: number, budget: number): number {
  const p = cost.postSleepSearchPart;
  if (p <= 0 || budget <= 0) return 1;
  return 1 - p + (p * searches) / budget;
}

/**
 * The fixed CPU cost of one wake-up of a scanning thread (ksmd: scheduling and
 * lru_add_drain_all; the KSM+ daemon: its task-list walk), charged per batch besides the
 * cost model; calibration subtracts it before fitting.
 */
export const WAKEUP_NS = 2000;

/**
 * What each field of the cost model is: CPU time ksmd spends (`cpu`), which moves with the
 * host's speed, or a shape of it (`shape`: time constants, depths, exponents, shares), which
 * does not. A record over every key, so that a new field has to say which it is.
 */
const COST_FIELD_KINDS: Readonly<Record<keyof CostModel, 'cpu' | 'shape'>> = {
  visitNs: 'cpu',
  skipNs: 'cpu',
  checksumNs: 'cpu',
  memcmpNs: 'cpu',
  memcmpEqualNs: 'cpu',
  mergeNs: 'cpu',
  freeNs: 'cpu',
  deepStepNs: 'cpu',
  deepFrom: 'shape',
  postSleepPageNs: 'cpu',
  postSleepMaxNs: 'cpu',
  postSleepTauNs: 'shape',
  postSleepBatchNs: 'cpu',
  postSleepBatchTauNs: 'shape',
  postSleepTreeExp: 'shape',
  postSleepTreeNodes: 'shape',
  postSleepSearchPart: 'shape',
  firstVisitNs: 'cpu',
  postSleepNoTreeNs: 'cpu',
  postSleepNoTreeTauNs: 'shape',
};

/**
 * `cost` on a host `factor` times as slow: every CPU time multiplied by it, the shapes (how
 * fast the caches lose ksmd's working set, the deep steps' depth, the reload's shares) kept.
 * The model backend's `costScale` applies it: the timed comparison's run at the kernel's
 * speed (differential/kernel_speed.ts).
 */
export function scaledCost(cost: CostModel, factor: number): CostModel {
  if (!(factor > 0) || !Number.isFinite(factor))
    throw new RangeError(`a cost scale must be a positive number, not ${factor}`);
  const out: Record<string, number> = {};
  for (const key of Object.keys(COST_FIELD_KINDS) as Array<keyof CostModel>)
    out[key] = COST_FIELD_KINDS[key] === 'cpu' ? cost[key] * factor : cost[key];
  return out as unknown as CostModel;
}
