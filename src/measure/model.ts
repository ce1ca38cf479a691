/**
 * Runs a bench workload on the model. Two uses:
 * - timed: the CPU time of the thread running the model (exact ns from schedstat where there
 *   is one), and of the whole process, over each measured full scan only;
 * - counted: the same run with a cost model whose every constant is a counter, so each
 *   read of a constant (one per charged event: a visit, a checksum, a memcmp...) is counted.
 *   The model charges exactly one read per event (src/ksm/*.ts), so these are the number of
 *   events of each kind the model's ksmd did, which calibration treats as the kernel's.
 */
import { describeErrno } from '../lib/errno.ts';
import { cpuUsage } from 'node:process';
import { cpuStopwatch } from '../host/cpu_time.ts';
import { cpusAllowed, firstCpu, setOwnCpus } from '../host/ksmd_affinity.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { median } from '../lib/statistics.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import type { Task } from '../mm/memory_manager.ts';
import { doMmap } from '../mm/mmap.ts';
import { exitTask, forkTask, spawnTask } from '../mm/process.ts';
import { fillUser } from '../mm/uaccess.ts';
import {
  AT_FIRST_SEARCH,
  type CostModel,
  COST_KEYS,
  DEFAULT_COST,
  FLAT_RELOAD,
  type FirstVisitCost,
  NO_FIRST_VISIT,
  NO_RELOAD,
  type PostSleepCost,
  postSleepNoTreeNs,
  postSleepNs,
  type ReloadTreeCost,
  reloadTreeShare,
  type SearchPartCost,
  WAKEUP_NS,
} from '../ksm/cost.ts';
import type { ReloadLogEntry } from '../ksm/ksm.ts';
import { createSystem, runFullScans, sysfsRead, sysfsWrite, type System } from '../system.ts';
import type { Workload } from './workloads.ts';

export { COST_KEYS };
export type CostKey = (typeof COST_KEYS)[number];
export type EventCounts = Record<CostKey, number>;

/** One measured full scan on the model. */
export interface ModelScan {
  readonly pagesScanned: number;
  readonly pagesSkipped: number;
  /** pages_to_scan after the scan (the scan-time advisor sets it at each scan's end). */
  readonly pagesToScan: number;
  /**
   * CPU seconds of the thread that ran the model during the scan: the figure the bench
   * compares with ksmd's thread. V8's own threads are left out: measured, the rare scans of
   * fork-heavy that took 5-20x the usual had spent it on those threads (0.4-9 ms: freeing
   * the memory of machines built before, compiling), the model's thread steady at 24-31 ns
   * a visit.
   */
  readonly cpuS: number;
  /** The same for all of this process's threads. */
  readonly processCpuS: number;
  /** Virtual ksmd CPU the model charged, ns. */
  readonly virtualNs: number;
  /** ksmd batches (each charged a fixed wake-up cost besides the cost model). */
  readonly batches: number;
}

export interface ModelRun {
  readonly scans: readonly ModelScan[];
  /** The KSM sysfs counters at the end, by file name. */
  readonly counters: Readonly<Record<string, number>>;
}

export interface CountedScan {
  readonly counts: EventCounts;
  readonly batches: number;
  /**
   * The batches that searched the trees, and so pay the reload after their sleep
   * (Ksm.payReload): the trees' size each met, the argument of its reloadTreeShare, and its
   * searches, that of its searchReloadShare.
   */
  readonly reloads: readonly ReloadLogEntry[];
  /** Batches that took checksums and searched no tree: they pay the no-tree reload (Ksm.payNoTreeReload). */
  readonly noTreeReloads: number;
  /** rmap_items allocated: first visits (CostModel.firstVisitNs). */
  readonly firstVisits: number;
}

function zeroCounts(): EventCounts {
  const counts: Record<string, number> = {};
  for (const key of COST_KEYS) counts[key] = 0;
  return counts as EventCounts;
}

