/**
 * The differential method for scenarios that wait in milliseconds with ksmd running (`wait:
 * { ms }`), where what ksmd does is the machine's clock's: the model's counters must come
 * within a tolerance of the live kernel's, not equal them. The kernel runs the scenario
 * several times; a run in which ksmd waited for a CPU (another task had it) longer than a
 * small share of the waits, or in which other work kept the CPUs busy, is measured
 * again, since a busy machine stretches ksmd's cadence and slows its scanning
 * (docs/cost-model-journal.md, "Other work on the machine"); the median of the undisturbed runs,
 * value by value, is the reference. The model runs once for the verdict, told the live
 * ksmd's CPU time before the first run (the scan-time advisor's first step counts it), then
 * again at the kernel runs' CPU per page (kernel_speed.ts), judged the same way and shown
 * beside the verdict.
 *
 * What is compared, record by record (every step's, as in diff.ts):
 *   - the knobs of /sys/kernel/mm/ksm exactly, except pages_to_scan while the scan-time
 *     advisor owns it, which must come within `advisor` (its trajectory);
 *   - pages_scanned within `counters` of the kernel's median, |model - kernel| <=
 *     tolerance * |kernel| (a kernel value of 0 must be 0);
 *   - full_scans by its clock (step_clock.ts): at a record taken t into ksmd's time, neither
 *     side may be more than `counters` * t ahead of the other in reaching a value, by the
 *     traces of full_scans both backends keep (scenario/scan_trace.ts); a record after a
 *     wait for full scans, where the sides meet on an event and not at a time, by value as
 *     pages_scanned is (which makes small counts exact until 1/tolerance);
 *   - madvise and prctl results exactly.
 * A file, process or field that one run shows and another lacks is a difference, as in
 * diff.ts. The other counters (the page counters, rmap_items, each process's) are shown
 * beside the kernel's but not judged: they count where ksmd stands inside its current pass, so a
 * difference of a few batches in pages_scanned (within the tolerance) can be a large share
 * of them (4,100 against 4,500 pages into a pass, while pages_scanned was 24,580 against
 * 24,980).
 */
import { availableParallelism } from 'node:os';
import type { KsmdClock } from '../backends/kernel/index.ts';
import { foreignCalibration } from '../backends/model/calibration.ts';
import { createModelBackend, type ModelBackendOptions } from '../backends/model/index.ts';
import { traceKsmd } from '../host/ksmd_trace.ts';
import { othersBusyLimitMs, OTHERS_BUSY_SHARE } from '../host/others_busy.ts';
import { type BatchSummary, type KsmdBatch, summarizeBatches } from '../lib/ksmd_batches.ts';
import { KSM_WRITABLE_FILES } from '../lib/ksm_files.ts';
import { compareCalls } from '../scenario/compare.ts';
import type { CounterRecord, RunResult } from '../scenario/records.ts';
import { runScenario } from '../scenario/run.ts';
import type { ScanTrace } from '../scenario/scan_trace.ts';
import type { Scenario } from '../scenario/types.ts';
import { diffKernelBackend, liveReadFaults } from './diff.ts';
import { lowerMedian } from '../lib/statistics.ts';
import { type ClockJudgement, judgeByClock } from './step_clock.ts';
import { kernelNsPerPage, matchKernelSpeed, nsPerPage, type SpeedRun } from './kernel_speed.ts';

/** How a timed comparison judges and measures. */
export interface Tolerance {
  /** Relative tolerance of the counters (pages_scanned, full_scans...): 0.05 is 5 %. */
  readonly counters: number;
  /** Relative tolerance of pages_to_scan while the scan-time advisor sets it. */
  readonly advisor: number;
  /** Undisturbed kernel runs whose median is the reference. */
  readonly runs: number;
  /** Kernel runs at most, disturbed ones included. */
  readonly maxRuns: number;
  /** A kernel run is disturbed when ksmd waited for a CPU longer than this share of its waits. */
  readonly maxQueued: number;
  /**
   * Or when the rest of the machine kept its CPUs busy longer than this share of the
   * waits (KsmdClock.othersBusyMs): work on another CPU slows ksmd's scanning down.
   */
  readonly maxOthersBusy: number;
}

