/**
 * `samepage bench`: the same workloads on the live kernel and on the model in one run, as
 * pages visited per CPU-second of ksmd (kernel) and of this process (model), and their ratio.
 * `samepage bench --calibrate [--write]`: fits src/ksm/cost.ts's constants to the live ksmd's
 * CPU time (see docs/cost-model.md) and with --write saves them to calibration/cost-model.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import Table from 'cli-table3';
import type { CostModel } from '../ksm/cost.ts';
import { CALIBRATION_FILE, calibratedCost, calibrationPath, readCostModel } from '../backends/model/calibration.ts';
import { BackendUnavailable } from '../backends/kernel/index.ts';
import { fitCosts, type FitRow } from './bench/fit.ts';
import { runKernel, type KernelRun } from './bench/kernel.ts';
import {
  COST_KEYS,
  costOf,
  MEASURED_RUNS,
  onOneCpu,
  runModelCounted,
  runModelMeasured,
  warmUpModel,
  WARMUP_RUNS,
  type EventCounts,
  type ModelRun,
} from './bench/model.ts';
import { benchWorkloads, calibrationWorkloads, type Workload } from './bench/workloads.ts';

/** The model's fixed CPU cost of one ksmd wake-up (WAKEUP_NS of src/ksm/ksmd.ts, not exported). */
const WAKEUP_NS = 2000;
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

interface BenchIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

interface BenchOptions {
  json?: true;
  pages: number;
  scans: number;
  calibrate?: true;
  dryRun?: true;
  modelOnly?: true;
  lockWait: number;
}

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
  /** The model's virtual ksmd CPU ns per visit with the constants it uses (src/ksm/cost.ts). */
  readonly model_virtual_ns_per_visit: number;
  /** The same with calibration/cost-model.json's constants, when that file exists. */
  readonly model_calibrated_ns_per_visit?: number;
  readonly counters_equal: boolean | null;
  readonly counter_differences?: Record<string, { model: number | undefined; kernel: number | undefined }>;
}

/** Adds `bench` to the program. */
export function addBenchCommand(program: Command, io: BenchIo): void {
  program
    .command('bench')
    .description('model vs live-kernel KSM speed (pages visited per CPU-second), or --calibrate the cost model')
    .option('--json', 'print JSON on stdout instead of tables')
    .option('--pages <n>', 'pages of each workload (fork-heavy forks a sixteenth of them 8 times)', parsePages, 65536)
    .option('--scans <n>', 'measured full scans per workload (the first one is also reported alone)', parseScans, 10)
    .option('--calibrate', "measure the live ksmd's CPU cost per event and fit src/ksm/cost.ts's constants")
    .option('--dry-run', `with --calibrate: print the fitted constants without writing ${CALIBRATION_FILE}`)
    .option('--model-only', 'do not touch the live kernel (the ratio is then unavailable)')
    .option('--lock-wait <s>', 'seconds to wait for another samepage kernel run to finish', parseSeconds, 600)
    .addHelpText(
      'after',
      '\nThe kernel side needs root and a writable /sys/kernel/mm/ksm; it runs through the kernel\n' +
        'backend, which saves and restores every KSM setting. Progress goes to stderr.\n\n' +
        'Examples:\n  sudo samepage bench\n  sudo samepage bench --json --pages 131072\n  sudo samepage bench --calibrate',
    )
    .action(async (opts: BenchOptions) => {
      if (opts.dryRun === true && opts.calibrate !== true)
        throw new Error('--dry-run needs --calibrate (it leaves the calibration file as it is)');
      if (opts.calibrate === true) await calibrate(opts, io);
      else await bench(opts, io);
    });
}

function progressTo(io: BenchIo): (msg: string) => void {
  return (msg) => io.stderr.write(`samepage bench: ${msg}\n`);
}

/** Why the kernel cannot be measured before trying, or undefined. */
function kernelPrecheck(opts: BenchOptions): string | undefined {
  if (opts.modelOnly === true) return '--model-only was given';
  return undefined;
}

interface KernelAttempt {
  readonly run?: KernelRun;
  readonly unavailable?: string;
}

