/**
 * The calibration of `samepage bench --calibrate`: fits src/ksm/cost.ts's constants to the
 * live ksmd's CPU time per full scan (see docs/cost-model.md and fit.ts) and measures the
 * machine's timer (HZ, ksmd's wake-up latency and scan-start flush: timer.ts), and saves
 * them as this machine's calibration set (cost-model.json and timer.json), which the model
 * then runs on here (backends/model/calibration.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import {
  calibratedCost,
  calibratedTimer,
  calibrationPath,
  calibrationTarget,
  readCostModel,
} from '../backends/model/calibration.ts';
import { machineInfo, type MachineInfo } from '../host/machine.ts';
import { othersBusyLimitMs, OTHERS_BUSY_SHARE } from '../host/others_busy.ts';
import { HostUnusable } from '../host/unusable.ts';
import { COST_KEYS, type CostModel, NO_FIRST_VISIT, postSleepNoTreeNs } from '../ksm/cost.ts';
import type { MeasureLog } from './bench.ts';
import { fitFirstVisits, fitOverDepths, type FirstVisitFit, type FitRow, round, sum } from './fit.ts';
import {
  ANCHOR_PAGES,
  FIRST_VISIT_PAGES,
  firstVisitPassNs,
  firstVisitPoint,
  type FirstVisitRow,
  measureFirstVisits,
  visitingBatches,
} from './first_visit.ts';
import { type KernelRun, type KernelRunOptions, runKernel } from './kernel.ts';
import { batchExtrasNs, type CountedScan, countedScanNs, type EventCounts, runModelCounted } from './model.ts';
import type { PostSleepRow } from './post_sleep.ts';
import { measureReloadRows, type ReloadReading } from './reload_rows.ts';
import { fitReload, fittedReloadNs, rowRegion } from './reload_tree.ts';
import { measureTimer, type TimerMeasurement } from './timer.ts';
import { measureWorkloadRounds } from './workload_rounds.ts';
import { calibrationWorkloads, type Workload } from './workloads.ts';
import type { TimerParams } from '../sim/timer.ts';

/**
 * The depths tried for `deepFrom` (cost.ts): levels 6 to 14 of the unstable tree, whose
 * walks at 4,096 to 65,536 pages take 11 to 15 steps on average. The fit keeps the depth
 * whose residuals are smallest; the file records every depth's.
 */
export const DEEP_FROM_CANDIDATES: readonly number[] = [6, 7, 8, 9, 10, 11, 12, 13, 14];

/** Pages of each calibration workload unless told otherwise (`bench --pages`). */
export const CALIBRATION_PAGES = 65_536;

export interface CalibrateOptions {
  /** Pages of each calibration workload. */
  readonly pages: number;
  /** How long to wait for another samepage kernel run to finish. */
  readonly lockWaitMs: number;
  /** Save the result to calibrationTarget()'s files (false: a dry run). */
  readonly write: boolean;
  /** How to read the reload after a sleep (reload_rows.ts; absent: over passes). */
  readonly reload?: ReloadReading;
  /** Rounds of the workloads, each scan's CPU the median of its rounds (workload_rounds.ts; absent: 1). */
  readonly rounds?: number;
}

