import { plural } from '../../lib/plural.ts';
import { runScenario } from '../../scenario/run.ts';
import type { CounterRecord, RunResult } from '../../scenario/records.ts';
import type { Scenario, Step } from '../../scenario/types.ts';
import { runFullScans, runKsmPlusFullScans, sysfsWrite } from '../../system.ts';
import { ksmProfit, rmapItemBytes } from '../../ksm/profit.ts';
import type { StatisticsResult } from '../../stats/duplicate_statistics.ts';
import { createModelBackend, type ModelBackend } from './index.ts';
import { liveTaskStatistics } from './statistics.ts';
import { PLUS_DIR } from '../../lib/plus_files.ts';
import { rangePages } from '../../policy/ranges.ts';

/**
 * ksm: KSM on everything (MERGE_ANY or a madvise of the whole workload); ksm+: the thesis's
 * KSM+ in the kernel (/sys/kernel/mm/ksm+, the model only); plus: the KSM+ daemon for stock
 * kernels (`samepage plus`, src/policy/), which marks what its sampling finds for ksmd.
 */
export type Policy = 'ksm' | 'ksm+' | 'plus';

export const POLICIES: readonly Policy[] = ['ksm', 'ksm+', 'plus'];

/** A comma-separated list of policies, each once (`ksm,ksm+`), or what is wrong with it. */
export function parsePolicies(text: string): Policy[] | string {
  const list = text.split(',').map((p) => p.trim());
  const unknown = list.find((p) => !(POLICIES as readonly string[]).includes(p));
  if (unknown !== undefined) return `Unknown policy "${unknown}": use ${POLICIES.join(', ')}, comma-separated`;
  const twice = list.find((p, i) => list.indexOf(p) !== i);
  return twice === undefined ? (list as Policy[]) : `Policy "${twice}" is given twice: each runs once`;
}

/** What one policy achieved on a workload, once its counters stopped changing. */
export interface PolicyResult {
  readonly policy: Policy;
  /** Rmap_items of the scanner at the end. */
  readonly rmap_items: number;
  readonly rmap_item_bytes: number;
  /** KSM+ only: vma_nodes at the end. */
  readonly vma_nodes: number;
  /** Σ ksm_merging_pages of the processes: virtual pages now backed by a KSM page. */
  readonly merged_pages: number;
  readonly pages_shared: number;
  /** Pages freed by merging (pages_sharing). */
  readonly pages_sharing: number;
  /** general_profit of the scanner, bytes. */
  readonly profit: number;
  /** Virtual seconds from the policy's start until both figures below had settled. */
  readonly settle_s: number;
  /** Virtual seconds until merged pages and pages_sharing last changed. */
  readonly merged_settle_s: number;
  /**
   * Virtual seconds until rmap_items settled: KSM, its last change; KSM+, its last change
   * before the end of the first round sampled wholly at min_coefficient (afterwards only the
   * random overlap of samples with merged pages moves it, by a few items).
   */
  readonly rmap_settle_s: number;
  /** The most rmap_items the scanner held at once after the policy started, and their bytes. */
  readonly peak_rmap_items: number;
  readonly peak_rmap_item_bytes: number;
  /** Full scans (KSM) or rounds (KSM+) run. */
  readonly full_scans: number;
  /** Virtual seconds the policy ran in all, settling and the quiet scans after it. */
  readonly run_s: number;
  /** CPU seconds the scanner's kernel thread used in that time (cost model). */
  readonly cpu_s: number;
  /**
   * Whether the counters held still for the quiet scans asked for. When not, `unsettled`
   * says why: the scan limit was reached first, or the scanner could not scan.
   */
  readonly settled: boolean;
  readonly unsettled?: string;
  /** The workload's run; its `samples`, when asked for, go on through the settling. */
  readonly run: RunResult;
  /** A record per full scan after the workload, for charts. */
  readonly timeline: readonly CounterRecord[];
  /** With `statistics: true`: the duplicate-page statistics of the processes at the end. */
  readonly statistics?: StatisticsResult;
  /** plus: what the daemon did and cost (ksmd's figures are the fields above). */
  readonly daemon?: DaemonFigures;
}

/** The KSM+ daemon's own side of a plus run. */
export interface DaemonFigures {
  readonly marked_ranges: number;
  readonly marked_pages: number;
  /** Pages it read and hashed, and the rounds it completed. */
  readonly pages_scanned: number;
  readonly rounds: number;
  /** Its CPU time by the live daemon's measured costs, and its own data in bytes. */
  readonly cpu_s: number;
  readonly policy_bytes: number;
}