/** The targets: 5 % on counters, 10 % on the advisor's pages_to_scan, median of 3. */
export const DEFAULT_TOLERANCE: Tolerance = {
  counters: 0.05,
  advisor: 0.1,
  runs: 3,
  maxRuns: 9,
  maxQueued: 0.01,
  maxOthersBusy: OTHERS_BUSY_SHARE,
};

/** DEFAULT_TOLERANCE with `runs` undisturbed runs (three times as many at most) and tolerances in %. */
export function toleranceOf(runs: number, countersPct: number, advisorPct: number): Tolerance {
  return { ...DEFAULT_TOLERANCE, runs, maxRuns: 3 * runs, counters: countersPct / 100, advisor: advisorPct / 100 };
}

/** One compared value of one record. */
export interface TimedValue {
  readonly label: string;
  /** `ksm/<file>` or `<proc>/<field>`. */
  readonly path: string;
  /** The kernel's median, and each undisturbed run's value. */
  readonly kernel: number | string | boolean | undefined;
  readonly kernelRuns: ReadonlyArray<number | string | boolean | undefined>;
  readonly model: number | string | boolean | undefined;
  /** The relative tolerance applied; 0 for an exact comparison. */
  readonly tolerance: number;
  /** Whether the value is judged (a knob, pages_scanned, full_scans); the others are shown only. */
  readonly judged: boolean;
  /** Within the tolerance, or not judged. */
  readonly ok: boolean;
  /**
   * The model's value is one some undisturbed kernel run gave (between their smallest and
   * largest): where the kernel's own runs disagree, as full_scans does when a record falls a
   * few batches from the end of a pass (0, 1, 0), the median cannot judge the model.
   */
  readonly inKernelSpread: boolean;
  /** full_scans judged by its clock (step_clock.ts): the figures; `ok` is its verdict. */
  readonly clock?: ClockJudgement;
}

/** Whether `m` lies between the smallest and the largest of the numeric runs (false without any). */
export function inSpread(runs: readonly unknown[], m: unknown): boolean {
  const nums = runs.filter((v): v is number => typeof v === 'number');
  return typeof m === 'number' && nums.length > 0 && m >= Math.min(...nums) && m <= Math.max(...nums);
}

/** Every value beyond its tolerance lies within the kernel runs' own spread (see inKernelSpread). */
export function onlyWithinKernelSpread(d: TimedDiff): boolean {
  const bad = d.values.filter((v) => !v.ok);
  return d.error === undefined && bad.length > 0 && bad.every((v) => v.inKernelSpread);
}

/** A kernel run and ksmd's clock over it. */
export interface KernelTimedRun {
  readonly run: RunResult;
  readonly clock: KsmdClock;
  readonly disturbed: boolean;
  /** full_scans over ksmd's time in this run. */
  readonly trace?: ScanTrace;
  /** ksmd's batches in this run, with `batches` (from a trace of the live ksmd). */
  readonly batches?: readonly KsmdBatch[];
}

/** ksmd's batches summed up on either side (lib/ksmd_batches.ts): the undisturbed kernel runs pooled, and the model. */
export interface TimedBatches {
  readonly kernel: BatchSummary;
  readonly model: BatchSummary;
  /** The tick they were counted in, ns (the model's HZ). */
  readonly tickNs: number;
}

/** The traces of full_scans of the runs compared (the kernel's in the order of their runs). */
export interface TimedTraces {
  readonly kernel: ReadonlyArray<ScanTrace | undefined>;
  readonly model: ScanTrace | undefined;
}

/**
 * ksmd's CPU time over the waits on both sides: each undisturbed kernel run's
 * (schedstat runtime) and the model's (its cost model). Shown, not judged: the tolerance is
 * on the counters, and the CPU says whether a miss is the cost model's or the timer's.
 */
export interface TimedCpu {
  readonly kernelNs: readonly number[];
  readonly modelNs: number;
}

/**
 * The model at the kernel's speed (kernel_speed.ts): the factor its CPU costs were scaled by,
 * ksmd's CPU per page on both sides, and that run judged as the verdict's was. Shown, not the
 * verdict.
 */