export interface CalibrationFile {
  readonly version: 1;
  readonly cost: CostModel;
  readonly machine: MachineInfo;
  readonly date: string;
  readonly pages: number;
  /** Where ksmd's CPU time came from: schedstat (ns) or utime+stime (clock ticks). */
  readonly cpu_source?: 'schedstat' | 'ticks';
  readonly method: string;
  /** Rounds each workload was measured, its scans' CPU the median (absent in files from before rounds: 1). */
  readonly workload_rounds?: number;
  readonly kernel_ns_per_visit: Record<string, number>;
  /**
   * The fit's weighted residual (root mean square) at each deepFrom tried; the smallest
   * chose cost.deepFrom. Absent in files from before the deep-step cost.
   */
  readonly deep_from_rms?: Record<string, number>;
  /**
   * The extra CPU of a batch after a sleep (post_sleep.ts), measured, and the fit of
   * cost.postSleep*'s form to it. Absent in files from before the reload after a sleep.
   */
  readonly post_sleep?: {
    /** Each point with the fitted form's extra at its sleep and batch (fitted_ns). */
    readonly rows: readonly (PostSleepRow & { readonly fitted_ns: number })[];
    /**
     * How the rows were read (reload_rows.ts): batch by batch with the sizes and sleeps
     * interleaved and ksmd traced, or over whole passes one size after another (absent in
     * files from before the traced measurement: passes).
     */
    readonly measured?: 'interleaved' | 'passes';
    readonly rms_ns: number;
    /** The same relative to each batch's whole CPU, which the fit minimises (absent in older files). */
    readonly rel_rms?: number;
    /**
     * The fit of the reload's growth with the trees (cost.postSleepTree*; reload_tree.ts):
     * root mean square of ln(fitted / measured) over the points it used. Absent in files
     * from before it.
     */
    readonly tree?: { readonly rms_log: number; readonly points: number };
    /**
     * The fit of the part of the reload paid per search (cost.postSleepSearchPart;
     * search_part.ts): root mean square of ln(fitted / measured ratio) over its points.
     * Absent in files from before it.
     */
    readonly search?: { readonly rms_log: number; readonly points: number };
  };
  /**
   * Passes of first visits after sleeps (first_visit.ts), measured, and the fit of
   * cost.firstVisitNs and cost.postSleepNoTree* to them. Absent in files from before them.
   */
  readonly first_visit?: {
    /** Each row with the model's CPU for its pass under the fitted cost (fitted_pass_ns). */
    readonly rows: readonly (FirstVisitRow & { readonly fitted_pass_ns: number })[];
    /** Root mean square of (fitted - measured) / measured over the rows' median passes. */
    readonly rel_rms: number;
  };
  readonly scans: readonly CalibrationScan[];
}

/** calibration/timer.json: the timer the model runs on, and what it was measured from. */
export interface TimerFile extends Omit<TimerMeasurement, 'timer'> {
  readonly version: 1;
  readonly timer: TimerParams;
  readonly machine: MachineInfo;
  readonly date: string;
  readonly method: string;
}

export interface CalibrationScan {
  readonly workload: string;
  readonly scan: number;
  readonly pages_scanned: number;
  readonly kernel_cpu_s: number;
  /** With rounds: ksmd's CPU of this scan in every round, whose median is kernel_cpu_s. */
  readonly kernel_cpu_rounds_s?: readonly number[];
  /** CPU time other work used during the scan, ms (absent in files from before it was measured). */
  readonly others_busy_ms?: number;
  readonly events: EventCounts;
  readonly batches: number;
  readonly fitted_cpu_s: number;
  readonly default_cpu_s: number;
}

const TIMER_METHOD =
  'hz: CONFIG_HZ of /proc/config.gz (else from the cadence at sleep_millisecs=1, two ticks). wakeupLatencyNs: ' +
  'median time from run=1 (ksmd waiting for work) to the first page of its batch in pages_scanned, polled from ' +
  'another CPU, one-page batches mid-scan. workFlushNs: the same when each batch starts a full scan ' +
  '(lru_add_drain_all), less the latency. timerWakeLatencyNs: median time from the tick (a multiple of TICK_NSEC on ' +
  "the trace's mono clock) to ksmd running, for its batches woken by the tick at sleep_millisecs=1, traced through " +
  "tracefs (tick_wake_us); where ksmd cannot be traced, the kick's latency. cadence: one-batch passes of 64 pages " +
  'for 1 s, kernel against the model ' +
  'with this timer. See docs/cost-model.md.';

