/**
 * The reload after a sleep, measured batch by batch with every batch size and sleep in the
 * same minute: the calibration's post-sleep rows (post_sleep.ts's PostSleepRow) where the
 * kernel can be traced.
 *
 * Why: post_sleep.ts reads whole passes at one batch size and sleep against warm passes
 * around them, one size after another. A pass of 100-page batches after 20 ms takes 5 s,
 * and ksmd's speed on these VMs moves by a tenth within that. On 2026-12-05 six calibrations
 * within six hours gave the 1,000-page batch after 20 ms an extra of 147 to 951 µs, and the
 * one shipped at 11:00 a fixed part a batch twice the others'. Traced with the sizes
 * interleaved, the same kernel five hours later spent 0.77-0.89 of what that set charges on
 * 70- and 80-page batches and 1.22-1.37 of it on 1,000-page ones, in four runs over 22
 * minutes (docs/cost-model-journal.md, "The reload's split, interleaved").
 *
 * How: one region (a PostSleepShape), smart_scan 0. Round after round, each batch size of
 * the plan in turn: first sleep_millisecs 0 (WARM_SETTLE_MS, then WARM_MS read), where ksmd
 * never sleeps and its CPU over the pages it scanned is the warm cost of the batch in the
 * same minute; then each of its sleeps for SEGMENT_MS or six sleeps' worth of batches,
 * traced (host/ksmd_trace.ts). Sizes and sleeps come in another order each round. Writing
 * pages_to_scan does not wake ksmd; writing sleep_millisecs does, so a segment's batches are
 * those that began GUARD_NS or more after its writes, after a batch that ended in a timed
 * sleep (woken by the tick), but its first SETTLE_BATCHES. The batch that ends a full scan
 * scans no page (the region is a whole number of batches): it is counted once a pass, as a
 * pass counts it (passBatchNs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createKernelBackend } from '../backends/kernel/index.ts';
import { findKsmdPid, holdPollerOffKsmd } from '../host/ksmd_affinity.ts';
import { traceKsmd } from '../host/ksmd_trace.ts';
import { KsmCounter } from '../host/ksm_sysfs.ts';
import { readSchedstat } from '../host/procfs.ts';
import type { KsmdBatch } from '../lib/ksmd_batches.ts';
import { median } from '../lib/statistics.ts';
import { checkShape, type PostSleepRow, type PostSleepShape, shapeTag, startShapeRegion } from './post_sleep.ts';
import { ksmWriter, type TimerOptions } from './timer.ts';

/** A segment of batches at one size and sleep, on the trace's clock (CLOCK_MONOTONIC, ns). */
export interface Segment {
  /** The round it belongs to: its extra is judged against the warm reading of its size in that round. */
  readonly round: number;
  readonly pages: number;
  readonly sleepMs: number;
  /** When its writes were made, and when the next ones were. */
  readonly beginNs: number;
  readonly endNs: number;
  /** ksmd's wait for a CPU during it. */
  readonly queuedNs: number;
}

/** A warm reading: ksmd's CPU over the pages it scanned at sleep_millisecs 0, batches of `pages`. */
export interface WarmReading {
  readonly round: number;
  readonly pages: number;
  readonly cpuNs: number;
  readonly scanned: number;
}

/** A batch began this long after a write or more to count: a write wakes ksmd within about 0.2 ms. */
export const GUARD_NS = 500_000;
/** The shortest segment, and the sleeps' worth of batches a segment holds at least. */
const SEGMENT_MS = 400;
const SEGMENT_SLEEPS = 6;
/**
 * The first batches of a segment that are left out: they follow the warm reading's run, whose
 * caches a sleep empties less than a run of batches after sleeps does (traced at about 17:00
 * UTC on 2026-12-05, the 100-page batches after 20 ms cost 487 and 536 µs in a segment's first two
 * places and 590-630 from the third on, medians of 12 segments).
 */
export const SETTLE_BATCHES = 2;
/**
 * The warm reading: after this long at sleep_millisecs 0, ksmd's CPU over this long. Its
 * caches take tens of ms to fill after a sleep: read 15 ms after the switch for 60 ms, the
 * warm batch cost 3,100-3,200 ns a page where 300 ms read 100 ms after it gave 2,630
 * (2026-12-05, 17:00-17:05 UTC).
 */
const WARM_SETTLE_MS = 100;
const WARM_MS = 200;
/** A row needs this many batches. */
const MIN_BATCHES = 3;
/** The share of a row's batches left out at either end of their CPU (a stretch of a slow host). */
const TRIM = 0.1;
/** Rounds of the plan. */
export const ROUNDS = 6;

/**
 * How long a segment at `sleepMs` runs: SEGMENT_MS, or SEGMENT_SLEEPS cycles of a sleep with
 * two ticks of 10 ms (HZ 100, the longest) and a batch, where that is longer.
 */