export interface TimedAtKernelSpeed {
  readonly factor: number;
  readonly kernelNsPerPage: number;
  readonly modelNsPerPage: number;
  /** Model runs the search took after the first. */
  readonly rounds: number;
  /** Whether the model's CPU per page came within 0.5 % of the kernel's (kernel_speed.ts). */
  readonly matched: boolean;
  readonly values: readonly TimedValue[];
}

export interface TimedDiff {
  readonly scenario: string;
  /** Every compared value (exact and within tolerance), record by record. */
  readonly values: readonly TimedValue[];
  /** Every kernel run, disturbed ones included, in order. */
  readonly kernelRuns: readonly KernelTimedRun[];
  readonly model: RunResult;
  /** full_scans over the model's ksmd time. */
  readonly modelTrace?: ScanTrace;
  readonly tolerance: Tolerance;
  /** ksmd's batches on both sides, with `batches`. */
  readonly batches?: TimedBatches;
  /** ksmd's CPU over the waits on both sides, where the scenario waits and schedstat could be read. */
  readonly ksmdCpu?: TimedCpu;
  /** The model again at the kernel runs' CPU per page (kernel_speed.ts), where ksmdCpu is known. */
  readonly atKernelSpeed?: TimedAtKernelSpeed;
  /** Why the comparison could not be made or a run stopped early. */
  readonly error?: string;
  readonly warnings: readonly string[];
}

/** Whether every value is within its tolerance, with enough undisturbed kernel runs and none stopped. */
export function timedAgrees(d: TimedDiff): boolean {
  return d.error === undefined && d.values.every((v) => v.ok);
}

/** The middle of the numbers (the lower middle for an even count); else the first value. */
function medianValue(
  values: ReadonlyArray<number | string | boolean | undefined>,
): number | string | boolean | undefined {
  const nums = values.filter((v): v is number => typeof v === 'number');
  if (nums.length !== values.length || nums.length === 0) return values[0];
  return lowerMedian(nums);
}

const KNOBS = new Set<string>(KSM_WRITABLE_FILES);
/** The timed counters the tolerance judges (the knobs are judged exactly). */
const TIMED = new Set(['pages_scanned', 'full_scans']);

/**
 * A file or field that some run has and another lacks: a difference whatever its kind (a
 * counter the model does not show, a process one side lost), as in the exact comparison.
 */
function oneSided(runs: ReadonlyArray<unknown>, model: unknown): boolean {
  const present = [...runs, model].map((v) => v !== undefined);
  return present.includes(true) && present.includes(false);
}

/** Within `tol` of the kernel's value; a kernel 0 must be 0. */
export function within(kernel: number, model: number, tol: number): boolean {
  return Math.abs(model - kernel) <= tol * Math.abs(kernel);
}

/**
 * full_scans of record `index` judged by its clock, where every run traced it and the record
 * has a place on ksmd's clock on each (no wait for full scans before it); else undefined.
 */
function clockOf(
  traces: TimedTraces | undefined,
  index: number,
  kernel: unknown,
  model: unknown,
  tol: number,
): ClockJudgement | undefined {
  if (traces === undefined || typeof kernel !== 'number' || typeof model !== 'number') return undefined;
  const atMs = traces.model?.recordAtMs[index];
  const kernels = traces.kernel.filter((k): k is ScanTrace => k?.recordAtMs[index] !== undefined);
  if (traces.model === undefined || atMs === undefined || kernels.length !== traces.kernel.length || atMs <= 0)
    return undefined;
  return judgeByClock(kernels, traces.model, atMs, kernel, model, tol);
}