const METHOD =
  'Per measured full scan: ksmd CPU time (schedstat runtime where the kernel has it, else utime+stime) against the events the model counts in the same ' +
  'scan of the same workload (counting cost model); with --rounds N, every workload N times, the order reversed ' +
  'every other round, each scan the median of its rounds (workload_rounds). Weighted non-negative least squares on relative errors ' +
  '(scans under 0.1 s weighted as 0.1 s), with a weak pull (lambda 0.02) toward the previous constants for ' +
  'directions the workloads cannot separate. Unstable-tree steps deeper than deepFrom are their own column ' +
  '(deepStepNs); one fit per deepFrom tried (deep_from_rms), the smallest residual kept. The reload after a sleep ' +
  '(postSleep*): whole passes of 20,000 random pages in batches of 100, 1,000 and 5,000 pages after sleeps of ' +
  '1-200 ms against the same passes at sleep_millisecs 0 just before and after each sleep, per batch, the median ' +
  'pass of each sleep (post_sleep, measured: passes); with --reload interleaved, ksmd traced (tracefs) on the same ' +
  'region, 6 rounds of every batch size of 100, 400, 1,000 and 5,000 pages in turn: 200 ms at sleep_millisecs 0 for ' +
  'the warm CPU of the batch, then each sleep of 1-200 ms for 400 ms or six sleeps, in rotating order; per segment ' +
  'the trimmed mean CPU of its batches woken by the tick but its first two, the batch that ends a scan counted once ' +
  "a pass, less its round's warm batch; per row the median of the rounds (measured: interleaved). Fitted by least " +
  'squares in ns ' +
  'on a grid, each row divided by the mean share of the reload its batches pay for the trees they meet ' +
  '(postSleepTree*: the same on 2,000, 5,000 and 10,000 random pages, batches of 100 pages after 5 and ' +
  '20 ms and of 1,000 after 20 ms, the exponent fitted in logarithms, trees of 20,000 nodes paying all of it), ' +
  'the part paid per search rather than at the first (postSleepSearchPart: the same on 20,000 pages of ' +
  'which one in 10 is random and the others on one KSM page, each row against the 2,000-page random row of its ' +
  'batch and sleep, the ratio fitted in logarithms on a grid); ' +
  "each workload scan's batch that searches the trees carries one such reload, subtracted before the fit. First visits " +
  '(firstVisitNs, postSleepNoTree*): passes of fresh processes of 9,984 random pages in batches of 100, 1,000 ' +
  'and 5,000 pages after sleeps of 1-200 ms, 3 passes each, the median pass against the events the model ' +
  'charges it under the per-event constants, fitted by non-negative least squares per time constant on a grid ' +
  '(first_visit). See docs/cost-model.md.';

/**
 * Measures every calibration workload on the live kernel and counts the model's events in
 * the same scans, fits the constants and, with `write`, saves them to calibrationTarget()'s
 * files: this machine's host set, or the files SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER name.
 * Resolves to the calibration and the constants in use until now.
 */
