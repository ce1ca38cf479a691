/**
 * ksmd's CPU cost, so the model's virtual time and CPU share mean something (the scan-time
 * advisor divides by them). Each constant is nanoseconds of ksmd CPU per event.
 *
 * Provisional values, sized so that a visit of an all-unique page (checksum plus about 16
 * memcmps down the unstable tree) costs about 8 µs, which is what the live 6.18 ksmd costs
 * on this project's machine kind (measured from /proc/<ksmd>/stat utime+stime over a
 * 64 Ki-page all-unique scan). `samepage bench --calibrate` re-measures them; see
 * docs/cost-model.md.
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
  visitNs: 3300,
  skipNs: 400,
  checksumNs: 700,
  memcmpNs: 250,
  memcmpEqualNs: 600,
  mergeNs: 3000,
  freeNs: 150,
};
