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
 * beside the verdict. The tolerances are tolerance.ts's, the judgement timed_compare.ts's.
 */
import { availableParallelism } from 'node:os';
import type { KsmdClock } from '../backends/kernel/index.ts';
import { foreignCalibration } from '../backends/model/calibration.ts';
import { createModelBackend, type ModelBackendOptions } from '../backends/model/index.ts';
import { traceKsmd } from '../host/ksmd_trace.ts';
import { othersBusyLimitMs } from '../host/others_busy.ts';
import { type BatchSummary, type KsmdBatch, summarizeBatches } from '../lib/ksmd_batches.ts';
import type { RunResult } from '../scenario/records.ts';
import { runScenario } from '../scenario/run.ts';
import type { ScanTrace } from '../scenario/scan_trace.ts';
import type { Scenario } from '../scenario/types.ts';
import { diffKernelBackend, liveReadFaults } from './diff.ts';
import { kernelNsPerPage, matchKernelSpeed, nsPerPage, type SpeedRun } from './kernel_speed.ts';
import { compareTimed, onlyWithinKernelSpread, type TimedValue } from './timed_compare.ts';
import type { Tolerance } from './tolerance.ts';

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
  /** It misses, and only values that lie within the kernel runs' own spread (onlyWithinKernelSpread). */
  readonly withinKernelRuns: boolean;
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
  const values = judge(match.run);
  return {
    factor: match.factor,
    kernelNsPerPage: match.kernelNsPerPage,
    modelNsPerPage: match.nsPerPage,
    rounds: match.rounds,
    matched: match.matched,
    values,
    withinKernelRuns: onlyWithinKernelSpread(values),
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
