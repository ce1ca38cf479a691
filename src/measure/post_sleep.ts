/**
 * The post-sleep half of `samepage bench --calibrate`: how much more ksmd's batch costs
 * after a sleep than the same batch without one (cost.ts postSleepNs), measured through the
 * kernel backend (which saves and restores /sys/kernel/mm/ksm, holds ksmd on one CPU and
 * holds the machine's lock).
 *
 * One process of REGION_PAGES random pages (nothing merges), smart_scan 0. For each batch
 * size, warm passes at sleep_millisecs 0 (ksmd never sleeps: every batch warm) before and
 * after every sleep's passes, so each sleep is judged against the warm speed of its own
 * minute: ksmd's speed drifts by some per cent a minute on these VMs, and when one warm
 * reading before all the sleeps and one after served every sleep, the drift moved every
 * row of a batch size the same way (on 2026-12-04, three calibrations minutes apart gave
 * 5,000-page batches extras of -344 to +912 µs). A pass is the same pages and the same
 * unstable tree at every sleep, so the difference of ksmd's CPU per pass, divided by the
 * batches of a pass, is the extra of one batch after that sleep; each pass after a sleep is
 * its own reading (ksmd is asleep when a pass ends, so the reading is exact) and the row
 * keeps their median, since a pass now and then costs a third more for no reason this
 * machine shows. Its mean sleep is the passes' wall time less ksmd's CPU, per batch. Where
 * ksmd does not sleep, a reading at a pass's end may miss up to a tick of the running
 * batch: the warm passes are many and read as one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { createKernelBackend, type KernelBackend } from '../backends/kernel/index.ts';
import { findKsmdPid, holdPollerOffKsmd } from '../host/ksmd_affinity.ts';
import { KsmCounter } from '../host/ksm_sysfs.ts';
import { readSchedstat } from '../host/procfs.ts';
import { median } from '../lib/statistics.ts';
import { emptyScenario } from './empty_scenario.ts';
import { type KsmWrite, ksmWriter, startRandomRegion, type TimerOptions } from './timer.ts';

/** The region: the timing family's size (80 MiB), a whole number of every batch below. */
export const REGION_PAGES = 20_000;
/**
 * The batches measured and the sleeps after which each is: 100 pages a batch is 200 batches
 * a pass, so its long sleeps would take a minute; the sleeps are the timing grid's.
 */
export const POST_SLEEP_PLAN: ReadonlyArray<{ readonly pages: number; readonly sleeps: readonly number[] }> = [
  { pages: 100, sleeps: [1, 5, 20] },
  { pages: 1000, sleeps: [1, 5, 20, 50, 200] },
  { pages: 5000, sleeps: [1, 5, 20, 50, 200] },
];
/**
 * The regions the reload's growth with the trees is measured on (reload_tree.ts), besides
 * REGION_PAGES, and the batches and sleeps on each: those of the real programs' batches at
 * the default knobs (100 pages after 20 ms) and two more. Measured on 2026-12-05 (05:16-05:29
 * UTC): the reload of a 100-page batch after 20 ms grew from 194 µs on 2,000 pages to 483 on
 * 20,000, medians of three runs (docs/cost-model-journal.md, "The reload follows the trees' size").
 */
export const TREE_SIZE_REGIONS: readonly number[] = [2_000, 5_000, 10_000];
export const TREE_SIZE_PLAN: typeof POST_SLEEP_PLAN = [
  { pages: 100, sleeps: [5, 20] },
  { pages: 1000, sleeps: [20] },
];
/**
 * The region that searches little, against which the reload's part per search is fitted
 * (search_part.ts): REGION_PAGES pages, one in this many unique, so that its unique pages are
 * as many as the smallest of TREE_SIZE_REGIONS, measured on TREE_SIZE_PLAN. Measured on
 * 2026-12-05 (08:45-08:47 UTC): its batches paid 0.43 to 0.53 of the reload that those of
 * the random region of 2,000 pages paid (docs/cost-model-journal.md, "A batch that searches
 * little").
 */