async function tryKernel(
  w: Workload,
  opts: BenchOptions,
  io: BenchIo,
  known: { reason: string | undefined },
): Promise<KernelAttempt> {
  if (known.reason !== undefined) return { unavailable: known.reason };
  try {
    const run = await runKernel(w, {
      lockWaitMs: opts.lockWait * 1000,
      progress: progressTo(io),
      warn: (m) => io.stderr.write(`samepage bench: warning: ${m}\n`),
    });
    return { run };
  } catch (err) {
    if (err instanceof BackendUnavailable) {
      known.reason = err.message;
      return { unavailable: err.message };
    }
    throw err;
  }
}

async function bench(opts: BenchOptions, io: BenchIo): Promise<void> {
  const progress = progressTo(io);
  const calibrated = readCalibration();
  const known = { reason: kernelPrecheck(opts) };
  const workloads = benchWorkloads(opts.pages, opts.scans);
  // Every model run first, then every kernel run: the kernel backend's child processes,
  // I/O and garbage would otherwise land in the model's measured scans (measured: a
  // fork-heavy first scan 5x slower right after duplicate-heavy's kernel run).
  const warn = (m: string): boolean => io.stderr.write(`samepage bench: warning: ${m}\n`);
  const models = onOneCpu(
    () =>
      workloads.map((w) => {
        // The same workload, on machines of their own, right before: warming up on another
        // kind of workload leaves V8 with code tuned to that one (measured: a first all-unique
        // scan 2 at 1.7 us/visit after a duplicate-heavy warm-up, 0.6 us after its own).
        warmUpModel(w, progress);
        progress(`${w.name}: model`);
        const model = runModelMeasured(w, progress);
        const counted = calibrated === undefined ? undefined : runModelCounted(w, progress);
        return { model, counted };
      }),
    warn,
  );
  const results: BenchResult[] = [];
  for (const [i, w] of workloads.entries()) {
    const { model, counted } = models[i]!;
    const k = await tryKernel(w, opts, io, known);
    results.push(
      benchResult(
        w,
        model,
        k,
        counted === undefined || calibrated === undefined ? undefined : { counted, cost: calibrated.cost },
      ),
    );
  }
  if (opts.json === true) {
    io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  io.stdout.write(renderBench(results, calibrated !== undefined));
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function benchResult(
  w: Workload,
  model: ModelRun,
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
    ...(cal === undefined
      ? {}
      : {
          model_calibrated_ns_per_visit: Math.round(
            sum(cal.counted.map((c) => costOf(c.counts, cal.cost) + c.batches * WAKEUP_NS)) / mScanned,
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
  const diffs = compareCounters(model.counters, k.run.counters);
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

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(n: number | null | undefined): string {
  return n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US');
}

function renderBench(results: readonly BenchResult[], calibrated: boolean): string {
  const head = [
    'workload',
    'pages × scans',
    'model pages/CPU-s',
    'kernel pages/CPU-s',
    'ratio model/kernel',
    'first scan',
    'later scans',
    'kernel ns/visit',
    'model virtual ns/visit',
  ];
  if (calibrated) head.push('calibrated ns/visit');
  head.push('counters equal');
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of results) {
    const row = [
      r.workload,
      `${fmt(r.pages)} × ${r.scans}`,
      fmt(r.model_pages_per_cpu_s),
      fmt(r.kernel_pages_per_cpu_s),
      r.ratio === null ? 'n/a' : r.ratio.toFixed(2),
      r.first_scan_ratio === null ? 'n/a' : r.first_scan_ratio.toFixed(2),
      r.later_scans_ratio === null ? 'n/a' : r.later_scans_ratio.toFixed(2),
      fmt(r.kernel_ns_per_visit),
      fmt(r.model_virtual_ns_per_visit),
    ];
    if (calibrated) row.push(fmt(r.model_calibrated_ns_per_visit));
    row.push(r.counters_equal === null ? 'n/a' : r.counters_equal ? 'yes' : 'NO');
    t.push(row);
  }
  let out = `${t.toString()}\n`;
  const why = results.find((r) => r.ratio_unavailable !== undefined)?.ratio_unavailable;
  if (why !== undefined) out += `\nThe ratio is unavailable: ${why}.\n`;
  for (const r of results) {
    if (r.counter_differences !== undefined) {
      const list = Object.entries(r.counter_differences).map(
        ([k, v]) => `${k} model ${fmt(v.model)} kernel ${fmt(v.kernel)}`,
      );
      out += `${r.workload}: counters differ: ${list.join(', ')}\n`;
    }
  }
  out +=
    '\nModel: CPU time of the thread running it (schedstat; process_ratio in --json counts all its threads) over the\n' +
    `measured full scans only (setup excluded), each scan the median of ${MEASURED_RUNS} runs after ${WARMUP_RUNS} unmeasured ones of the\n` +
    "same workload (JIT warm-up), the process held on one CPU. Kernel: ksmd's CPU time over the same scans\n" +
    '(/proc/<ksmd>/schedstat in ns; utime+stime in clock ticks where it is missing). ratio > 1: the model is faster than ksmd.\n';
  return out;
}

// ---- calibration ----

export interface CalibrationFile {
  readonly version: 1;
  readonly cost: CostModel;
  readonly machine: {
    readonly kernel_release: string;
    readonly cpu_model: string;
    readonly cpus: number;
    readonly clk_tck: number;
    readonly hostname: string;
  };
  readonly date: string;
  readonly pages: number;
  readonly method: string;
  readonly kernel_ns_per_visit: Record<string, number>;
  readonly scans: readonly CalibrationScan[];
}

interface CalibrationScan {
  readonly workload: string;
  readonly scan: number;
  readonly pages_scanned: number;
  readonly kernel_cpu_s: number;
  readonly events: EventCounts;
  readonly batches: number;
  readonly fitted_cpu_s: number;
  readonly default_cpu_s: number;
}

const METHOD =
  'Per measured full scan: ksmd CPU time delta (kernel; schedstat ns, else utime+stime) against the events the model counts in the same ' +
  'scan of the same workload (counting cost model). Weighted non-negative least squares on relative errors ' +
  '(scans under 0.1 s weighted as 0.1 s), with a weak pull (lambda 0.02) toward the previous constants for ' +
  'directions the workloads cannot separate. See docs/cost-model.md.';

async function calibrate(opts: BenchOptions, io: BenchIo): Promise<void> {
  const progress = progressTo(io);
  if (opts.modelOnly === true)
    throw new BackendUnavailable('--calibrate measures the live ksmd; it cannot run with --model-only');
  const rows: FitRow[] = [];
  const scans: Omit<CalibrationScan, 'fitted_cpu_s' | 'default_cpu_s'>[] = [];
  const nsPerVisit: Record<string, number> = {};
  let clkTck = 100;
  for (const w of calibrationWorkloads(opts.pages)) {
    progress(`${w.name}: counting the model's events`);
    const counted = runModelCounted(w, progress);
    const run = await runKernel(w, {
      lockWaitMs: opts.lockWait * 1000,
      progress,
      warn: (m) => io.stderr.write(`samepage bench: warning: ${m}\n`),
    });
    clkTck = run.clkTck;
    if (counted.length !== run.scans.length)
      throw new Error(`Workload ${w.name}: ${counted.length} model scans vs ${run.scans.length} kernel scans`);
    run.scans.forEach((k, i) => {
      const c = counted[i]!;
      if (c.counts.visitNs !== k.pagesScanned) {
        io.stderr.write(
          `samepage bench: warning: ${w.name} scan ${i + 1}: the kernel visited ${k.pagesScanned} pages, the model ${c.counts.visitNs}\n`,
        );
      }
      rows.push({ a: COST_KEYS.map((key) => c.counts[key]), b: k.cpuS * 1e9, fixed: c.batches * WAKEUP_NS });
      scans.push({
        workload: w.name,
        scan: i + 1,
        pages_scanned: k.pagesScanned,
        kernel_cpu_s: k.cpuS,
        events: c.counts,
        batches: c.batches,
      });
    });
    const visited = sum(run.scans.map((s) => s.pagesScanned));
    nsPerVisit[w.name] = Math.round((sum(run.scans.map((s) => s.cpuS)) * 1e9) / Math.max(1, visited));
  }
  // The constants in use until now: the fit's prior, and the "current" column.
  const previous = calibratedCost();
  const prior = COST_KEYS.map((k) => previous[k]);
  const fit = fitCosts(rows, { prior, lambda: 0.02, floorNs: 1e8 });
  const cost = Object.fromEntries(COST_KEYS.map((k, j) => [k, Math.round(fit.x[j]!)])) as unknown as CostModel;
  const file: CalibrationFile = {
    version: 1,
    cost,
    machine: machineInfo(clkTck),
    date: new Date().toISOString(),
    pages: opts.pages,
    method: METHOD,
    kernel_ns_per_visit: nsPerVisit,
    scans: scans.map((s) => ({
      ...s,
      fitted_cpu_s: round((costOf(s.events, cost) + s.batches * WAKEUP_NS) / 1e9, 4),
      default_cpu_s: round((costOf(s.events, previous) + s.batches * WAKEUP_NS) / 1e9, 4),
    })),
  };
  if (opts.dryRun !== true) {
    const path = calibrationPath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
    progress(`wrote ${path}`);
  }
  if (opts.json === true) {
    io.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
    return;
  }
  io.stdout.write(renderCalibration(file, previous));
}

function renderCalibration(f: CalibrationFile, previous: CostModel): string {
  const t = new Table({ head: ['constant', 'until now', 'calibrated'], style: { head: [], border: [] } });
  for (const k of COST_KEYS) t.push([k, fmt(previous[k]), fmt(f.cost[k])]);
  const s = new Table({
    head: [
      'workload',
      'scan',
      'pages',
      'kernel CPU s',
      'fitted s',
      'current s',
      'visits',
      'skips',
      'checksums',
      'memcmp≠',
      'memcmp=',
      'merges',
      'frees',
    ],
    style: { head: [], border: [] },
  });
  for (const x of f.scans) {
    s.push([
      x.workload,
      x.scan,
      fmt(x.pages_scanned),
      x.kernel_cpu_s.toFixed(2),
      x.fitted_cpu_s.toFixed(2),
      x.default_cpu_s.toFixed(2),
      ...COST_KEYS.map((k) => fmt(x.events[k])),
    ]);
  }
  const visits = Object.entries(f.kernel_ns_per_visit).map(
    ([w, ns]) => `  ${w}: ${fmt(ns)} ns of ksmd CPU per page visited`,
  );
  return (
    `Kernel ${f.machine.kernel_release}, ${f.machine.cpu_model}, ${f.pages} pages per workload\n\n` +
    `${visits.join('\n')}\n\n${t.toString()}\n\n${s.toString()}\n\n${f.method}\n`
  );
}

function machineInfo(clkTck: number): CalibrationFile['machine'] {
  const read = (p: string): string => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return '';
    }
  };
  const model = /^model name\s*:\s*(.*)$/m.exec(read('/proc/cpuinfo'))?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  return {
    kernel_release: read('/proc/sys/kernel/osrelease').trim() || 'unknown',
    cpu_model: model,
    cpus: cpus().length,
    clk_tck: clkTck,
    hostname: hostname(),
  };
}

/** The whole calibration file (cost, machine, scans), if present; a damaged one is an error. */
export function readCalibration(path = calibrationPath()): CalibrationFile | undefined {
  if (!existsSync(path)) return undefined;
  readCostModel(path); // throws, naming what is wrong, unless the constants are valid
  return JSON.parse(readFileSync(path, 'utf8')) as CalibrationFile;
}

function parsePages(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 64 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(`Expected a page count of at least 64, got "${value}".`);
  }
  return Number(value);
}

function parseScans(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000)
    throw new InvalidArgumentError(`Expected 1 to 1000 full scans, got "${value}".`);
  return Number(value);
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`Expected whole seconds, got "${value}".`);
  return Number(value);
}
