/**
 * The workloads `samepage bench` runs on both the live kernel and the model: a short list of
 * operations each driver (kernel.ts, model.ts) carries out the same way. Only `scan`
 * operations with `measured: true` are timed; everything else is setup.
 */
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { Pattern } from '../lib/patterns.ts';

export type Op =
  | { readonly op: 'spawn'; readonly proc: string }
  /** mmap `pages` private anonymous pages, fill them with `pattern`, optionally MADV_MERGEABLE. */
  | {
      readonly op: 'region';
      readonly proc: string;
      readonly region: string;
      readonly pages: number;
      readonly pattern: Pattern;
      readonly mergeable: boolean;
    }
  | { readonly op: 'fork'; readonly proc: string; readonly child: string }
  | { readonly op: 'exit'; readonly proc: string }
  | { readonly op: 'sysfs'; readonly file: string; readonly value: string }
  /** `n` full scans with run=1, one at a time; measured ones are timed scan by scan. */
  | { readonly op: 'scan'; readonly n: number; readonly measured: boolean };

export interface Workload {
  readonly name: string;
  readonly description: string;
  readonly ops: readonly Op[];
  /** Bytes the model needs as RAM (with room for copies). */
  readonly ramBytes: number;
}

const RANDOM: Pattern = { kind: 'random', seed: 1n };
const PAGE_MOD_64: Pattern = { kind: 'page-mod', period: 64, seed: 1n };

/**
 * ksmd's sleep between batches in every workload. The kernel side holds ksmd at the end of
 * each full scan, which it must see before the next batch starts: 20 ms was missed on a
 * busy machine (a smart-scan run ended one scan ahead, counters unequal). The sleep is not
 * ksmd's CPU time, and the model's is virtual, so neither figure depends on it.
 */
const SLEEP_MILLISECS = '100';

/** The knobs every workload starts from: ksmd batches cover a whole scan, then sleep. */
function knobs(pages: number, smartScan: boolean): Op[] {
  return [
    { op: 'sysfs', file: 'smart_scan', value: smartScan ? '1' : '0' },
    { op: 'sysfs', file: 'pages_to_scan', value: String(Math.max(pages * 2, 1024)) },
    { op: 'sysfs', file: 'sleep_millisecs', value: SLEEP_MILLISECS },
    { op: 'sysfs', file: 'run', value: '1' },
  ];
}

function ram(pages: number): number {
  return (pages * 2 + 4096) * PAGE_SIZE;
}

/** One process of `pages` pages of `pattern` (split over `procs` processes), scanned `scans` times. */
function simple(
  name: string,
  description: string,
  pages: number,
  pattern: Pattern,
  procs: number,
  scans: number,
  smartScan = false,
): Workload {
  const ops: Op[] = [];
  const per = Math.floor(pages / procs);
  for (let i = 0; i < procs; i++) {
    ops.push({ op: 'spawn', proc: `p${i}` });
    ops.push({ op: 'region', proc: `p${i}`, region: 'buf', pages: per, pattern, mergeable: true });
  }
  ops.push(...knobs(pages, smartScan), { op: 'scan', n: scans, measured: true });
  return { name, description, ops, ramBytes: ram(pages) };
}

/**
 * all-unique: `pages` pages of random content in one process, smart_scan off, `scans` full
 * scans; named `name` (the calibration runs it at three sizes).
 */
export function allUnique(pages: number, scans = 3, name = 'all-unique'): Workload {
  return simple(name, `random pages, one process, smart_scan 0, ${scans} full scans`, pages, RANDOM, 1, scans);
}

/**
 * The all-unique sizes the calibration runs: a 16th, a quarter and all of `pages` (4,096,
 * 16,384 and 65,536 pages at 65,536), at least 256. Their unstable trees are 2 and 4 levels
 * shallower than the largest, which tells the cost of a deep step from a shallow one.
 */
export function allUniqueSizes(pages: number): number[] {
  return [Math.max(256, Math.floor(pages / 16)), Math.max(256, Math.floor(pages / 4)), pages];
}

/**
 * How many times the calibration runs the all-unique sizes, in turn (small, medium, large,
 * small, ...). Measured: ksmd's CPU for the same scan moves by 10-60 % from one minute to
 * the next on this VM (a 4,096-page scan 2 took 9.0 ms at 17:47 and 14.8 ms at 17:48 UTC),
 * so with one run of each size that drift, not the tree's depth, decided the deep-step fit
 * (deepFrom 13 and 6 in two calibrations a minute apart). Interleaved rounds spread the drift
 * over all sizes.
 */