export interface SettleOptions {
  readonly quiet?: number;
  readonly maxScans?: number;
  /** Told after each full scan; a promise it returns is awaited. */
  readonly onScan?: (n: number) => Promise<void> | void;
  /** Count the processes' duplicate pages at the end (the parser module; one MD5 per page). */
  readonly statistics?: boolean;
}

export interface PolicyRunOptions extends SettleOptions {
  readonly seed: number;
  /** Sample the counters for charts as the run goes (the run's `samples`). */
  readonly samples?: boolean;
}

/**
 * The workload's steps with the policy switched on before the first wait (or at the end):
 * KSM by run=1, KSM+ by naming every program the workload starts, then run=1.
 */
function withPolicy(scenario: Scenario, policy: Policy): { scenario: Scenario; at: number; added: number } {
  const comms = [...new Set(scenario.steps.flatMap((s) => (s.kind === 'spawn' || s.kind === 'exec' ? [s.comm] : [])))];
  const write = (path: string, value: string): Step => ({ kind: 'sysfs', path, value, errno: undefined });
  const on: Step[] =
    policy === 'ksm'
      ? [write('ksm/run', '1')]
      : policy === 'ksm+'
        ? [...comms.map((c) => write('ksm+/processes_to_scan', `+ ${c}`)), write('ksm+/run', '1')]
        : [
            ...comms.map((c) => write(`${PLUS_DIR}/processes_to_scan`, `+ ${c}`)),
            write(`${PLUS_DIR}/run`, '1'),
            write('ksm/run', '1'),
          ];
  const at = scenario.steps.findIndex((s) => s.kind === 'wait');
  const steps =
    at < 0 ? [...scenario.steps, ...on] : [...scenario.steps.slice(0, at), ...on, ...scenario.steps.slice(at)];
  const stepLines =
    at < 0
      ? [...scenario.stepLines, ...on.map(() => undefined)]
      : [...scenario.stepLines.slice(0, at), ...on.map(() => undefined), ...scenario.stepLines.slice(at)];
  return { scenario: { ...scenario, steps, stepLines }, at: at < 0 ? scenario.steps.length : at, added: on.length };
}

/**
 * The run with the file's own step numbers: withPolicy's steps, inserted at `at`, moved the
 * later ones by `added` (and the policy's own steps are said to be the policy's).
 */
function fileNumbering(run: RunResult, at: number, added: number): RunResult {
  const step = (i: number): number => (i >= at + added ? i - added : i);
  const text = (s: string): string =>
    s.replace(/^steps\[(\d+)\]/, (_whole, n: string) => {
      const i = Number(n);
      return i >= at && i < at + added ? "the policy's switch-on" : `steps[${step(i)}]`;
    });
  return {
    ...run,
    expects: run.expects.map((e) => ({ ...e, step: step(e.step), path: text(e.path) })),
    ...(run.calls === undefined ? {} : { calls: run.calls.map((c) => ({ ...c, step: step(c.step) })) }),
    ...(run.error === undefined ? {} : { error: text(run.error) }),
  };
}

/**
 * Runs a workload under each of `policies` in turn (runPolicy; `onStart` is told each one).
 * With `statistics`, only the first run counts duplicate pages: the processes' contents are
 * the same under every policy.
 */
export async function runPolicies(
  scenario: Scenario,
  policies: readonly Policy[],
  opts: PolicyRunOptions,
  onStart: (policy: Policy) => void,
): Promise<PolicyResult[]> {
  const results: PolicyResult[] = [];
  for (const policy of policies) {
    onStart(policy);
    results.push(
      await runPolicy(scenario, policy, { ...opts, statistics: opts.statistics === true && results.length === 0 }),
    );
  }
  return results;
}

/**
 * Runs a workload under one policy on the model, then keeps the scanner going until its
 * counters (merged pages, rmap_items, sharing) have not changed for `quiet` full scans in a
 * row, or `maxScans` have run.
 */
export async function runPolicy(scenario: Scenario, policy: Policy, opts: PolicyRunOptions): Promise<PolicyResult> {
  const backend = createModelBackend({ seed: opts.seed, samples: opts.samples === true });
  const { scenario: withOn, at, added } = withPolicy(scenario, policy);
  const run = fileNumbering(await runScenario(withOn, backend), at, added);
  return settle(backend, policy, run, opts);
}

/**
 * Keeps the policy's scanner running on `backend`'s machine until the counters settle (see
 * runPolicy) and reports what it achieved. `run` is what ran before (kept in the result).
 */
