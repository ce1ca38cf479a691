/**
 * How the reload after a sleep grows with the trees (cost.ts reloadTreeShare), fitted to
 * the post-sleep measurement made on regions of several sizes (post_sleep.ts).
 *
 * A region of random pages in smart_scan 0 gives an exact tree at every batch: the pass
 * rebuilds the unstable tree from nothing, a batch at a time, and the stable tree stays
 * empty. So the k-th batch of a pass (from 1) first searches (k - 1) x pages nodes and may
 * add `pages` more, which is the trees' size Ksm.payReload gives it; and a row's measured
 * extra, the mean over the pass's batches, is the base reload (postSleepNs) times the mean
 * share of those batches (passTreeShare).
 */
import {
  FLAT_RELOAD,
  type PostSleepCost,
  postSleepNs,
  type ReloadTreeCost,
  reloadTreeShare,
  type SearchPartCost,
  searchReloadShare,
} from '../ksm/cost.ts';
import { fitPostSleep, type PostSleepFit } from './fit.ts';
import { type PostSleepRow, REGION_PAGES } from './post_sleep.ts';
import { fitSearchPart, type SearchPartFit, type SearchPartPoint } from './search_part.ts';

/** One measured row: a batch size after one sleep on a region of `regionPages` pages. */
export interface ReloadSizePoint {
  readonly regionPages: number;
  readonly pages: number;
  readonly sleepMs: number;
  /** The extra CPU of a batch after the sleep, ns (the row's median pass). */
  readonly extraNs: number;
}

export interface ReloadTreeFit {
  readonly cost: ReloadTreeCost;
  /** Root mean square of ln(fitted / measured) over the points used. */
  readonly rmsLog: number;
  /** Points used: those with a positive extra, in groups of one batch and sleep with two regions or more. */
  readonly points: number;
}

/**
 * The mean share of the reload that the batches of one pass over `regionPages` random
 * pages in batches of `pages` pay (see the file's comment): batch k meets k x pages nodes.
 * With `uniqueEvery` above 1, one page in uniqueEvery is random and the others are on one
 * KSM page (post_sleep.ts): batch k searches for pages / uniqueEvery of its pages, on a
 * stable tree of one node and an unstable tree of the random pages of the batches before
 * it, and pays the share of its reload those searches give (searchReloadShare).
 */
export function passTreeShare(
  cost: ReloadTreeCost & Partial<SearchPartCost>,
  regionPages: number,
  pages: number,
  uniqueEvery = 1,
): number {
  const batches = Math.max(1, Math.floor(regionPages / pages));
  const stableNodes = uniqueEvery > 1 ? 1 : 0;
  const searches = pages / uniqueEvery;
  let share = 0;
  for (let k = 1; k <= batches; k++) share += reloadTreeShare(cost, stableNodes + (k - 1) * searches + pages);
  const part = { postSleepSearchPart: cost.postSleepSearchPart ?? 0 };
  return (share / batches) * searchReloadShare(part, searches, pages);
}

/** Steps of the exponent's grid; exponents from 0 (no growth) to MAX_EXP. */
const EXP_STEP = 0.01;
const MAX_EXP = 1.5;

/**
 * Fits postSleepTreeExp, the trees of `treeNodes` nodes (the largest region measured)
 * paying the whole reload: on a grid of exponents, each group of points of one batch size
 * and sleep gets the base reload that fits it best in logarithms, and the exponent whose
 * groups fit best overall is kept. Logarithms, because the reload is a product (base x
 * share) and the rows of small regions, a few hundred µs, weigh as much as those of large
 * ones. Rows with an extra of 0 or less (noise on a small reload) are left out; groups
 * with one region alone say nothing of the size and are left out too. With no such group,
 * the reload does not follow the trees (FLAT_RELOAD).
 */