export const ALL_UNIQUE_ROUNDS = 3;

/** duplicate-heavy: 64 distinct page contents repeated, in 4 processes, `scans` full scans. */
export function duplicateHeavy(pages: number, scans = 3): Workload {
  return simple(
    'duplicate-heavy',
    `page-mod period 64, 4 processes, smart_scan 0, ${scans} full scans`,
    pages,
    PAGE_MOD_64,
    4,
    scans,
  );
}

/**
 * fork-heavy: a parent with pages/16 pages (16 MiB by default) of 64 distinct contents is
 * merged (2 unmeasured scans), forked 8 times, and the 9 processes are scanned 3 times.
 */
export function forkHeavy(pages: number, scans = 3): Workload {
  const parentPages = Math.max(64, Math.floor(pages / 16));
  const ops: Op[] = [
    { op: 'spawn', proc: 'parent' },
    { op: 'region', proc: 'parent', region: 'buf', pages: parentPages, pattern: PAGE_MOD_64, mergeable: true },
    ...knobs(parentPages * 9, false),
    { op: 'scan', n: 2, measured: false },
  ];
  for (let i = 0; i < 8; i++) ops.push({ op: 'fork', proc: 'parent', child: `child${i}` });
  ops.push({ op: 'scan', n: scans, measured: true });
  return {
    name: 'fork-heavy',
    description: `${parentPages} merged pages (page-mod 64) forked 8 times, ${scans} full scans of the 9 processes`,
    ops,
    ramBytes: ram(parentPages * 9),
  };
}

/**
 * smart-scan: all-unique with smart_scan on (Linux's default): pages that never merge are
 * skipped more and more often, so later scans process few pages and pass over the rest.
 */
export function smartScan(pages: number, scans = 3): Workload {
  return simple(
    'smart-scan',
    `random pages, one process, smart_scan 1, ${scans} full scans`,
    pages,
    RANDOM,
    1,
    scans,
    true,
  );
}

/**
 * The advisor workload's batch: advisor_min_pages_to_scan and advisor_max_pages_to_scan
 * both, so that the advisor starts there and every adjustment comes back to it. At most
 * pages/50: then a full scan is some 50 batches, over 4 s of ksmd's 100 ms sleeps between
 * them, and the first adjustment's own result is above the batch (see `advisor`).
 */
export function advisorBatch(pages: number): number {
  return Math.max(1, Math.min(500, Math.floor(pages / 50)));
}

/**
 * advisor: duplicate-heavy with advisor_mode scan-time, whose adjustment after every full
 * scan (mm/ksm.c scan_time_advisor) is bounded so that it gives the same pages_to_scan on
 * the kernel and on the model: advisor_min_pages_to_scan = advisor_max_pages_to_scan =
 * `advisorBatch` (500 at 65,536 pages), advisor_target_scan_time 1 s, advisor_max_cpu 1000.
 * ksmd works in many small batches with the advisor's bookkeeping at every scan's end,
 * which is what this workload measures; the bench compares pages_to_scan after every scan.
 *
 * Left free, the advisor would not choose the same batches on both sides, so the ratio
 * would compare different work:
 * - its context starts at 0 when the mode is set, so its first adjustment divides ksmd's
 *   whole runtime since boot by the first scan's time. On a machine whose ksmd has run a
 *   few minutes in all, that CPU share is hundreds of percent, the per-page cost it derives
 *   is 1, and the defaults (advisor_max_cpu 70, target 200 s) bring pages_to_scan from 500
 *   to 10 (a full scan of 65,536 pages then takes 11 minutes); the model's ksmd has no
 *   runtime before the workload, and its first adjustment gives 5000;
 * - later adjustments divide pages_to_scan by ksmd's CPU share of the scan, which the
 *   model takes from its cost model, not from the kernel.
 * With the bounds above: the first adjustment's own result is at least the batch (a scan
 * takes 4 s or more, and B x 100/floor(100/4) x 30/100 = 1.2 B, rounded down, >= B),
 * the CPU cap (per-page cost at least 1, times 1000) and the CPU floor (per-page cost times
 * 10, at most 10 x the batch) cannot bring it below, and advisor_max_pages_to_scan brings
 * it back to the batch; so on either side, whatever ksmd's history and the CPU shares.
 */