/** The values of one record, judged against the kernel runs' records of the same position. */
function compareTimedRecord(
  model: CounterRecord,
  kernels: readonly CounterRecord[],
  tol: Tolerance,
  out: TimedValue[],
  clockAt: (kernel: unknown, model: unknown) => ClockJudgement | undefined,
): void {
  const label = model.label;
  const advisorOn = kernels[0]?.ksm.advisor_mode === 'scan-time';
  const files = new Set([...Object.keys(model.ksm), ...kernels.flatMap((k) => Object.keys(k.ksm))]);
  for (const file of files) {
    const runs = kernels.map((k) => k.ksm[file]);
    const kernel = medianValue(runs);
    const m = model.ksm[file];
    const lopsided = oneSided(runs, m);
    const judged = KNOBS.has(file) || TIMED.has(file) || lopsided;
    const tolerance = file === 'pages_to_scan' && advisorOn ? tol.advisor : KNOBS.has(file) ? 0 : tol.counters;
    const clock = file === 'full_scans' ? clockAt(kernel, m) : undefined;
    const ok = !judged
      ? true
      : lopsided
        ? false
        : clock !== undefined
          ? clock.ok
          : typeof kernel === 'number' && typeof m === 'number' && tolerance > 0
            ? within(kernel, m, tolerance)
            : kernel === m;
    const inKernelSpread = inSpread(runs, m);
    out.push({
      label,
      path: `ksm/${file}`,
      kernel,
      kernelRuns: runs,
      model: m,
      tolerance,
      judged,
      ok,
      inKernelSpread,
      ...(clock === undefined ? {} : { clock }),
    });
  }
  const procs = new Set([...Object.keys(model.procs), ...kernels.flatMap((k) => Object.keys(k.procs))]);
  for (const proc of procs) {
    const fields = new Set([
      ...Object.keys(model.procs[proc] ?? {}),
      ...kernels.flatMap((k) => Object.keys(k.procs[proc] ?? {})),
    ]);
    for (const field of fields) {
      const pick = (r: CounterRecord): number | boolean | undefined =>
        (r.procs[proc] as Readonly<Record<string, number | boolean>> | undefined)?.[field];
      const runs = kernels.map(pick);
      const kernel = medianValue(runs);
      const m = pick(model);
      // Which VMAs are mergeable, and which mm merges any, do not depend on time.
      const lopsided = oneSided(runs, m);
      const judged = typeof kernel === 'boolean' || lopsided;
      const ok = !judged || (kernel === m && !lopsided);
      const inKernelSpread = inSpread(runs, m);
      out.push({
        label,
        path: `${proc}/${field}`,
        kernel,
        kernelRuns: runs,
        model: m,
        tolerance: 0,
        judged,
        ok,
        inKernelSpread,
      });
    }
  }
}

/**
 * Compares the model's run with the undisturbed kernel runs, value by value; full_scans by
 * its clock where `traces` (the same runs', in the same order) place the record on it.
 */
export function compareTimed(
  kernels: readonly RunResult[],
  model: RunResult,
  tol: Tolerance,
  traces?: TimedTraces,
): TimedValue[] {
  const out: TimedValue[] = [];
  for (const [i, rec] of model.records.entries()) {
    const ks = kernels.map((k) => k.records[i]).filter((r): r is CounterRecord => r?.label === rec.label);
    if (ks.length !== kernels.length) {
      out.push({
        label: rec.label,
        path: '(record)',
        kernel: 'missing',
        kernelRuns: [],
        model: 'present',
        tolerance: 0,
        judged: true,
        ok: false,
        inKernelSpread: false,
      });
      continue;
    }
    compareTimedRecord(rec, ks, tol, out, (k, m) => clockOf(traces, i, k, m, tol.counters));
  }
  for (const k of kernels) {
    for (const d of compareCalls(k.calls ?? [], model.calls ?? [])) {
      out.push({
        label: d.label,
        path: d.path,
        kernel: d.kernel as number,
        kernelRuns: [],
        model: d.model as number,
        tolerance: 0,
        judged: true,
        ok: false,
        inKernelSpread: false,
      });
    }
  }
  return out;
}

export interface TimedDiffOptions {
  readonly seed?: number;
  readonly lockWaitMs?: number;
  readonly onWarning?: (message: string) => void;
  /** Called after each kernel run (a progress line). */
  readonly onKernelRun?: (run: KernelTimedRun, undisturbed: number) => void;
  /**
   * The model's cost model and timer, as `bench --calibrate` measured them on this machine;
   * default: the calibration files (backends/model/calibration.ts), with a warning where
   * they were measured on another machine.
   */
  readonly calibration?: Required<Pick<ModelBackendOptions, 'cost' | 'timer'>>;
  /**
   * Also trace the live ksmd's batches (tracefs: root, CONFIG_TRACING) and record the
   * model's, and sum both up (TimedDiff.batches): the cadence batch by batch.
   */
  readonly batches?: boolean;
}