export function fitReloadTree(points: readonly ReloadSizePoint[], treeNodes: number): ReloadTreeFit {
  const groups = new Map<string, ReloadSizePoint[]>();
  for (const p of points) {
    if (!(p.extraNs > 0)) continue;
    const key = `${p.pages}/${p.sleepMs}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const usable = [...groups.values()].filter((g) => new Set(g.map((p) => p.regionPages)).size > 1);
  const n = usable.reduce((s, g) => s + g.length, 0);
  if (n === 0) return { cost: FLAT_RELOAD, rmsLog: 0, points: 0 };
  let best = { rss: Infinity, exp: 0 };
  for (let i = 0; i * EXP_STEP <= MAX_EXP + 1e-9; i++) {
    const tree: ReloadTreeCost = { postSleepTreeExp: i * EXP_STEP, postSleepTreeNodes: treeNodes };
    let rss = 0;
    for (const g of usable) {
      const residuals = g.map((p) => Math.log(p.extraNs) - Math.log(passTreeShare(tree, p.regionPages, p.pages)));
      const base = residuals.reduce((s, r) => s + r, 0) / residuals.length;
      rss += residuals.reduce((s, r) => s + (r - base) ** 2, 0);
    }
    if (rss < best.rss - 1e-12) best = { rss, exp: Math.round(i * EXP_STEP * 100) / 100 };
  }
  return {
    cost: { postSleepTreeExp: best.exp, postSleepTreeNodes: treeNodes },
    rmsLog: Math.sqrt(best.rss / n),
    points: n,
  };
}

/** The reload's whole fit: its base (fitPostSleep), its growth with the trees and its part per search. */
export interface ReloadFit {
  readonly cost: PostSleepCost & ReloadTreeCost & SearchPartCost;
  readonly base: PostSleepFit;
  readonly tree: ReloadTreeFit;
  readonly search: SearchPartFit;
}

/** A row's region: REGION_PAGES in files from before rows named theirs. */
export const rowRegion = (r: Pick<PostSleepRow, 'region_pages'>): number => r.region_pages ?? REGION_PAGES;
/** One page in how many of a row's region is unique: 1 (all random) in files from before such rows. */
export const rowUniqueEvery = (r: Pick<PostSleepRow, 'unique_every'>): number => r.unique_every ?? 1;

/** What the exponent's fit reads of a row. */
export type ReloadSizeRow = Pick<
  PostSleepRow,
  'region_pages' | 'unique_every' | 'pages_to_scan' | 'sleep_millisecs' | 'extra_ns'
>;

/**
 * fitReloadTree on measured rows, trees of REGION_PAGES nodes paying the whole reload, on
 * random regions alone: a region of few unique pages is another tree, and its batches search
 * little (fitReload fits those apart). Rows of larger regions are left out, since the share
 * cannot tell their trees from that size.
 */
export function fitReloadTreeOfRows(rows: readonly ReloadSizeRow[]): ReloadTreeFit {
  return fitReloadTree(
    rows
      .filter((r) => rowRegion(r) <= REGION_PAGES && rowUniqueEvery(r) === 1)
      .map((r) => ({
        regionPages: rowRegion(r),
        pages: r.pages_to_scan,
        sleepMs: r.sleep_millisecs,
        extraNs: r.extra_ns,
      })),
    REGION_PAGES,
  );
}

/**
 * Fits the reload to the calibration's rows: first how it grows with the trees, from every
 * row of a random region (`main`, on REGION_PAGES, and `sizes`, on smaller regions), trees
 * of REGION_PAGES nodes paying the whole of it; then its base form (postSleepNs) on the main
 * rows alone, each measured extra divided by the share its pass paid, which is the reload
 * such a batch would pay on trees of REGION_PAGES nodes; then its part per search, from the
 * rows of `sizes` on a region of few unique pages, each against the random region's row of
 * as many pages as it has unique ones, of the same batch and sleep (search_part.ts).
 */
export function fitReload(main: readonly PostSleepRow[], sizes: readonly PostSleepRow[]): ReloadFit {
  const tree = fitReloadTreeOfRows([...main, ...sizes]);
  const base = fitPostSleep(
    main.map((r) => ({
      pages: r.pages_to_scan,
      sleptNs: r.slept_ns,
      extraNs: r.extra_ns / passTreeShare(tree.cost, rowRegion(r), r.pages_to_scan),
      warmNs: (r.warm_pass_cpu_ns * r.pages_to_scan) / rowRegion(r),
    })),
  );
  const atFirst = { ...base.cost, ...tree.cost };
  const randomRows = [...main, ...sizes].filter((r) => rowUniqueEvery(r) === 1);
  const points: SearchPartPoint[] = [];
  for (const m of sizes) {
    const k = rowUniqueEvery(m);
    if (k === 1) continue;
    const random = randomRows.find(
      (r) =>
        rowRegion(r) === rowRegion(m) / k &&
        r.pages_to_scan === m.pages_to_scan &&
        r.sleep_millisecs === m.sleep_millisecs,
    );
    if (random === undefined || !(random.extra_ns > 0)) continue;
    points.push({
      ratio: m.extra_ns / random.extra_ns,
      ratioAtFirst: fittedReloadNs(atFirst, m) / fittedReloadNs(atFirst, random),
      searched: 1 / k,
    });
  }
  const search = fitSearchPart(points);
  return { cost: { ...atFirst, ...search.cost }, base, tree, search };
}

/** What the fitted reload charges a batch of `r`'s pass, on average: its fitted_ns. */
export function fittedReloadNs(
  cost: PostSleepCost & ReloadTreeCost & Partial<SearchPartCost>,
  r: PostSleepRow,
): number {
  return (
    postSleepNs(cost, r.slept_ns, r.pages_to_scan) *
    passTreeShare(cost, rowRegion(r), r.pages_to_scan, rowUniqueEvery(r))
  );
}
