/**
 * ksmd's CPU cost, so the model's virtual time and CPU share mean something (the scan-time
 * advisor divides by them). Each constant is nanoseconds of ksmd CPU per event.
 *
 * The model backend reads the constants from calibration/cost-model.json, which
 * `samepage bench --calibrate` fits to the live ksmd's CPU time (docs/cost-model.md).
 * DEFAULT_COST is that file's calibration as shipped (Linux 6.18.44, Intel Xeon, 2 vCPUs,
 * 65536-page workloads: an all-unique page visit with ~15 unstable-tree steps costs about
 * 4 µs), used where no file is given.
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
}

export const DEFAULT_COST: CostModel = {
  visitNs: 153,
  skipNs: 202,
  checksumNs: 809,
  memcmpNs: 204,
  memcmpEqualNs: 174,
  mergeNs: 128,
  freeNs: 65,
};

/** The constants' names, in a fixed order (calibration files, fits, tables). */
export const COST_KEYS = [
  'visitNs',
  'skipNs',
  'checksumNs',
  'memcmpNs',
  'memcmpEqualNs',
  'mergeNs',
  'freeNs',
] as const satisfies ReadonlyArray<keyof CostModel>;

/**
 * The fixed CPU cost of one wake-up of a scanning thread (ksmd: scheduling and
 * lru_add_drain_all; the KSM+ daemon: its task-list walk), charged per batch besides the
 * cost model; calibration subtracts it before fitting.
 */
export const WAKEUP_NS = 2000;