export async function settle(
  backend: ModelBackend,
  policy: Policy,
  run: RunResult,
  opts: SettleOptions,
): Promise<PolicyResult> {
  if (policy === 'plus') return settlePlus(backend, run, opts);
  const sys = backend.system();
  const plus = sys.ksmplus;
  const scanner = policy === 'ksm' ? sys.ksm : plus.engine;
  if (policy === 'ksm' && sys.ksm.run !== 1) sysfsWrite(sys, 'ksm/run', '1');
  const t0 = sys.clock.now();
  const cpu0 = scanner.cpuNs;
  const quiet = opts.quiet ?? 3;
  const maxScans = opts.maxScans ?? 400;
  const merged = () => sys.mmgr.liveTasks().reduce((n, t) => n + t.mm.ksmMergingPages, 0);
  const mergedState = () => `${merged()}:${scanner.pagesSharing}`;
  const atFloor = () => plus.slots.every((sl) => sl.vmaNodes.every((n) => n.coefficient <= plus.minCoefficient));
  // Each counter's last change, timed to the event (a ksmd batch) that made it.
  const last = { merged: mergedState(), rmap: scanner.rmapItems };
  const at = { merged: t0, rmap: t0 };
  let peak = scanner.rmapItems;
  /** KSM+: rounds ended with every vma_node at the floor; from the second on, rmap_items is settled. */
  let floorRounds = 0;
  const onEvent = (): void => {
    backend.sampleEvent();
    const now = sys.clock.now();
    const m = mergedState();
    if (m !== last.merged) {
      last.merged = m;
      at.merged = now;
    }
    peak = Math.max(peak, scanner.rmapItems);
    if (scanner.rmapItems !== last.rmap) {
      last.rmap = scanner.rmapItems;
      if (policy === 'ksm' || floorRounds < 2) at.rmap = now;
    }
  };
  // Settled: KSM, every counter still; KSM+, merges still once sampling sits at its floor
  // (its rmap_items move with every round's random samples).
  const snapshot = () => (policy === 'ksm' ? `${last.merged}|${last.rmap}|${scanner.pagesUnshared}` : last.merged);
  const timeline: CounterRecord[] = [];
  let still = 0;
  let scans = 0;
  let stuck: string | undefined;
  while (still < quiet && scans < maxScans) {
    const before = snapshot();
    stuck = policy === 'ksm' ? runFullScans(sys, 1, undefined, onEvent) : runKsmPlusFullScans(sys, 1, onEvent);
    if (stuck !== undefined) break;
    scans++;
    await opts.onScan?.(scans);
    timeline.push(await backend.record(`scan ${scans}`));
    if (policy === 'ksm+') floorRounds = atFloor() ? floorRounds + 1 : 0;
    still = snapshot() === before && (policy === 'ksm' || floorRounds >= 2) ? still + 1 : 0;
  }
  const settled = still >= quiet;
  const unsettled = settled
    ? undefined
    : (stuck ??
      `the counters still changed after ${plural(maxScans, policy === 'ksm' ? 'full scan' : 'round')} (the limit; ${quiet} still in a row settle them)`);
  const mergedSettle = (at.merged - t0) / 1e9;
  const rmapSettle = (at.rmap - t0) / 1e9;
  const samples = await backend.samples();
  return {
    policy,
    rmap_items: scanner.rmapItems,
    rmap_item_bytes: rmapItemBytes(scanner.rmapItems),
    vma_nodes: policy === 'ksm+' ? sys.ksmplus.vmaNodes : 0,
    merged_pages: merged(),
    pages_shared: scanner.pagesShared,
    pages_sharing: scanner.pagesSharing,
    profit: policy === 'ksm' ? sys.ksm.generalProfit() : ksmProfit(scanner.pagesSharing, scanner.rmapItems),
    settle_s: Math.max(mergedSettle, rmapSettle),
    merged_settle_s: mergedSettle,
    rmap_settle_s: rmapSettle,
    peak_rmap_items: peak,
    peak_rmap_item_bytes: rmapItemBytes(peak),
    full_scans: scanner.ksmScan.seqnr,
    run_s: (sys.clock.now() - t0) / 1e9,
    cpu_s: (scanner.cpuNs - cpu0) / 1e9,
    settled,
    ...(unsettled === undefined ? {} : { unsettled }),
    // The samples go on through the settling, so a chart shows the policy's whole run.
    run: samples === undefined ? run : { ...run, samples },
    timeline,
    ...(opts.statistics === true ? { statistics: liveTaskStatistics(backend).result({}) } : {}),
  };
}