/**
 * A cost model of zeros that counts how often each constant is read; unstable-tree steps
 * deeper than `deepFrom` are counted as deep steps (deepStepNs).
 */
function countingCost(counts: EventCounts, deepFrom: number, firstVisits: { n: number }): CostModel {
  // No reload after sleeps: it is not an event, and the calibration fits it apart. First
  // visits are counted, but fitted apart too (src/measure/first_visit.ts).
  const cost = { deepFrom, ...NO_RELOAD, ...FLAT_RELOAD, ...AT_FIRST_SEARCH, ...NO_FIRST_VISIT };
  Object.defineProperty(cost, 'firstVisitNs', {
    enumerable: true,
    get: () => {
      firstVisits.n++;
      return 0;
    },
  });
  for (const key of COST_KEYS) {
    Object.defineProperty(cost, key, {
      enumerable: true,
      get: () => {
        counts[key]++;
        return 0;
      },
    });
  }
  return cost as CostModel;
}

/** Carries out a workload; each measured full scan runs inside `measure`. */
function drive(sys: System, w: Workload, measure: (scan: () => void) => void, progress: (msg: string) => void): void {
  const tasks = new Map<string, Task>();
  const task = (name: string): Task => {
    const t = tasks.get(name);
    if (t === undefined) throw new Error(`Workload ${w.name}: no process ${name}`);
    return t;
  };
  const scan = (): void => {
    const why = runFullScans(sys, 1);
    if (why !== undefined) throw new Error(`Workload ${w.name} on the model: ${why}`);
  };
  for (const op of w.ops) {
    switch (op.op) {
      case 'spawn':
        tasks.set(op.proc, spawnTask(sys.mmgr, op.proc));
        break;
      case 'region': {
        const mm = task(op.proc).mm;
        const len = op.pages * PAGE_SIZE;
        const addr = doMmap(sys.mmgr, mm, len);
        if (addr < 0) throw new Error(`Workload ${w.name}: mmap of ${len} bytes failed (${describeErrno(addr)})`);
        if (fillUser(sys.mmgr, mm, addr, len, op.pattern, addr) !== 0)
          throw new Error(`Workload ${w.name}: fill faulted`);
        if (op.mergeable && doMadvise(sys.mmgr, mm, addr, len, MADV_MERGEABLE) !== 0)
          throw new Error(`Workload ${w.name}: madvise failed`);
        break;
      }
      case 'fork':
        tasks.set(op.child, forkTask(sys.mmgr, task(op.proc)));
        break;
      case 'exit':
        exitTask(sys.mmgr, task(op.proc));
        tasks.delete(op.proc);
        break;
      case 'sysfs': {
        const r = sysfsWrite(sys, `ksm/${op.file}`, op.value);
        if (r !== 0)
          throw new Error(`Workload ${w.name}: writing ${op.value} to ksm/${op.file} failed (${describeErrno(r)})`);
        break;
      }
      case 'scan':
        for (let i = 0; i < op.n; i++) {
          progress(`model ${w.name}: full scan ${i + 1}/${op.n}${op.measured ? '' : ' (setup)'}`);
          if (op.measured) measure(scan);
          else scan();
        }
        break;
    }
  }
}

/** The integer KSM counters of /sys/kernel/mm/ksm on the model. */
function counters(sys: System): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of sys.sysfs.get('ksm')?.keys() ?? []) {
    const v = Number(sysfsRead(sys, `ksm/${name}`)?.trim());
    if (Number.isFinite(v)) out[name] = v;
  }
  return out;
}

/** How often each workload runs unmeasured before its first measured run (see warmUpModel). */
export const WARMUP_RUNS = 2;