export const SEARCH_PART_UNIQUE_EVERY = 10;
/**
 * Its fewest passes after each sleep: its 100-page batches make passes of 2 to 5 s, which
 * were read once. Three calibrations of 2026-12-05 read that way (10:40-10:53 UTC) fitted the
 * part per search at 0.71, 0.45 and 0.18; at 10:49 one such pass, with the warm passes around
 * it 27 % apart, made the 0.18. Read over three passes, the next two gave 0.52 and 0.55
 * (docs/cost-model-journal.md, "The reload's part per search").
 */
export const SEARCH_PART_PASSES = 3;
/** Warm passes per reading (a tick's error at the end spread over them). */
const WARM_PASSES = 8;
/** A sleep's passes: enough for about a second, at least 1 and at most MAX_SLEPT_PASSES. */
const SLEPT_MS = 1000;
const MAX_SLEPT_PASSES = 5;
/** Warm readings on either side of a sleep further apart than this are warned of. */
const DRIFT_WARNING = 0.05;

/** One batch size after one sleep: the measured extra CPU of a batch. */
export interface PostSleepRow {
  /** The random region's pages (absent in files from before other regions: REGION_PAGES). */
  readonly region_pages?: number;
  /** One page in how many unique, the others equal (PostSleepShape.uniqueEvery); absent: all random. */
  readonly unique_every?: number;
  readonly pages_to_scan: number;
  readonly sleep_millisecs: number;
  readonly passes: number;
  /** Mean wall time from a batch's end to the next one's start (pass wall less CPU, per batch), ns. */
  readonly slept_ns: number;
  /** ksmd's CPU per pass at this sleep (the median pass) and warm (the mean of the readings before and after), ns. */
  readonly pass_cpu_ns: number;
  readonly warm_pass_cpu_ns: number;
  /** (pass_cpu_ns - warm_pass_cpu_ns) / batches of a pass. */
  readonly extra_ns: number;
  /** Each pass's extra of a batch, ns: the spread the median leaves out (absent in older files). */
  readonly extra_ns_each?: readonly number[];
  /** How long ksmd waited for a CPU meanwhile, ms (a busy machine stretches the sleeps). */
  readonly queued_ms: number;
}

/** Whole passes read from one pass boundary to another. */
export interface PassReading {
  readonly cpuNs: number;
  readonly wallNs: number;
  readonly queuedNs: number;
}

/**
 * One row from its readings: `passes` (each one pass after sleeps of `sleepMs`) between
 * the warm readings `warmBefore` and `warmAfter` (each WARM_PASSES passes).
 */
export function postSleepRow(
  pages: number,
  sleepMs: number,
  passes: readonly PassReading[],
  warmBefore: PassReading,
  warmAfter: PassReading,
  regionPages = REGION_PAGES,
  uniqueEvery = 1,
): PostSleepRow {
  const batches = regionPages / pages;
  const warm = (warmBefore.cpuNs + warmAfter.cpuNs) / (2 * WARM_PASSES);
  const pass = median(passes.map((r) => r.cpuNs));
  const total = (k: keyof PassReading): number => passes.reduce((t, r) => t + r[k], 0);
  return {
    region_pages: regionPages,
    ...(uniqueEvery > 1 ? { unique_every: uniqueEvery } : {}),
    pages_to_scan: pages,
    sleep_millisecs: sleepMs,
    passes: passes.length,
    slept_ns: Math.round((total('wallNs') - total('cpuNs')) / (passes.length * batches)),
    pass_cpu_ns: Math.round(pass),
    warm_pass_cpu_ns: Math.round(warm),
    extra_ns: Math.round((pass - warm) / batches),
    extra_ns_each: passes.map((r) => Math.round((r.cpuNs - warm) / batches)),
    queued_ms: Math.round(total('queuedNs') / 1e4) / 100,
  };
}

