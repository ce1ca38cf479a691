/**
 * The bench of `samepage bench`: the same workloads on the live kernel and on the model in
 * one run, as pages visited per CPU-second of ksmd's thread (kernel) and of the thread
 * running the model, and their ratio. The kernel side goes through the kernel backend, which saves and restores
 * every KSM setting and holds the samepage KSM lock. report/bench.ts prints the results.
 */
import { BackendUnavailable } from '../backends/kernel/index.ts';
import type { CostModel } from '../ksm/cost.ts';
import { readCalibration } from './calibrate.ts';
import { round, sum } from './fit.ts';
import { runKernel, type KernelRun } from './kernel.ts';
import { napMs } from '../host/cpu_time.ts';
import {
  countedScanNs,
  MEASURED_RUNS,
  onOneCpu,
  ROUND_PAUSE_MS,
  runModelCounted,
  runModelRounds,
  WARMUP_RUNS,
  type ModelRuns,
} from './model.ts';
import { cpuProbe } from './probe.ts';
import { benchWorkloads, type Workload } from './workloads.ts';

/** Where a measurement tells its progress and its warnings (stderr, for the command). */
export interface MeasureLog {
  readonly progress: (message: string) => void;
  readonly warn: (message: string) => void;
}

export interface BenchOptions {
  /** Pages of each workload (fork-heavy forks a sixteenth of them). */
  readonly pages: number;
  /** Measured full scans per workload. */
  readonly scans: number;
  /** Leave the live kernel alone (the ratios are then unavailable). */
  readonly modelOnly?: boolean;
  /** How long to wait for another samepage kernel run to finish. */
  readonly lockWaitMs: number;
}

/** Counters both backends must agree on after a workload. */
const COMPARED = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'pages_scanned',
  'pages_skipped',
  'stable_node_chains',
  'stable_node_dups',
  'ksm_zero_pages',
  'general_profit',
] as const;

/** The bench result of one workload (the --json shape). */
export interface BenchResult {
  readonly workload: string;
  readonly description: string;
  readonly model_pages_per_cpu_s: number;
  readonly kernel_pages_per_cpu_s: number | null;
  /** model / kernel over all measured scans; null when the kernel could not be measured. */
  readonly ratio: number | null;
  /**
   * The same for the first measured scan alone, and for the scans after it. On all-unique
   * memory they differ most: the first visit of a page computes its checksum (the model
   * then keeps it while the page is unchanged, Linux computes it on every visit), the
   * later ones walk the unstable tree.
   */
  readonly first_scan_ratio: number | null;
  readonly later_scans_ratio: number | null;
  readonly ratio_unavailable?: string;
  readonly pages: number;
  readonly scans: number;
  readonly model_pages_scanned: number;
  /** CPU seconds of the thread running the model (what the ratios use, as ksmd's thread's). */
  readonly model_cpu_s: number;
  /** The same for all of the model process's threads (V8's compiler and collector too). */
  readonly model_process_cpu_s: number;
  /** `ratio` had the model's whole process been counted. */
  readonly process_ratio: number | null;
  readonly kernel_pages_scanned: number | null;
  readonly kernel_cpu_s: number | null;
  readonly kernel_wall_s: number | null;
  /** ksmd CPU ns per page visited. */
  readonly kernel_ns_per_visit: number | null;
  /** CPU ns per page visited in each measured full scan (null: a scan that visited none). */
  readonly model_ns_per_visit_by_scan: ReadonlyArray<number | null>;
  readonly kernel_ns_per_visit_by_scan: ReadonlyArray<number | null> | null;
  /**
   * The CPU speed probe (probe.ts) right before each of the model's measured runs, µs of
   * thread CPU: the same work each time, so a slow one says the CPU itself was slow then.
   */
  readonly model_probe_us_by_run: ReadonlyArray<number | null>;
  /** Each measured model run's thread CPU ns per visit over its measured scans: the spread the medians leave out. */
  readonly model_ns_per_visit_by_run: readonly number[];
  /** The model's virtual ksmd CPU ns per visit with the constants it uses (src/ksm/cost.ts). */
  readonly model_virtual_ns_per_visit: number;
  /** The same with the constants of the calibration set this machine reads, when its file exists. */
  readonly model_calibrated_ns_per_visit?: number;
  /** The counters of COMPARED at the end, and pages_to_scan after every measured scan. */
  readonly counters_equal: boolean | null;
  readonly counter_differences?: Record<string, { model: number | undefined; kernel: number | undefined }>;
}