/**
 * Runs a workload `runs` times (WARMUP_RUNS by default), untimed, on machines of its own:
 * the model is JavaScript, and a first run measures V8 more than the model. Measured (with
 * schedstat) on fork-heavy, whose first measured scan is about a millisecond of work: after
 * one warm-up at 8,192 pages, TurboFan was still compiling ksmDoScan, walkVma, fillUser and
 * copyPageRange on its own threads during that scan (up to 30 ms of compile time each),
 * and the scan took 40-900 ns a visit in fresh processes; after two runs at full size,
 * 27-28. A warm-up on another workload instead leaves V8 tuned to that one. Nothing
 * carries over to the measured run but compiled code.
 */
export function warmUpModel(w: Workload, progress: (msg: string) => void, runs = WARMUP_RUNS): void {
  progress(`model: JIT warm-up (${w.name} run ${runs} times, not measured)`);
  for (let i = 0; i < runs; i++)
    drive(
      createSystem({ ram: w.ramBytes }),
      w,
      (scan) => scan(),
      () => undefined,
    );
}

/**
 * A stopwatch of the model's CPU time in seconds: its thread's (the process's main thread,
 * where the model runs) and the whole process's, in exact nanoseconds from schedstat where
 * there is one (host/cpu_time.ts). Elsewhere both are process.cpuUsage (getrusage), which
 * over a scan of a millisecond or two is mostly rounding.
 */
function modelStopwatch(): () => { threadS: number; processS: number } {
  const exact = cpuStopwatch();
  if (exact !== undefined) {
    return () => {
      const t = exact();
      return { threadS: t.mainNs / 1e9, processS: t.processNs / 1e9 };
    };
  }
  const cpu0 = cpuUsage();
  return () => {
    const cpu = cpuUsage(cpu0);
    const s = (cpu.user + cpu.system) / 1e6;
    return { threadS: s, processS: s };
  };
}

/**
 * Holds this process (every thread) on one CPU while `f` runs, as the kernel backend holds
 * ksmd, then puts its CPU list back. Measured on the 2-CPU VM: all-unique's first scan took
 * 56-63 ns a visit in some processes and 150-165 in others when the process could move;
 * held on either CPU, 56-63 every time. Where taskset is missing or refused, `f` runs
 * anyway and `warn` says so.
 */
export function onOneCpu<T>(f: () => T, warn: (msg: string) => void): T {
  const saved = cpusAllowed(process.pid);
  const cpu = saved === undefined ? undefined : firstCpu(saved);
  const why = saved === undefined || cpu === undefined ? 'cannot read its CPUs' : setOwnCpus(String(cpu));
  if (why !== undefined) warn(`the model runs unpinned (${why}); its figures vary more`);
  try {
    return f();
  } finally {
    if (why === undefined && saved !== undefined) setOwnCpus(saved);
  }
}

/** How many measured runs the model's figures are the median of (see runModelRounds). */
export const MEASURED_RUNS = 5;

/** The pause between two rounds of measured runs (see runModelRounds). */
export const ROUND_PAUSE_MS = 5000;

/** A workload's measured runs on the model, combined, and the probe before each run. */
export interface ModelRuns extends ModelRun {
  /** The probe (probe.ts) right before each measured run, in µs (null where schedstat is missing). */
  readonly probeUsByRun: ReadonlyArray<number | null>;
  /** Each measured run's thread CPU ns per visit over all its measured scans, in run order. */
  readonly nsPerVisitByRun: readonly number[];
}