export function segmentMs(sleepMs: number): number {
  return Math.max(SEGMENT_MS, SEGMENT_SLEEPS * (sleepMs + 30));
}

/** The mean of `xs` without the lowest and highest TRIM of them. */
export function trimmedMean(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length * TRIM);
  const kept = sorted.slice(cut, sorted.length - cut);
  return kept.reduce((s, x) => s + x, 0) / kept.length;
}

/**
 * The batches of `segment`: begun inside it, GUARD_NS after its writes, after its first
 * SETTLE_BATCHES, and woken by the tick.
 */
function segmentBatches(batches: readonly KsmdBatch[], segment: Segment): Array<{ batch: KsmdBatch; sleptNs: number }> {
  const out: Array<{ batch: KsmdBatch; sleptNs: number }> = [];
  let seen = 0;
  for (let i = 1; i < batches.length; i++) {
    const b = batches[i]!;
    const prev = batches[i - 1]!;
    if (b.beginNs < segment.beginNs + GUARD_NS || b.beginNs >= segment.endNs) continue;
    if (++seen <= SETTLE_BATCHES) continue;
    if (!prev.timed || b.whole === false || prev.whole === false) continue;
    out.push({ batch: b, sleptNs: b.beginNs - (prev.beginNs + prev.wallNs) });
  }
  return out;
}

/**
 * A pass's CPU per batch of it, as post_sleep.ts's passes count it: a pass is `perPass` full
 * batches and one more that only ends the scan (ksm_do_scan's next call finds no page left
 * and returns), so the full batches' trimmed mean and the end batches' mean over `perPass`
 * (none seen: none counted).
 */
function passBatchNs(xs: ReadonlyArray<{ batch: KsmdBatch }>, perPass: number): number {
  const cpu = (ended: boolean): number[] =>
    xs.filter((x) => x.batch.passesEnded > 0 === ended).map((x) => x.batch.cpuNs);
  const ends = cpu(true);
  return trimmedMean(cpu(false)) + (ends.length === 0 ? 0 : ends.reduce((t, x) => t + x, 0) / ends.length / perPass);
}

/** The rows of the traced batches, with the combinations that had too few batches for one. */
export interface InterleavedRows {
  readonly rows: PostSleepRow[];
  readonly missing: ReadonlyArray<{ readonly pages: number; readonly sleepMs: number; readonly batches: number }>;
}

/**
 * The rows of a measurement: for each (pages, sleep) in the order the segments first give
 * it, the median over its segments (one a round) of their batches' trimmed mean CPU against
 * the warm CPU of the same batch size in the same round.
 */
export function interleavedRows(
  batches: readonly KsmdBatch[],
  segments: readonly Segment[],
  warm: readonly WarmReading[],
  regionPages: number,
  uniqueEvery = 1,
): InterleavedRows {
  const rows: PostSleepRow[] = [];
  const missing: Array<{ pages: number; sleepMs: number; batches: number }> = [];
  const combos: Array<readonly [number, number]> = [];
  for (const s of segments)
    if (!combos.some(([p, m]) => p === s.pages && m === s.sleepMs)) combos.push([s.pages, s.sleepMs]);
  for (const [pages, sleepMs] of combos) {
    const mine = segments.filter((s) => s.pages === pages && s.sleepMs === sleepMs);
    const perSegment = mine.map((s) => segmentBatches(batches, s));
    const all = perSegment.flat();
    const full = all.filter((x) => x.batch.passesEnded === 0);
    const warmOf = warm.filter((w) => w.pages === pages);
    const scanned = warmOf.reduce((t, w) => t + w.scanned, 0);
    if (full.length < MIN_BATCHES || scanned === 0) {
      missing.push({ pages, sleepMs, batches: full.length });
      continue;
    }
    const perPass = regionPages / pages;
    const warmNs = (ws: readonly WarmReading[]): number =>
      (ws.reduce((t, w) => t + w.cpuNs, 0) / ws.reduce((t, w) => t + w.scanned, 0)) * pages;
    const warmBatchNs = warmNs(warmOf);
    // Each round's extra against the warm batch read just before it (the host's speed moves
    // between rounds by more than the reload: warm readings of one size moved by a tenth),
    // and their median: a round in a slow stretch of the host (one in six or so cost 5-20
    // times the others at 1-5 ms sleeps on 2026-12-05) is left out whole, as post_sleep.ts
    // leaves out a pass that cost a third more.
    const each = mine
      .map((seg, i) => ({ seg, xs: perSegment[i]! }))
      .filter(({ xs }) => xs.some((x) => x.batch.passesEnded === 0))
      .map(({ seg, xs }) => {
        const own = warmOf.filter((w) => w.round === seg.round && w.scanned > 0);
        return Math.round(passBatchNs(xs, perPass) - (own.length === 0 ? warmBatchNs : warmNs(own)));
      });
    const extra = median(each);
    rows.push({
      region_pages: regionPages,
      ...(uniqueEvery > 1 ? { unique_every: uniqueEvery } : {}),
      pages_to_scan: pages,
      sleep_millisecs: sleepMs,
      passes: Math.round((full.length / perPass) * 100) / 100,
      slept_ns: Math.round(all.reduce((t, x) => t + x.sleptNs, 0) / all.length),
      pass_cpu_ns: Math.round((warmBatchNs + extra) * perPass),
      warm_pass_cpu_ns: Math.round(warmBatchNs * perPass),
      extra_ns: Math.round(extra),
      extra_ns_each: each,
      queued_ms: Math.round(mine.reduce((t, s) => t + s.queuedNs, 0) / 1e4) / 100,
    });
  }
  return { rows, missing };
}