/** A whole bench: its results, whether a calibration file was there, and the model's runs. */
export interface BenchRun {
  readonly results: readonly BenchResult[];
  readonly calibrated: boolean;
  /**
   * Unmeasured runs of each workload before its first measured one (one before each
   * later), how many are measured, and the pause between rounds (model.ts runModelRounds).
   */
  readonly warmupRuns: number;
  readonly measuredRuns: number;
  readonly roundPauseS: number;
}

interface KernelAttempt {
  readonly run?: KernelRun;
  readonly unavailable?: string;
}

/** The workload on the kernel, or why it cannot be measured (remembered in `known` for the next). */
async function tryKernel(
  w: Workload,
  opts: BenchOptions,
  log: MeasureLog,
  known: { reason: string | undefined },
): Promise<KernelAttempt> {
  if (known.reason !== undefined) return { unavailable: known.reason };
  try {
    const run = await runKernel(w, { lockWaitMs: opts.lockWaitMs, progress: log.progress, warn: log.warn });
    return { run };
  } catch (err) {
    if (err instanceof BackendUnavailable) {
      known.reason = err.message;
      return { unavailable: err.message };
    }
    throw err;
  }
}

/**
 * Every bench workload on the model and, unless `modelOnly`, on the live kernel: one result
 * per workload. Where the kernel cannot be measured (not root, KSM in use...) the ratios are
 * null with the reason, and the model is still measured.
 */
export async function runBench(opts: BenchOptions, log: MeasureLog): Promise<BenchRun> {
  const progress = log.progress;
  const calibrated = readCalibration();
  const known = { reason: opts.modelOnly === true ? '--model-only was given' : undefined };
  const workloads = benchWorkloads(opts.pages, opts.scans);
  // Every model run first, then every kernel run: the kernel backend's child processes,
  // I/O and garbage would otherwise land in the model's measured scans (measured: a
  // fork-heavy first scan 5x slower right after duplicate-heavy's kernel run). Each
  // measured run right after one of the same workload: warming up on another kind of
  // workload leaves V8 with code tuned to that one (measured: a first all-unique scan 2 at
  // 1.7 us/visit after a duplicate-heavy warm-up, 0.6 us after its own).
  const models = onOneCpu(() => {
    const runs = runModelRounds(workloads, progress, napMs, cpuProbe());
    return runs.map((model, i) => ({
      model,
      counted:
        calibrated === undefined ? undefined : runModelCounted(workloads[i]!, progress, calibrated.cost.deepFrom),
    }));
  }, log.warn);
  const results: BenchResult[] = [];
  for (const [i, w] of workloads.entries()) {
    const { model, counted } = models[i]!;
    const k = await tryKernel(w, opts, log, known);
    results.push(
      benchResult(
        w,
        model,
        k,
        counted === undefined || calibrated === undefined ? undefined : { counted, cost: calibrated.cost },
      ),
    );
  }
  return {
    results,
    calibrated: calibrated !== undefined,
    warmupRuns: WARMUP_RUNS,
    measuredRuns: MEASURED_RUNS,
    roundPauseS: ROUND_PAUSE_MS / 1000,
  };
}