/**
 * Whether a kernel run's timing says nothing about the model: ksmd waited for a CPU (its
 * wake-ups were late), or other work ran on the machine meanwhile (a process streaming
 * through memory on the other CPU slowed ksmd by 6-23 % without delaying it: docs/cost-model-journal.md,
 * "Other work on the machine"). Where the others' CPU could not be read, only the first.
 */
export function disturbedRun(clock: KsmdClock, tol: Tolerance, cpus = availableParallelism()): boolean {
  if (clock.waitedMs <= 0) return false;
  const others = clock.othersBusyMs ?? 0;
  return (
    clock.queuedNs / 1e6 > tol.maxQueued * clock.waitedMs ||
    others > othersBusyLimitMs(clock.waitedMs, tol.maxOthersBusy, cpus)
  );
}

/**
 * Runs `scenario` on the kernel until `tol.runs` undisturbed runs are in (at most
 * `tol.maxRuns` runs), then once on the model, and compares them within the tolerance.
 * Throws the kernel backend's BackendUnavailable where it cannot run.
 */
export async function timedDiff(scenario: Scenario, tol: Tolerance, opts: TimedDiffOptions = {}): Promise<TimedDiff> {
  const warnings: string[] = [];
  const foreign = opts.calibration === undefined ? foreignCalibration() : undefined;
  if (foreign !== undefined) {
    warnings.push(foreign);
    opts.onWarning?.(foreign);
  }
  const kernelRuns: KernelTimedRun[] = [];
  let error: string | undefined;
  // Read faults map the zero page or not for the whole boot: the first run that tells says.
  let readFaults: boolean | undefined;
  while (kernelRuns.filter((r) => !r.disturbed).length < tol.runs && kernelRuns.length < tol.maxRuns) {
    const backend = diffKernelBackend(opts, warnings, true);
    const go = (): Promise<RunResult> => runScenario(scenario, backend, { recordEveryStep: true });
    const traced = opts.batches === true ? await traceKsmd(go) : { result: await go(), trace: undefined };
    const run = traced.result;
    const clock = backend.ksmdClock();
    readFaults ??= backend.mmForbidsZeropage();
    const disturbed = disturbedRun(clock, tol);
    const trace = backend.scanTrace();
    const r = {
      run,
      clock,
      disturbed,
      ...(trace === undefined ? {} : { trace }),
      ...(traced.trace === undefined ? {} : { batches: traced.trace.batches }),
    };
    kernelRuns.push(r);
    opts.onKernelRun?.(r, kernelRuns.filter((x) => !x.disturbed).length);
    if (run.error !== undefined) {
      error = `kernel run ${kernelRuns.length} stopped: ${run.error}`;
      break;
    }
  }
  const good = kernelRuns.filter((r) => !r.disturbed);
  if (error === undefined && good.length < tol.runs) {
    error =
      `only ${good.length} of ${kernelRuns.length} kernel runs were undisturbed (in the others ksmd waited for a CPU ` +
      `more than ${(tol.maxQueued * 100).toFixed(1)} % of the waits, or other work kept the CPUs busy more than ` +
      `${(tol.maxOthersBusy * 100).toFixed(1)} % of them): the machine is too busy to measure time`;
  }
  const runtime = kernelRuns[0]?.clock.runtimeAtStartNs;
  const runModel = (costScale = 1): Promise<ModelRun> =>
    modelRun(scenario, {
      seed: opts.seed ?? 0,
      ...liveReadFaults(readFaults),
      traceScans: true,
      traceBatches: opts.batches === true,
      ...(runtime === undefined ? {} : { ksmdRuntimeNs: runtime }),
      ...opts.calibration,
      costScale,
    });
  const first = await runModel();
  const { run: model, trace: modelTrace } = first;
  if (error === undefined && model.error !== undefined) error = `model run stopped: ${model.error}`;
  const ksmdCpu = timedCpu(good, first.ranNs);
  const judge = (m: ModelRun): TimedValue[] =>
    good.length === 0
      ? []
      : compareTimed(
          good.map((r) => r.run),
          m.run,
          tol,
          { kernel: good.map((r) => r.trace), model: m.trace },
        );
  const values = judge(first);
  const atKernelSpeed =
    error === undefined && ksmdCpu !== undefined ? await timedAtKernelSpeed(good, first, runModel, judge) : undefined;
  return {
    scenario: scenario.name,
    values,
    kernelRuns,
    model,
    ...(modelTrace === undefined ? {} : { modelTrace }),
    tolerance: tol,
    ...(opts.batches === true ? { batches: timedBatches(good, first.batches ?? [], first.tickNs) } : {}),
    ...(ksmdCpu === undefined ? {} : { ksmdCpu }),
    ...(atKernelSpeed === undefined ? {} : { atKernelSpeed }),
    ...(error === undefined ? {} : { error }),
    warnings,
  };
}

