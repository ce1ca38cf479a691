/**
 * Every row the calibration fits the reload after a sleep to (reload_tree.ts fitReload): the
 * main random region's batches and sleeps, and the smaller regions and the region that
 * searches little on their own plans. Read over whole passes one size after another
 * (post_sleep.ts), or, asked for (`bench --calibrate --reload interleaved`), with the sizes
 * and sleeps interleaved and ksmd traced (post_sleep_interleaved.ts) where the kernel lets
 * samepage trace it, else over passes with a warning, on the passes' plan: 100-page batches
 * after sleeps of 50 and 200 ms take a minute a pass there.
 *
 * Why passes stay the default: on 2026-12-05 the interleaved reading gave a reload that
 * follows the kernel's batches of 80-1,000 pages more evenly, and the AMD set shipped was
 * made with it, but across ten calibrations put against eight kept grids the two readings'
 * totals overlapped (interleaved 267-324 cells of 432, over passes 297-320), and in a
 * clean-clone CI run the timing family's fresh calibration of that kind left 5000/1/0 7.9 %
 * behind at 0.5 s at the kernel's speed, a cell every CI run before had passed there
 * (docs/cost-model-journal.md, "The reload's split, interleaved", "The workloads in rounds").
 */
import { HostUnusable } from '../host/unusable.ts';
import {
  measurePostSleep,
  POST_SLEEP_PLAN,
  type PostSleepRow,
  type PostSleepShape,
  REGION_PAGES,
  SEARCH_PART_PASSES,
  SEARCH_PART_UNIQUE_EVERY,
  TREE_SIZE_PLAN,
  TREE_SIZE_REGIONS,
} from './post_sleep.ts';
import { measurePostSleepInterleaved } from './post_sleep_interleaved.ts';
import type { TimerOptions } from './timer.ts';

/**
 * The main region's plan when traced: every batch size at every sleep of the timing grid,
 * with 400 pages between the 100 and the 1,000 that the passes' plan has, since the split of
 * the reload between its part a batch and its part a page shows between them.
 */
export const INTERLEAVED_PLAN: PostSleepShape['plan'] = [100, 400, 1000, 5000].map((pages) => ({
  pages,
  sleeps: [1, 5, 20, 50, 200],
}));

/** How the calibration reads the reload: over passes, or interleaved and traced. */
export type ReloadReading = 'passes' | 'interleaved';

/** The rows, and whether they were traced (interleaved) or read over passes. */
export interface ReloadRows {
  /** The main random region (REGION_PAGES). */
  readonly main: PostSleepRow[];
  /** The smaller random regions, then the region that searches little. */
  readonly sizes: PostSleepRow[];
  readonly traced: boolean;
}

/** The two ways of reading rows (injected in tests). */
export interface ReloadMeasures {
  readonly interleaved: (opts: TimerOptions, shape: PostSleepShape) => Promise<PostSleepRow[]>;
  readonly passes: (opts: TimerOptions, shape: PostSleepShape) => Promise<PostSleepRow[]>;
}

const LIVE: ReloadMeasures = {
  interleaved: (opts, shape) => measurePostSleepInterleaved(opts, shape),
  passes: measurePostSleep,
};

export async function measureReloadRows(
  opts: TimerOptions,
  how: ReloadReading,
  measure: ReloadMeasures = LIVE,
): Promise<ReloadRows> {
  const others: PostSleepShape[] = [
    ...TREE_SIZE_REGIONS.map((regionPages) => ({ regionPages, plan: TREE_SIZE_PLAN })),
    {
      regionPages: REGION_PAGES,
      plan: TREE_SIZE_PLAN,
      uniqueEvery: SEARCH_PART_UNIQUE_EVERY,
      minPasses: SEARCH_PART_PASSES,
    },
  ];
  const overPasses = async (): Promise<ReloadRows> => {
    const main = await measure.passes(opts, { regionPages: REGION_PAGES, plan: POST_SLEEP_PLAN });
    const sizes: PostSleepRow[] = [];
    for (const shape of others) sizes.push(...(await measure.passes(opts, shape)));
    return { main, sizes, traced: false };
  };
  if (how === 'passes') return overPasses();
  let main: PostSleepRow[];
  try {
    main = await measure.interleaved(opts, { regionPages: REGION_PAGES, plan: INTERLEAVED_PLAN });
  } catch (err) {
    if (!(err instanceof HostUnusable)) throw err;
    opts.warn(
      `post-sleep: ${err.message}; the reload is read over whole passes instead, which the host's drift moves more`,
    );
    return overPasses();
  }
  const sizes: PostSleepRow[] = [];
  for (const shape of others) sizes.push(...(await measure.interleaved(opts, shape)));
  return { main, sizes, traced: true };
}