/**
 * The daemon's settling: it runs with ksmd on the model's clock, a daemon round at a time,
 * until every region it samples sits at min_coefficient (or was dropped) and merged pages,
 * pages_sharing, rmap_items and the marked pages have not changed for `quiet` rounds.
 */
async function settlePlus(backend: ModelBackend, run: RunResult, opts: SettleOptions): Promise<PolicyResult> {
  const sys = backend.system();
  const daemon = backend.plusDaemon();
  const engine = daemon.engine;
  if (sys.ksm.run !== 1) sysfsWrite(sys, 'ksm/run', '1');
  if (engine.knobs.run !== 1) daemon.write('run', '1');
  const t0 = sys.clock.now();
  const ksmCpu0 = sys.ksm.cpuNs;
  const daemonCpu0 = daemon.cpuNs;
  const quiet = opts.quiet ?? 3;
  const maxScans = opts.maxScans ?? 400;
  const merged = () => sys.mmgr.liveTasks().reduce((n, t) => n + t.mm.ksmMergingPages, 0);
  const markedPages = () => engine.processes().reduce((n, p) => n + rangePages(p.markedRanges()), 0);
  const mergedState = () => `${merged()}:${sys.ksm.pagesSharing}`;
  const atFloor = () =>
    engine.processes().every((p) => p.regions.every((r) => r.dropped || r.coefficient <= engine.knobs.min_coefficient));
  const last = { merged: mergedState(), rmap: sys.ksm.rmapItems };
  const at = { merged: t0, rmap: t0 };
  let peak = sys.ksm.rmapItems;
  const onEvent = (): void => {
    const now = sys.clock.now();
    const m = mergedState();
    if (m !== last.merged) {
      last.merged = m;
      at.merged = now;
    }
    peak = Math.max(peak, sys.ksm.rmapItems);
    if (sys.ksm.rmapItems !== last.rmap) {
      last.rmap = sys.ksm.rmapItems;
      at.rmap = now;
    }
  };
  const snapshot = () => `${last.merged}|${last.rmap}|${markedPages()}`;
  const timeline: CounterRecord[] = [];
  let still = 0;
  let rounds = 0;
  let stuck: string | undefined;
  while (still < quiet && rounds < maxScans) {
    const before = snapshot();
    const target = engine.counters.full_scans + 1;
    while (engine.counters.full_scans < target && sys.events.runNext(Number.POSITIVE_INFINITY)) onEvent();
    if (engine.counters.full_scans < target) {
      stuck = 'the daemon stopped running rounds';
      break;
    }
    rounds++;
    await opts.onScan?.(rounds);
    timeline.push(await backend.record(`round ${rounds}`));
    still = snapshot() === before && atFloor() ? still + 1 : 0;
  }
  const settled = still >= quiet;
  const unsettled = settled
    ? undefined
    : (stuck ??
      `the counters still changed after ${plural(maxScans, 'round')} of the daemon (the limit; ${quiet} still in a row settle them)`);
  const mergedSettle = (at.merged - t0) / 1e9;
  const rmapSettle = (at.rmap - t0) / 1e9;
  const mem = engine.memory();
  return {
    policy: 'plus',
    rmap_items: sys.ksm.rmapItems,
    rmap_item_bytes: rmapItemBytes(sys.ksm.rmapItems),
    vma_nodes: engine.processes().reduce((n, p) => n + p.regions.filter((r) => !r.dropped).length, 0),
    merged_pages: merged(),
    pages_shared: sys.ksm.pagesShared,
    pages_sharing: sys.ksm.pagesSharing,
    profit: sys.ksm.generalProfit(),
    settle_s: Math.max(mergedSettle, rmapSettle),
    merged_settle_s: mergedSettle,
    rmap_settle_s: rmapSettle,
    peak_rmap_items: peak,
    peak_rmap_item_bytes: rmapItemBytes(peak),
    full_scans: engine.counters.full_scans,
    run_s: (sys.clock.now() - t0) / 1e9,
    cpu_s: (sys.ksm.cpuNs - ksmCpu0) / 1e9,
    settled,
    ...(unsettled === undefined ? {} : { unsettled }),
    run,
    timeline,
    ...(opts.statistics === true ? { statistics: liveTaskStatistics(backend).result({}) } : {}),
    daemon: {
      marked_ranges: engine.processes().reduce((n, p) => n + p.marked.length, 0),
      marked_pages: markedPages(),
      pages_scanned: engine.counters.pages_scanned,
      rounds: engine.counters.full_scans,
      cpu_s: (daemon.cpuNs - daemonCpu0) / 1e9,
      policy_bytes: mem.indexBytes + mem.batchBytes + mem.otherBytes,
    },
  };
}