export function advisor(pages: number, scans = 3): Workload {
  const ops: Op[] = [];
  const per = Math.floor(pages / 4);
  const batch = String(advisorBatch(pages));
  for (let i = 0; i < 4; i++) {
    ops.push({ op: 'spawn', proc: `p${i}` });
    ops.push({ op: 'region', proc: `p${i}`, region: 'buf', pages: per, pattern: PAGE_MOD_64, mergeable: true });
  }
  ops.push(
    { op: 'sysfs', file: 'smart_scan', value: '0' },
    { op: 'sysfs', file: 'sleep_millisecs', value: SLEEP_MILLISECS },
    { op: 'sysfs', file: 'advisor_max_cpu', value: '1000' },
    { op: 'sysfs', file: 'advisor_target_scan_time', value: '1' },
    { op: 'sysfs', file: 'advisor_min_pages_to_scan', value: batch },
    { op: 'sysfs', file: 'advisor_max_pages_to_scan', value: batch },
    { op: 'sysfs', file: 'advisor_mode', value: 'scan-time' },
    { op: 'sysfs', file: 'run', value: '1' },
    { op: 'scan', n: scans, measured: true },
  );
  return {
    name: 'advisor',
    description:
      `page-mod period 64, 4 processes, smart_scan 0, advisor_mode scan-time held at ${batch} pages a batch ` +
      `(advisor_min/max_pages_to_scan ${batch}, advisor_max_cpu 1000, target 1 s), ${scans} full scans`,
    ops,
    ramBytes: ram(pages),
  };
}

/** The workloads of `samepage bench`. */
export function benchWorkloads(pages: number, scans = 3): Workload[] {
  return [
    allUnique(pages, scans),
    duplicateHeavy(pages, scans),
    forkHeavy(pages, scans),
    smartScan(pages, scans),
    advisor(pages, scans),
  ];
}

/**
 * The workloads of `samepage bench --calibrate`, chosen so that different cost constants
 * dominate different scans (see docs/cost-model.md):
 * - all-unique: visit + checksum (scan 1), then + ~log2(n) unequal memcmps (scans 2, 3);
 *   also at a 16th and a quarter of the pages, whose shallower trees have fewer deep steps,
 *   the three sizes in turn, ALL_UNIQUE_ROUNDS times;
 * - all-identical: memcmp-equal + merge (scan 2), then visits of merged pages (scan 3);
 * - duplicate-heavy: the mix of a realistic deduplicating workload;
 * - smart-scan: all-unique with smart_scan on, 8 scans: most later visits are skips;
 * - exit: rmap_items of an exited process freed by ksmd (a small process stays registered).
 */
export function calibrationWorkloads(pages: number): Workload[] {
  const identical: Pattern = { kind: 'byte', byte: 0x5a };
  const exitOps: Op[] = [
    { op: 'spawn', proc: 'keeper' },
    { op: 'region', proc: 'keeper', region: 'buf', pages: 16, pattern: { kind: 'random', seed: 2n }, mergeable: true },
    { op: 'spawn', proc: 'victim' },
    { op: 'region', proc: 'victim', region: 'buf', pages, pattern: RANDOM, mergeable: true },
    ...knobs(pages, false),
    { op: 'scan', n: 1, measured: true },
    { op: 'exit', proc: 'victim' },
    { op: 'scan', n: 2, measured: true },
  ];
  return [
    ...Array.from({ length: ALL_UNIQUE_ROUNDS }, (_, round) =>
      allUniqueSizes(pages).map((n) =>
        allUnique(n, 3, n === pages && round === 0 ? 'all-unique' : `all-unique-${n}-${round + 1}`),
      ),
    ).flat(),
    simple('all-identical', 'every page the same non-zero byte, smart_scan 0, 3 full scans', pages, identical, 1, 3),
    duplicateHeavy(pages),
    simple('smart-scan', 'random pages, smart_scan 1, 8 full scans', pages, RANDOM, 1, 8, true),
    {
      name: 'exit',
      description: 'random pages scanned once, their process exits, 2 more scans free its rmap_items',
      ops: exitOps,
      ramBytes: ram(pages),
    },
  ];
}