function benchResult(
  w: Workload,
  model: ModelRuns,
  k: KernelAttempt,
  cal: { counted: ReturnType<typeof runModelCounted>; cost: CostModel } | undefined,
): BenchResult {
  const mScanned = sum(model.scans.map((s) => s.pagesScanned));
  const mCpu = sum(model.scans.map((s) => s.cpuS));
  const mPerS = mScanned / mCpu;
  const mProcessCpu = sum(model.scans.map((s) => s.processCpuS));
  const base = {
    workload: w.name,
    description: w.description,
    model_pages_per_cpu_s: Math.round(mPerS),
    pages: Math.round(mScanned / Math.max(1, model.scans.length)),
    scans: model.scans.length,
    model_pages_scanned: mScanned,
    model_cpu_s: round(mCpu, 3),
    model_process_cpu_s: round(mProcessCpu, 3),
    model_virtual_ns_per_visit: Math.round(sum(model.scans.map((s) => s.virtualNs)) / mScanned),
    model_ns_per_visit_by_scan: nsPerVisitByScan(model.scans),
    model_probe_us_by_run: model.probeUsByRun,
    model_ns_per_visit_by_run: model.nsPerVisitByRun,
    ...(cal === undefined
      ? {}
      : {
          model_calibrated_ns_per_visit: Math.round(
            sum(cal.counted.map((c) => countedScanNs(c, cal.cost, w))) / mScanned,
          ),
        }),
  };
  if (k.run === undefined) {
    return {
      ...base,
      kernel_pages_per_cpu_s: null,
      ratio: null,
      process_ratio: null,
      first_scan_ratio: null,
      later_scans_ratio: null,
      ratio_unavailable: k.unavailable ?? 'the kernel was not measured',
      kernel_pages_scanned: null,
      kernel_cpu_s: null,
      kernel_wall_s: null,
      kernel_ns_per_visit: null,
      kernel_ns_per_visit_by_scan: null,
      counters_equal: null,
    };
  }
  const kScanned = sum(k.run.scans.map((s) => s.pagesScanned));
  const kCpu = sum(k.run.scans.map((s) => s.cpuS));
  const kPerS = kCpu > 0 ? kScanned / kCpu : Number.POSITIVE_INFINITY;
  const diffs = {
    ...compareCounters(model.counters, k.run.counters),
    ...comparePagesToScan(model.scans, k.run.scans),
  };
  // Pages per CPU-second of scans [from, to) on each side, and their ratio.
  const part = (from: number, to: number): number | null => {
    const ms = model.scans.slice(from, to);
    const ks = k.run!.scans.slice(from, to);
    const mc = sum(ms.map((s) => s.cpuS));
    const kc = sum(ks.map((s) => s.cpuS));
    if (ms.length === 0 || mc <= 0 || kc <= 0) return null;
    return round(sum(ms.map((s) => s.pagesScanned)) / mc / (sum(ks.map((s) => s.pagesScanned)) / kc), 3);
  };
  return {
    ...base,
    kernel_pages_per_cpu_s: Number.isFinite(kPerS) ? Math.round(kPerS) : null,
    ratio: Number.isFinite(kPerS) ? round(mPerS / kPerS, 3) : null,
    process_ratio: Number.isFinite(kPerS) ? round(mScanned / mProcessCpu / kPerS, 3) : null,
    first_scan_ratio: part(0, 1),
    later_scans_ratio: part(1, model.scans.length),
    ...(Number.isFinite(kPerS) ? {} : { ratio_unavailable: 'ksmd used no measurable CPU time; use more --pages' }),
    kernel_pages_scanned: kScanned,
    kernel_cpu_s: round(kCpu, 3),
    kernel_wall_s: round(sum(k.run.scans.map((s) => s.wallS)), 3),
    kernel_ns_per_visit: kScanned > 0 ? Math.round((kCpu * 1e9) / kScanned) : null,
    kernel_ns_per_visit_by_scan: nsPerVisitByScan(k.run.scans),
    counters_equal: Object.keys(diffs).length === 0,
    ...(Object.keys(diffs).length === 0 ? {} : { counter_differences: diffs }),
  };
}

function nsPerVisitByScan(scans: ReadonlyArray<{ pagesScanned: number; cpuS: number }>): Array<number | null> {
  return scans.map((s) => (s.pagesScanned > 0 ? Math.round((s.cpuS * 1e9) / s.pagesScanned) : null));
}

/**
 * pages_to_scan after each measured scan, where the two sides differ: the scan-time
 * advisor's choices, which decide the batches each side worked in.
 */
function comparePagesToScan(
  model: ReadonlyArray<{ pagesToScan: number }>,
  kernel: ReadonlyArray<{ pagesToScan: number }>,
): Record<string, { model: number | undefined; kernel: number | undefined }> {
  const out: Record<string, { model: number | undefined; kernel: number | undefined }> = {};
  for (let i = 0; i < Math.max(model.length, kernel.length); i++) {
    const m = model[i]?.pagesToScan;
    const k = kernel[i]?.pagesToScan;
    if (m !== k) out[`pages_to_scan after scan ${i + 1}`] = { model: m, kernel: k };
  }
  return out;
}

function compareCounters(
  model: Readonly<Record<string, number>>,
  kernel: Readonly<Record<string, number>>,
): Record<string, { model: number | undefined; kernel: number | undefined }> {
  const out: Record<string, { model: number | undefined; kernel: number | undefined }> = {};
  for (const name of COMPARED) {
    if (!(name in kernel)) continue; // a counter this kernel does not have
    if (model[name] !== kernel[name]) out[name] = { model: model[name], kernel: kernel[name] };
  }
  return out;
}