/**
 * A round's order: every batch size of the plan, each with its sleeps, both rotated by
 * `round` so that each round runs them in another order.
 */
export function roundOrder(plan: PostSleepShape['plan'], round: number): Array<{ pages: number; sleeps: number[] }> {
  const rotate = <T>(xs: readonly T[]): T[] => {
    const k = round % xs.length;
    return [...xs.slice(k), ...xs.slice(0, k)];
  };
  return rotate(plan).map(({ pages, sleeps }) => ({ pages, sleeps: rotate(sleeps) }));
}

/** The monotonic clock the trace uses (trace_clock mono), in ns. */
const monoNs = (): number => Number(process.hrtime.bigint());

/**
 * Measures the plan's rows on the live kernel, traced; throws HostUnusable where ksmd cannot
 * be traced (the caller then reads passes: post_sleep.ts).
 */
export async function measurePostSleepInterleaved(
  opts: TimerOptions,
  shape: PostSleepShape,
  rounds = ROUNDS,
): Promise<PostSleepRow[]> {
  checkShape(shape);
  const uniqueEvery = shape.uniqueEvery ?? 1;
  const tag = `${shapeTag(shape)}, interleaved`;
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn });
  const write = ksmWriter(backend);
  try {
    opts.progress(`${tag}: waiting for the KSM lock and starting`);
    await startShapeRegion(backend, shape.regionPages, uniqueEvery, write);
    const ksmd = findKsmdPid();
    if (ksmd === undefined || readSchedstat(ksmd) === undefined)
      throw new Error('post-sleep: no ksmd with /proc/<pid>/schedstat to read its CPU time from');
    const stat = (): { runtimeNs: number; waitNs: number } => readSchedstat(ksmd) ?? { runtimeNs: NaN, waitNs: NaN };
    const restoreSelf = holdPollerOffKsmd(ksmd, 'post-sleep', opts.warn);
    const fullScans = new KsmCounter('full_scans');
    const scanned = new KsmCounter('pages_scanned');
    try {
      write('smart_scan', '0');
      write('sleep_millisecs', '0');
      write('pages_to_scan', String(Math.max(...shape.plan.map((p) => p.pages))));
      write('run', '1');
      // Two passes build the unstable tree (the first only takes checksums).
      const built = fullScans.read() + 2;
      const begin = performance.now();
      while (fullScans.read() < built) {
        if (performance.now() - begin > 120_000) throw new Error('post-sleep: two passes took over 2 minutes');
        await sleep(1);
      }
      const segments: Segment[] = [];
      const warm: WarmReading[] = [];
      const { trace } = await traceKsmd(async () => {
        for (let round = 0; round < rounds; round++) {
          opts.progress(`${tag}: round ${round + 1} of ${rounds}`);
          for (const { pages, sleeps } of roundOrder(shape.plan, round)) {
            write('pages_to_scan', String(pages));
            write('sleep_millisecs', '0');
            await sleep(WARM_SETTLE_MS);
            const [c0, p0] = [stat().runtimeNs, scanned.read()];
            await sleep(WARM_MS);
            warm.push({ round, pages, cpuNs: stat().runtimeNs - c0, scanned: scanned.read() - p0 });
            for (const sleepMs of sleeps) {
              const q0 = stat().waitNs;
              const beginNs = monoNs();
              write('sleep_millisecs', String(sleepMs));
              await sleep(segmentMs(sleepMs));
              segments.push({ round, pages, sleepMs, beginNs, endNs: monoNs(), queuedNs: stat().waitNs - q0 });
            }
          }
        }
      });
      write('run', '0');
      const { rows, missing } = interleavedRows(trace.batches, segments, warm, shape.regionPages, uniqueEvery);
      for (const m of missing)
        opts.warn(
          `${tag}: ${m.batches} batches of ${m.pages} pages after ${m.sleepMs} ms were traced whole, too few for a row`,
        );
      return rows;
    } finally {
      fullScans.close();
      scanned.close();
      restoreSelf();
    }
  } finally {
    await backend.stop();
  }
}