/** How far two warm readings of the same passes are apart, relative to the first. */
export function warmDrift(before: PassReading, after: PassReading): number {
  return Math.abs(after.cpuNs - before.cpuNs) / before.cpuNs;
}

/** What a measurement other than the calibration's may change: the region and the plan. */
export interface PostSleepShape {
  /** Pages of the random region, a whole number of every batch of the plan. */
  readonly regionPages: number;
  readonly plan: typeof POST_SLEEP_PLAN;
  /**
   * One page in `uniqueEvery` random and the others equal (absent or 1: every page random).
   * The equal pages merge into one KSM page in the first passes, and a later visit of such a
   * page searches no tree, so a batch searches the trees for about 1 / uniqueEvery of its
   * pages, on trees of about regionPages / uniqueEvery nodes: what the reload of a batch that
   * searches little is, against a random region of that size.
   */
  readonly uniqueEvery?: number;
  /**
   * The fewest passes read after each sleep (absent: 1), where the second ends up alone: a
   * region whose pass takes seconds would otherwise be read once, and one disturbed pass
   * would make the row.
   */
  readonly minPasses?: number;
}

/** The byte of the equal pages of a region with `uniqueEvery` (any value but zero: not the zero page). */
const EQUAL_BYTE = 0x5a;

/**
 * Starts the one process of a post-sleep measurement on `backend`: `regionPages` random
 * pages, madvised, and where `uniqueEvery` is above 1 every page but one in that many equal
 * (max_page_sharing raised so that one KSM page holds them all, without chains).
 */
export async function startShapeRegion(
  backend: KernelBackend,
  regionPages: number,
  uniqueEvery: number,
  write: KsmWrite,
): Promise<void> {
  await startRandomRegion(
    backend,
    emptyScenario('calibrate-post-sleep', (regionPages * 2 + 4096) * PAGE_SIZE),
    regionPages,
    'sp-postsleep',
  );
  if (uniqueEvery <= 1) return;
  for (let first = 0; first < regionPages; first += uniqueEvery)
    await backend.fill(
      'p',
      'r',
      { kind: 'byte', byte: EQUAL_BYTE },
      (first + 1) * PAGE_SIZE,
      (uniqueEvery - 1) * PAGE_SIZE,
    );
  write('max_page_sharing', String(regionPages));
}

/** Refuses a shape whose region is not a whole number of every batch, or of one in uniqueEvery. */
export function checkShape(shape: PostSleepShape): void {
  for (const { pages } of shape.plan)
    if (shape.regionPages % pages !== 0)
      throw new RangeError(`post-sleep: ${shape.regionPages} pages is not a whole number of ${pages}-page batches`);
  const uniqueEvery = shape.uniqueEvery ?? 1;
  if (!Number.isSafeInteger(uniqueEvery) || uniqueEvery < 1 || shape.regionPages % uniqueEvery !== 0)
    throw new RangeError(`post-sleep: one page in ${uniqueEvery} unique does not divide ${shape.regionPages} pages`);
}

/** How a message names the shape's region where it is not the calibration's main one. */
export function shapeTag(shape: PostSleepShape): string {
  const uniqueEvery = shape.uniqueEvery ?? 1;
  return shape.regionPages === REGION_PAGES && uniqueEvery === 1
    ? 'post-sleep'
    : `post-sleep on ${shape.regionPages} pages${uniqueEvery > 1 ? `, one in ${uniqueEvery} unique` : ''}`;
}

/**
 * Measures the extra of a batch after each sleep of the plan on the live kernel (the
 * calibration's region and plan unless `shape` gives others).
 */