/**
 * Every workload on the model MEASURED_RUNS times, each scan's CPU time the median of its
 * runs, the runs taken in rounds: a round measures each workload once, right after an
 * unmeasured run of the same workload (WARMUP_RUNS of them in the first round), and the
 * rounds are ROUND_PAUSE_MS apart, so that a workload's runs are spread over some 25 s.
 *
 * Why a median: a V8 collection or compilation on another thread can land inside a scan of
 * a millisecond and multiply it (measured: one fork-heavy first scan in five at 5x the
 * others), where the kernel, a thread with no JIT or collector, is measured once. Why
 * rounds: in one bench run (2026-12-03, run 1 of docs/performance.md) every scan of
 * duplicate-heavy took the model 1.5x its usual CPU time in all three of its runs, which
 * followed each other within a second, and no other workload's; scans that allocate
 * nothing were as slow as the others (not the collector), fresh processes never showed it
 * again, nor did other work on this VM's CPUs (builds on both, a memory-bound loop on the
 * model's CPU or the other), so the machine under the VM ran slower for a while. Spread
 * out, such a spell reaches fewer runs of a workload than the median needs. `pause` sleeps
 * (the host's clock; injected for tests). The model is deterministic, so a workload's runs
 * must visit the same pages and end with the same counters (checked).
 */
export function runModelRounds(
  ws: readonly Workload[],
  progress: (msg: string) => void,
  pause: (ms: number) => void,
  probe: () => number | undefined,
  cost: CostModel = DEFAULT_COST,
): ModelRuns[] {
  const runs: ModelRun[][] = ws.map(() => []);
  const probes: Array<Array<number | null>> = ws.map(() => []);
  for (let round = 0; round < MEASURED_RUNS; round++) {
    if (round > 0) {
      progress(`model: ${ROUND_PAUSE_MS / 1000} s pause before measured round ${round + 1}/${MEASURED_RUNS}`);
      pause(ROUND_PAUSE_MS);
    }
    for (const [i, w] of ws.entries()) {
      warmUpModel(w, progress, round === 0 ? WARMUP_RUNS : 1);
      progress(`${w.name}: model, measured run ${round + 1}/${MEASURED_RUNS}`);
      const p = probe();
      probes[i]!.push(p === undefined ? null : Math.round(p / 1000));
      runs[i]!.push(runModelTimed(w, progress, cost));
    }
  }
  return ws.map((w, i) => ({
    ...medianRun(w, runs[i]!),
    probeUsByRun: probes[i]!,
    nsPerVisitByRun: runs[i]!.map((r) => {
      const visits = r.scans.reduce((n, s) => n + s.pagesScanned, 0);
      return Math.round((r.scans.reduce((t, s) => t + s.cpuS, 0) * 1e9) / Math.max(1, visits));
    }),
  }));
}

/** The runs of one workload as one: each scan's CPU times the median of the runs'. */
function medianRun(w: Workload, runs: readonly ModelRun[]): ModelRun {
  const first = runs[0]!;
  for (const run of runs) {
    const same =
      run.scans.length === first.scans.length &&
      run.scans.every(
        (s, i) => s.pagesScanned === first.scans[i]!.pagesScanned && s.pagesToScan === first.scans[i]!.pagesToScan,
      ) &&
      JSON.stringify(run.counters) === JSON.stringify(first.counters);
    if (!same) throw new Error(`Workload ${w.name}: the model's runs differ; it should be deterministic`);
  }
  return {
    scans: first.scans.map((s, i) => ({
      ...s,
      cpuS: median(runs.map((r) => r.scans[i]!.cpuS)),
      processCpuS: median(runs.map((r) => r.scans[i]!.processCpuS)),
    })),
    counters: first.counters,
  };
}

/** The workload on the model with `cost` (default: the model's own), timing each measured scan. */
export function runModelTimed(w: Workload, progress: (msg: string) => void, cost: CostModel = DEFAULT_COST): ModelRun {
  const sys = createSystem({ ram: w.ramBytes, cost });
  const scans: ModelScan[] = [];
  drive(
    sys,
    w,
    (scan) => {
      const k = sys.ksm;
      const before = { scanned: k.pagesScanned, skipped: k.pagesSkipped, ns: k.cpuNs, batches: sys.ksmd.batches };
      const elapsed = modelStopwatch();
      scan();
      const { threadS: cpuS, processS: processCpuS } = elapsed();
      scans.push({
        pagesScanned: k.pagesScanned - before.scanned,
        pagesSkipped: k.pagesSkipped - before.skipped,
        pagesToScan: k.pagesToScan,
        cpuS,
        processCpuS,
        virtualNs: k.cpuNs - before.ns,
        batches: sys.ksmd.batches - before.batches,
      });
    },
    progress,
  );
  return { scans, counters: counters(sys) };
}