/** One model run of a timed comparison, with what the comparison reads off its backend. */
interface ModelRun {
  readonly run: RunResult;
  readonly trace: ScanTrace | undefined;
  /** ksmd's CPU over the waits, ns. */
  readonly ranNs: number;
  readonly batches: readonly KsmdBatch[] | undefined;
  readonly tickNs: number;
}

async function modelRun(scenario: Scenario, opts: ModelBackendOptions): Promise<ModelRun> {
  const backend = createModelBackend(opts);
  const run = await runScenario(scenario, backend, { recordEveryStep: true });
  return {
    run,
    trace: backend.scanTrace(),
    ranNs: backend.ksmdRanNs(),
    batches: backend.ksmdBatches(),
    tickNs: backend.tickNs(),
  };
}

/**
 * The model run again (`runModel`, its CPU costs scaled) until its CPU per page is the kernel
 * runs' median (kernel_speed.ts), judged by `judge`; undefined where a side has no CPU per page.
 */
async function timedAtKernelSpeed(
  good: readonly KernelTimedRun[],
  first: ModelRun,
  runModel: (costScale: number) => Promise<ModelRun>,
  judge: (m: ModelRun) => TimedValue[],
): Promise<TimedAtKernelSpeed | undefined> {
  const kernel = kernelNsPerPage(good.map((r) => ({ ranNs: r.clock.ranNs, run: r.run })));
  const speedRun = (factor: number, m: ModelRun): SpeedRun<ModelRun> | undefined => {
    const ns = nsPerPage(m.ranNs, m.run);
    return ns === undefined ? undefined : { factor, run: m, ranNs: m.ranNs, nsPerPage: ns };
  };
  const start = speedRun(1, first);
  if (kernel === undefined || start === undefined) return undefined;
  const match = await matchKernelSpeed(kernel, start, async (f) => speedRun(f, await runModel(f)));
  if (match === undefined) return undefined;
  return {
    factor: match.factor,
    kernelNsPerPage: match.kernelNsPerPage,
    modelNsPerPage: match.nsPerPage,
    rounds: match.rounds,
    matched: match.matched,
    values: judge(match.run),
  };
}

/** ksmd's CPU over the waits of the undisturbed runs and the model; undefined where a run could not read it or nothing was timed. */
export function timedCpu(good: readonly KernelTimedRun[], modelNs: number): TimedCpu | undefined {
  const kernelNs: number[] = [];
  for (const r of good) {
    if (r.clock.ranNs === undefined || r.clock.waitedMs <= 0) return undefined;
    kernelNs.push(r.clock.ranNs);
  }
  return kernelNs.length === 0 ? undefined : { kernelNs, modelNs };
}

/** Both sides' batches summed up in the model's tick. */
function timedBatches(good: readonly KernelTimedRun[], model: readonly KsmdBatch[], tick: number): TimedBatches {
  return {
    kernel: summarizeBatches(
      good.map((r) => r.batches ?? []),
      tick,
    ),
    model: summarizeBatches([model], tick),
    tickNs: tick,
  };
}