export async function calibrate(
  opts: CalibrateOptions,
  log: MeasureLog,
): Promise<{ file: CalibrationFile; previous: CostModel; timer: TimerFile; previousTimer: TimerParams }> {
  const progress = log.progress;
  // The constants in use until now: the fit's prior, and the "current" column (its deep
  // steps counted at its own deepFrom, which is therefore among the depths tried).
  const previous = calibratedCost();
  const depths = [...new Set([...DEEP_FROM_CANDIDATES, previous.deepFrom])].sort((a, b) => a - b);
  // Per measured scan: the kernel's ns, and the model's events at each deepFrom tried.
  const perScan: { b: number; counted: Map<number, CountedScan>; workload: Workload }[] = [];
  const scans: Omit<CalibrationScan, 'fitted_cpu_s' | 'default_cpu_s' | 'events' | 'batches'>[] = [];
  const nsPerVisit: Record<string, number> = {};
  let clkTck = 100;
  let cpuSource: 'schedstat' | 'ticks' = 'schedstat';
  const rounds = opts.rounds ?? 1;
  const workloads = calibrationWorkloads(opts.pages);
  const measuredRuns = await measureWorkloadRounds(
    workloads,
    rounds,
    { lockWaitMs: opts.lockWaitMs, progress, warn: log.warn },
    runKernelQuietly,
  );
  for (const w of workloads) {
    progress(`${w.name}: counting the model's events`);
    const counted = new Map(depths.map((d) => [d, runModelCounted(w, progress, d)] as const));
    const { run, cpuRoundsS } = measuredRuns.get(w.name)!;
    clkTck = run.clkTck;
    if (run.cpuSource === 'ticks') cpuSource = 'ticks';
    const first = counted.get(depths[0]!)!;
    if (first.length !== run.scans.length)
      throw new Error(`Workload ${w.name}: ${first.length} model scans vs ${run.scans.length} kernel scans`);
    run.scans.forEach((k, i) => {
      if (first[i]!.counts.visitNs !== k.pagesScanned) {
        log.warn(
          `${w.name} scan ${i + 1}: the kernel visited ${k.pagesScanned} pages, the model ${first[i]!.counts.visitNs}`,
        );
      }
      perScan.push({ b: k.cpuS * 1e9, counted: new Map([...counted].map(([d, c]) => [d, c[i]!])), workload: w });
      scans.push({
        workload: w.name,
        scan: i + 1,
        pages_scanned: k.pagesScanned,
        kernel_cpu_s: round(k.cpuS, 6),
        ...(rounds > 1 ? { kernel_cpu_rounds_s: cpuRoundsS[i]!.map((c) => round(c, 6)) } : {}),
        ...(k.othersBusyMs === undefined ? {} : { others_busy_ms: Math.round(k.othersBusyMs) }),
      });
    });
    const visited = sum(run.scans.map((s) => s.pagesScanned));
    nsPerVisit[w.name] = Math.round((sum(run.scans.map((s) => s.cpuS)) * 1e9) / Math.max(1, visited));
  }
  // The reload after a sleep first: each batch of the workloads' scans carries one, a known
  // term of the per-event fit. It grows with the trees, so it is measured on smaller
  // regions too (reload_tree.ts).
  const measureOpts = { lockWaitMs: opts.lockWaitMs, progress, warn: log.warn };
  const {
    main: postSleepRows,
    sizes: sizeRows,
    traced,
  } = await measureReloadRows(measureOpts, opts.reload ?? 'passes');
  const reload = fitReload(postSleepRows, sizeRows);
  // Then the passes of first visits, fitted against the per-event constants: what a first
  // visit in a fresh process's pass costs beyond them. The per-event fit does not carry the
  // first-visit charges as a known term: fitted in turn, the two traded visitNs and
  // checksumNs for firstVisitNs round after round until both were 0 (2026-12-04, 23:39 UTC),
  // since the workloads' first scans are all that tell a checksum from a first visit.
  const firstVisitRows = await measureFirstVisits({ lockWaitMs: opts.lockWaitMs, progress, warn: log.warn });
  const prior = COST_KEYS.map((k) => previous[k]);
  // deepFrom is a depth, not a cost: one linear fit per depth tried, the best kept.
  const events = fitOverDepths(
    depths,
    (deepFrom) =>
      perScan.map((m) => {
        const c = m.counted.get(deepFrom)!;
        return fitRow(c, m.b, batchExtrasNs(c, { ...reload.cost, ...NO_FIRST_VISIT }, m.workload));
      }),
    { prior, lambda: 0.02, floorNs: 1e8 },
  );
  const constants = (firstVisit: FirstVisitFit['cost']): CostModel => {
    const fitted: Record<string, number> = { deepFrom: events.best.depth };
    for (const [k, v] of Object.entries({ ...reload.base.cost, ...firstVisit })) fitted[k] = Math.round(v);
    // The exponent and the part per search in hundredths, not rounded to ns.
    Object.assign(fitted, reload.tree.cost, reload.search.cost);
    COST_KEYS.forEach((k, j) => {
      fitted[k] = Math.round(events.best.fit.x[j]!);
    });
    return fitted as unknown as CostModel;
  };
  const firstVisit = fitFirstVisits(firstVisitRows.map((r) => firstVisitPoint(r, constants(NO_FIRST_VISIT))));
  const { fits } = events;
  const cost = constants(firstVisit.cost);
  const file: CalibrationFile = {
    version: 1,
    cost,
    machine: machineInfo(clkTck),
    date: new Date().toISOString(),
    pages: opts.pages,
    cpu_source: cpuSource,
    method: METHOD,
    workload_rounds: rounds,
    kernel_ns_per_visit: nsPerVisit,
    deep_from_rms: Object.fromEntries(fits.map((f) => [String(f.depth), round(f.fit.rms, 5)])),
    post_sleep: {
      rows: [...postSleepRows, ...sizeRows].map((r) => ({ ...r, fitted_ns: Math.round(fittedReloadNs(cost, r)) })),
      measured: traced ? 'interleaved' : 'passes',
      rms_ns: Math.round(reload.base.rmsNs),
      rel_rms: round(reload.base.relRms, 4),
      tree: { rms_log: round(reload.tree.rmsLog, 4), points: reload.tree.points },
      search: { rms_log: round(reload.search.rmsLog, 4), points: reload.search.points },
    },
    first_visit: {
      rows: firstVisitRows.map((r) => ({
        ...r,
        fitted_pass_ns: Math.round(
          firstVisitPassNs(cost, r.batches) +
            (FIRST_VISIT_PAGES - ANCHOR_PAGES) * cost.firstVisitNs +
            visitingBatches(r.pages_to_scan) * postSleepNoTreeNs(cost, r.slept_ns),
        ),
      })),
      rel_rms: round(firstVisit.relRms, 4),
    },
    scans: scans.map((s, i) => {
      const c = perScan[i]!.counted.get(cost.deepFrom)!;
      const old = perScan[i]!.counted.get(previous.deepFrom)!;
      return {
        ...s,
        events: c.counts,
        batches: c.batches,
        fitted_cpu_s: round(countedScanNs(c, cost, perScan[i]!.workload) / 1e9, 4),
        default_cpu_s: round(countedScanNs(old, previous, perScan[i]!.workload) / 1e9, 4),
      };
    }),
  };
  const previousTimer = calibratedTimer();
  const measured = await measureTimer({ lockWaitMs: opts.lockWaitMs, progress, warn: log.warn });
  const timer: TimerFile = {
    version: 1,
    ...measured,
    machine: file.machine,
    date: file.date,
    method: TIMER_METHOD,
  };
  if (opts.write) {
    const target = calibrationTarget();
    for (const [path, data] of [
      [target.costPath, file],
      [target.timerPath, timer],
    ] as const) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
      progress(`wrote ${path}`);
    }
  }
  return { file, previous, timer, previousTimer };
}