/**
 * The workload on the model with a counting cost model: the events of each measured scan,
 * with the unstable-tree steps deeper than `deepFrom` counted as deep steps.
 */
export function runModelCounted(
  w: Workload,
  progress: (msg: string) => void,
  deepFrom: number = DEFAULT_COST.deepFrom,
): CountedScan[] {
  const counts = zeroCounts();
  const firstVisits = { n: 0 };
  const sys = createSystem({ ram: w.ramBytes, cost: countingCost(counts, deepFrom, firstVisits) });
  const out: CountedScan[] = [];
  drive(
    sys,
    w,
    (scan) => {
      const before = { ...counts };
      const batches = sys.ksmd.batches;
      const reloads: ReloadLogEntry[] = [];
      sys.ksm.reloadTreeLog = reloads;
      const noTree = sys.ksm.noTreeBatches;
      const allocs = firstVisits.n;
      scan();
      sys.ksm.reloadTreeLog = null;
      const delta = zeroCounts();
      for (const key of COST_KEYS) delta[key] = counts[key] - before[key];
      out.push({
        counts: delta,
        batches: sys.ksmd.batches - batches,
        reloads,
        noTreeReloads: sys.ksm.noTreeBatches - noTree,
        firstVisits: firstVisits.n - allocs,
      });
    },
    progress,
  );
  return out;
}

/** Virtual ns of `counts` under `cost`. */
export function costOf(counts: EventCounts, cost: CostModel): number {
  let ns = 0;
  for (const key of COST_KEYS) ns += counts[key] * cost[key];
  return ns;
}

/**
 * What a scan of `w` counted as `c` costs under `cost` besides its fitted events: a wake-up
 * per batch, the reload after its sleep per batch that paid one (cost.ts postSleepNs in the
 * share its trees' size gives, reloadTreeShare: 1 - postSleepSearchPart of it at its first
 * search, more than postSleepNoTreeNs if it paid that first, and the rest per search; and
 * postSleepNoTreeNs for a batch that searched no tree), and the first visits, as
 * Ksm.payReload charges them. Its batches follow sleeps of its sleep_millisecs or longer
 * (the kernel side holds ksmd between scans), with its pages_to_scan as their budget.
 */
export function batchExtrasNs(
  c: CountedScan,
  cost: PostSleepCost & ReloadTreeCost & SearchPartCost & FirstVisitCost,
  w: Workload,
): number {
  const knob = (file: string): number => {
    const op = w.ops.find((o) => o.op === 'sysfs' && o.file === file);
    return op?.op === 'sysfs' ? Number(op.value) : 0;
  };
  const sleptNs = knob('sleep_millisecs') * 1e6;
  const budget = knob('pages_to_scan');
  const tree = postSleepNs(cost, sleptNs, budget);
  const noTree = postSleepNoTreeNs(cost, sleptNs);
  const part = cost.postSleepSearchPart;
  const reloads = c.reloads.reduce((ns, { nodes, searches }) => {
    const owed = tree * reloadTreeShare(cost, nodes);
    return ns + Math.max(owed * (1 - part), noTree) + (budget > 0 ? (owed * part * searches) / budget : 0);
  }, 0);
  return c.batches * WAKEUP_NS + reloads + c.noTreeReloads * noTree + c.firstVisits * cost.firstVisitNs;
}

/** The model's CPU for a scan of `w` whose events were counted as `c`, under `cost`. */
export function countedScanNs(c: CountedScan, cost: CostModel, w: Workload): number {
  return costOf(c.counts, cost) + batchExtrasNs(c, cost, w);
}