export async function measurePostSleep(
  opts: TimerOptions,
  shape: PostSleepShape = { regionPages: REGION_PAGES, plan: POST_SLEEP_PLAN },
): Promise<PostSleepRow[]> {
  const { regionPages, plan } = shape;
  const uniqueEvery = shape.uniqueEvery ?? 1;
  checkShape(shape);
  const minPasses = shape.minPasses ?? 1;
  if (!Number.isSafeInteger(minPasses) || minPasses < 1 || minPasses > MAX_SLEPT_PASSES)
    throw new RangeError(
      `post-sleep: ${minPasses} passes after each sleep is not a whole number from 1 to ${MAX_SLEPT_PASSES}`,
    );
  const tag = shapeTag(shape);
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn });
  const write = ksmWriter(backend);
  const rows: PostSleepRow[] = [];
  try {
    opts.progress(`${tag}: waiting for the KSM lock and starting`);
    await startShapeRegion(backend, regionPages, uniqueEvery, write);
    const ksmd = findKsmdPid();
    if (ksmd === undefined || readSchedstat(ksmd) === undefined)
      throw new Error('post-sleep: no ksmd with /proc/<pid>/schedstat to read its CPU time from');
    const restoreSelf = holdPollerOffKsmd(ksmd, 'post-sleep', opts.warn);
    const fullScans = new KsmCounter('full_scans');
    const stat = (): { runtimeNs: number; waitNs: number } => readSchedstat(ksmd) ?? { runtimeNs: NaN, waitNs: NaN };
    const boundary = async (target: number): Promise<void> => {
      const begin = performance.now();
      while (fullScans.read() < target) {
        if (performance.now() - begin > 120_000) throw new Error('post-sleep: a pass took over 2 minutes');
        await sleep(1);
      }
    };
    // `n` readings of `each` whole passes, from the next pass boundary on, back to back.
    const readings = async (n: number, each: number): Promise<PassReading[]> => {
      await boundary(fullScans.read() + 1);
      const out: PassReading[] = [];
      let s0 = stat();
      let t0 = performance.now();
      for (let i = 0; i < n; i++) {
        await boundary(fullScans.read() + each);
        const s1 = stat();
        const t1 = performance.now();
        out.push({ cpuNs: s1.runtimeNs - s0.runtimeNs, wallNs: (t1 - t0) * 1e6, queuedNs: s1.waitNs - s0.waitNs });
        s0 = s1;
        t0 = t1;
      }
      return out;
    };
    const warmReading = async (): Promise<PassReading> => {
      write('sleep_millisecs', '0');
      return (await readings(1, WARM_PASSES))[0]!;
    };
    try {
      write('smart_scan', '0');
      write('sleep_millisecs', '0');
      for (const { pages, sleeps } of plan) {
        const batches = regionPages / pages;
        write('pages_to_scan', String(pages));
        write('run', '1');
        opts.progress(`${tag}: ${pages} pages a batch, warm`);
        // Two passes to build the unstable tree (the first only checksums).
        await readings(1, 2);
        let before = await warmReading();
        // The largest move of the warm speed across one sleep, and that sleep.
        let moved = { drift: 0, sleepMs: 0 };
        for (const s of sleeps) {
          opts.progress(`${tag}: ${pages} pages a batch after sleeps of ${s} ms`);
          write('sleep_millisecs', String(s));
          const passMs = batches * (s + 4);
          const n = Math.max(minPasses, Math.min(MAX_SLEPT_PASSES, Math.ceil(SLEPT_MS / passMs)));
          const slept = await readings(n, 1);
          const after = await warmReading();
          rows.push(postSleepRow(pages, s, slept, before, after, regionPages, uniqueEvery));
          const drift = warmDrift(before, after);
          if (drift > moved.drift) moved = { drift, sleepMs: s };
          before = after;
        }
        write('run', '0');
        if (moved.drift > DRIFT_WARNING)
          opts.warn(
            `${tag}: ksmd's warm passes at ${pages} pages a batch cost up to ${(moved.drift * 100).toFixed(1)} % more or less after a sleep's passes than before them (sleeps of ${moved.sleepMs} ms): its speed moved meanwhile`,
          );
      }
    } finally {
      fullScans.close();
      restoreSelf();
    }
  } finally {
    await backend.stop();
  }
  return rows;
}