/** Times a workload is measured before the machine is called too busy to calibrate. */
const QUIET_TRIES = 3;

/**
 * The workload on the kernel, measured again while other work used more than OTHERS_BUSY_SHARE
 * of its measured scans' time (or what the ticks resolve: othersBusyLimitMs); a HostUnusable after QUIET_TRIES such runs.
 */
export async function runKernelQuietly(
  w: Workload,
  opts: KernelRunOptions,
  measure: (w: Workload, opts: KernelRunOptions) => Promise<KernelRun> = runKernel,
  cpus = availableParallelism(),
): Promise<KernelRun> {
  for (let attempt = 1; ; attempt++) {
    const run = await measure(w, opts);
    const wallMs = sum(run.scans.map((s) => s.wallS)) * 1000;
    const others = run.scans.some((s) => s.othersBusyMs === undefined)
      ? undefined
      : sum(run.scans.map((s) => s.othersBusyMs ?? 0));
    const limitMs = othersBusyLimitMs(wallMs, OTHERS_BUSY_SHARE, cpus);
    if (others === undefined || others <= limitMs) return run;
    const busy = `other work used ${others.toFixed(0)} ms of CPU during ${wallMs.toFixed(0)} ms of ${w.name}'s measured scans (more than ${limitMs.toFixed(0)} ms: ${OTHERS_BUSY_SHARE * 100} %, or what the clock ticks resolve), which slows ksmd down`;
    if (attempt === QUIET_TRIES)
      throw new HostUnusable(
        `The machine is too busy to calibrate: ${busy}, ${QUIET_TRIES} times. Stop the other work and calibrate again.`,
      );
    opts.warn(`${busy}: measuring ${w.name} again`);
  }
}

/**
 * A scan's fit row: its counted events against the kernel's ns, less `extrasNs`, what its
 * batches cost besides the fitted events (model.ts batchExtrasNs: wake-ups, reloads after
 * their sleeps, first visits).
 */
export function fitRow(c: CountedScan, kernelNs: number, extrasNs: number): FitRow {
  return { a: COST_KEYS.map((key) => c.counts[key]), b: kernelNs, fixed: extrasNs };
}

/** The whole calibration file (cost, machine, scans), if present; a damaged one is an error. */
export function readCalibration(path = calibrationPath()): CalibrationFile | undefined {
  if (!existsSync(path)) return undefined;
  const cost = readCostModel(path); // throws, naming what is wrong, unless the constants are valid
  const file = JSON.parse(readFileSync(path, 'utf8')) as CalibrationFile;
  // Rows from before other regions were measured were all on REGION_PAGES.
  const postSleep = file.post_sleep && {
    ...file.post_sleep,
    rows: file.post_sleep.rows.map((r) => ({ ...r, region_pages: rowRegion(r) })),
  };
  return { ...file, cost, ...(postSleep === undefined ? {} : { post_sleep: postSleep }) };
}
