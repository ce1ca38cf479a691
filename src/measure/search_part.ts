/**
 * How much of a batch's tree reload follows its searches (cost.ts postSleepSearchPart),
 * fitted to passes over a region of few unique pages against passes over a random region of
 * as many pages as it has unique ones (post_sleep.ts, `uniqueEvery`).
 *
 * Both regions give trees of about the same size, but a batch of the first searches them for
 * one page in `uniqueEvery` (the others are already on their KSM page), a batch of the second
 * for every page. The ratio of the two rows' extras, for the same batch and sleep, is what
 * the searches change: the hour's speed of the host, which moves both, cancels (measured on
 * 2026-12-05, docs/cost-model-journal.md, "A batch that searches little").
 */
import { AT_FIRST_SEARCH, type SearchPartCost } from '../ksm/cost.ts';

/** One pair of rows: one batch size after one sleep, on the two regions. */
export interface SearchPartPoint {
  /** The measured extra of a batch on the region of few unique pages over that on the random one. */
  readonly ratio: number;
  /** The model's ratio with all of the tree reload paid at the first search (p = 0). */
  readonly ratioAtFirst: number;
  /** Searches per page of the budget on the region of few unique pages (1 / uniqueEvery). */
  readonly searched: number;
}

export interface SearchPartFit {
  readonly cost: SearchPartCost;
  /** Root mean square of ln(fitted / measured ratio) over the points used. */
  readonly rmsLog: number;
  readonly points: number;
}

/** Steps of p's grid, from 0 to 1. */
const PART_STEP = 0.01;

/**
 * Fits p on a grid: at p the model's ratio is ratioAtFirst x (1 - p + p x searched), since the
 * random region's batches search for every page and pay all of their reload whatever p is.
 * Least squares in logarithms, since the ratios are products. Points with a ratio that is not
 * positive (noise on a small reload) are left out; with none left, all of the reload at the
 * first search (AT_FIRST_SEARCH).
 */
export function fitSearchPart(points: readonly SearchPartPoint[]): SearchPartFit {
  const usable = points.filter((p) => p.ratio > 0 && p.ratioAtFirst > 0 && Number.isFinite(p.ratio));
  if (usable.length === 0) return { cost: AT_FIRST_SEARCH, rmsLog: 0, points: 0 };
  let best = { rss: Infinity, part: 0 };
  for (let i = 0; i * PART_STEP <= 1 + 1e-9; i++) {
    const part = Math.round(i * PART_STEP * 100) / 100;
    let rss = 0;
    for (const p of usable) rss += (Math.log(p.ratio) - Math.log(p.ratioAtFirst * (1 - part + part * p.searched))) ** 2;
    if (rss < best.rss - 1e-12) best = { rss, part };
  }
  return {
    cost: { postSleepSearchPart: best.part },
    rmsLog: Math.sqrt(best.rss / usable.length),
    points: usable.length,
  };
}
