/**
 * The timer half of `samepage bench --calibrate`: what the model's clock needs of the live
 * machine (src/sim/timer.ts), measured through the kernel backend (which saves and restores
 * /sys/kernel/mm/ksm, holds ksmd on one CPU and holds the machine's lock):
 *
 *   - HZ: CONFIG_HZ from /proc/config.gz; where the kernel does not say, from ksmd's cadence
 *     at sleep_millisecs=1, which is two ticks;
 *   - the wake-up latency: ksmd waiting for work, `run` set to 1, until the first page of
 *     its batch shows in pages_scanned (polled from another CPU), mid-scan;
 *   - the tick's wake-up latency: a trace of ksmd (tracefs, host/ksmd_trace.ts) while it
 *     sleeps one jiffy between batches, how long after each tick it ran (where ksmd cannot
 *     be traced, the kick's latency stands in for it, as before it was measured);
 *   - the work flush at a full scan's start (lru_add_drain_all): the same, when every batch
 *     starts a full scan, less the latency.
 *
 * It then checks the cadence: full scans per second of a one-batch region at several
 * sleep_millisecs, on the kernel and on the model with the measured timer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { describeErrno } from '../lib/errno.ts';
import { createKernelBackend, type KernelBackend } from '../backends/kernel/index.ts';
import { createModelBackend } from '../backends/model/index.ts';
import { findKsmdPid, holdPollerOffKsmd } from '../host/ksmd_affinity.ts';
import { KSM_DIR, KsmCounter } from '../host/ksm_sysfs.ts';
import { traceKsmd } from '../host/ksmd_trace.ts';
import { HostUnusable } from '../host/unusable.ts';
import { alignedTicks, type KsmdBatch, tickWakePhasesNs } from '../lib/ksmd_batches.ts';
import { configHz } from '../host/machine.ts';
import { readSchedstat } from '../host/procfs.ts';
import { parseScenario } from '../scenario/parse.ts';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';
import { type TimerParams, tickNs } from '../sim/timer.ts';
import { median } from '../lib/statistics.ts';

/** Pages of the measuring process: a few, so a batch costs microseconds. */
const PAGES = 64;
/** Kicks per measurement (the median is taken). */
const KICKS = 41;
/** The sleeps whose cadence is checked, and how long each is run. */
const CADENCE_SLEEPS = [1, 5, 20, 50] as const;
const CADENCE_MS = 1000;
/** Common CONFIG_HZ values, for a HZ measured from the cadence. */
const HZ_CHOICES = [100, 250, 300, 1000];

export interface TimerMeasurement {
  readonly timer: TimerParams;
  readonly hz_source: 'CONFIG_HZ' | 'cadence';
  /** Kick to the first page in pages_scanned, µs: mid-scan and at a full scan's start. */
  readonly kick_mid_scan_us: readonly number[];
  readonly kick_scan_start_us: readonly number[];
  /**
   * Traced: how long after its tick ksmd ran, µs, for each batch woken by the tick at
   * sleep_millisecs=1; absent where ksmd could not be traced (timerWakeLatencyNs is then the kick's).
   */
  readonly tick_wake_us?: readonly number[];
  /**
   * Batch period at each sleep_millisecs, ms: the live kernel's and the model's, and how
   * long ksmd waited for a CPU meanwhile (a busy machine stretches the kernel's periods).
   */
  readonly cadence: ReadonlyArray<CadenceRow>;
}

export interface CadenceRow {
  readonly sleep_millisecs: number;
  readonly kernel_ms: number;
  readonly model_ms: number;
  readonly ksmd_queued_ms: number;
}

export interface TimerOptions {
  readonly lockWaitMs: number;
  readonly progress: (msg: string) => void;
  readonly warn: (msg: string) => void;
}

/** A KSM file written at once through the kernel backend (journaled); throws on failure. */
export type KsmWrite = (file: string, value: string) => void;

export function ksmWriter(backend: KernelBackend): KsmWrite {
  return (file, value) => {
    const r = backend.writeKsmNow(file, value);
    if (r !== 0) throw new Error(`Writing ${value} to ${KSM_DIR}/${file} failed (${describeErrno(r)})`);
  };
}

/** The one-process scenario both backends run: PAGES random pages, madvised. */
function regionScenario(sleepMs: number, waitMs: number): Scenario {
  const text = [
    'version: 1',
    `name: timer-cadence-${sleepMs}`,
    // smart_scan 0: unique pages would otherwise be skipped after a few passes, and a skip
    // does not show in pages_scanned.
    `ksm: { pages_to_scan: 1000, sleep_millisecs: ${sleepMs}, smart_scan: 0 }`,
    'steps:',
    '  - spawn: { proc: p, comm: sp-timer }',
    `  - mmap: { proc: p, region: r, size: ${PAGES * PAGE_SIZE} }`,
    '  - fill: { proc: p, region: r, pattern: { random: 1 } }',
    '  - madvise: { proc: p, region: r, advice: MADV_MERGEABLE }',
    '  - sysfs: { path: ksm/run, value: "1" }',
    ...(waitMs > 0 ? [`  - wait: { ms: ${waitMs} }`, '  - record: { label: end }'] : []),
  ].join('\n');
  const parsed = parseScenario(text, 'timer.yaml');
  if (!parsed.ok) throw new Error(`internal: the timer scenario does not parse: ${JSON.stringify(parsed.problems)}`);
  return parsed.scenario;
}

/**
 * `run` set to 1 while ksmd waits for work, then the time until pages_scanned moves, in µs;
 * `run` is 0 again before it returns. Polls from this process, which must not share ksmd's CPU.
 */
function kick(write: KsmWrite, scanned: KsmCounter): number {
  const before = scanned.read();
  const t0 = performance.now();
  write('run', '1');
  let t = t0;
  while (scanned.read() === before && t - t0 < 100) t = performance.now();
  write('run', '0');
  return (t - t0) * 1000;
}

/** KICKS kicks, each after ksmd has had time to find run=0 and wait for work. */
async function kicks(write: KsmWrite, scanned: KsmCounter): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < KICKS; i++) {
    await sleep(15);
    out.push(kick(write, scanned));
  }
  return out;
}

/**
 * Starts `backend` on `scenario` with one process (`comm`) of `pages` random pages, madvised
 * mergeable: nothing in it merges, so ksmd's work is the same in every pass.
 */
export async function startRandomRegion(
  backend: KernelBackend,
  scenario: Scenario,
  pages: number,
  comm: string,
): Promise<void> {
  await backend.start(scenario);
  await backend.spawn('p', comm);
  await backend.mmap('p', 'r', pages * PAGE_SIZE, false, undefined);
  await backend.fill('p', 'r', { kind: 'random', seed: 1n }, 0, undefined);
  if ((await backend.madvise('p', 'r', 'MADV_MERGEABLE', 0, undefined)) !== 0)
    throw new Error('madvise(MADV_MERGEABLE) failed on the kernel');
}

/** Measures the timer on the live kernel; throws BackendUnavailable where KSM cannot be used. */
export async function measureTimer(opts: TimerOptions): Promise<TimerMeasurement> {
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn });
  const write = ksmWriter(backend);
  const cadence: CadenceRow[] = [];
  let mid: number[] = [];
  let start: number[] = [];
  const kernelPeriods = new Map<number, number>();
  const queued = new Map<number, number>();
  let traced: readonly KsmdBatch[] | undefined;
  try {
    opts.progress('timer: waiting for the KSM lock and starting');
    const scenario = regionScenario(1, 0);
    await startRandomRegion(backend, scenario, PAGES, 'sp-timer');
    const ksmd = findKsmdPid();
    const restoreSelf = holdPollerOffKsmd(ksmd, 'timer', opts.warn);
    const scanned = new KsmCounter('pages_scanned');
    const fullScans = new KsmCounter('full_scans');
    try {
      // Mid-scan: one page per batch, so a kick's batch starts no full scan (except at the
      // end of a pass, which the median leaves out).
      opts.progress('timer: wake-up latency (ksmd kicked mid-scan)');
      write('smart_scan', '0');
      write('sleep_millisecs', '1');
      write('pages_to_scan', '1');
      kick(write, scanned);
      kick(write, scanned);
      mid = await kicks(write, scanned);
      // Every batch a whole pass: each kick's batch begins with lru_add_drain_all.
      opts.progress('timer: work flush (ksmd kicked at a full scan start)');
      write('pages_to_scan', '1000');
      start = await kicks(write, scanned);
      const cadenceAt = async (s: number): Promise<void> => {
        write('sleep_millisecs', String(s));
        await sleep(60);
        const q0 = ksmd === undefined ? undefined : readSchedstat(ksmd)?.waitNs;
        const f0 = fullScans.read();
        const t0 = performance.now();
        write('run', '1');
        await sleep(CADENCE_MS);
        const f1 = fullScans.read();
        const t1 = performance.now();
        write('run', '0');
        const q1 = ksmd === undefined ? undefined : readSchedstat(ksmd)?.waitNs;
        kernelPeriods.set(s, (t1 - t0) / Math.max(1, f1 - f0));
        queued.set(s, q0 === undefined || q1 === undefined ? Number.NaN : (q1 - q0) / 1e6);
      };
      for (const s of CADENCE_SLEEPS) {
        opts.progress(`timer: cadence at sleep_millisecs=${s}${s === 1 ? ', ksmd traced' : ''}`);
        if (s === 1) traced = await tracedBatches(() => cadenceAt(s), opts);
        else await cadenceAt(s);
      }
    } finally {
      scanned.close();
      fullScans.close();
      restoreSelf();
    }
  } finally {
    await backend.stop();
  }
  const fromConfig = configHz();
  const twoTicksMs = kernelPeriods.get(1) ?? 8;
  const measuredHz = HZ_CHOICES.reduce((best, hz) =>
    Math.abs(2000 / hz - twoTicksMs) < Math.abs(2000 / best - twoTicksMs) ? hz : best,
  );
  const latencyUs = median(mid);
  const hz = fromConfig ?? measuredHz;
  const tick = tickNs(hz);
  const phases = traced === undefined ? [] : tickWakePhasesNs(traced, tick);
  const aligned = alignedTicks(phases, tick);
  if (traced !== undefined && !aligned)
    opts.warn(
      phases.length === 0
        ? "timer: the trace held no batch woken by the tick, so the tick's latency is taken as the kick's"
        : `timer: ksmd's wake-ups by the tick do not fall just after multiples of ${tick} ns on the trace's clock (median ${median(phases) / 1000} µs past one), so the tick's latency is taken as the kick's`,
    );
  const timer: TimerParams = {
    hz,
    wakeupLatencyNs: Math.round(latencyUs * 1000),
    timerWakeLatencyNs: Math.round(aligned ? median(phases) : latencyUs * 1000),
    workFlushNs: Math.max(0, Math.round((median(start) - latencyUs) * 1000)),
  };
  if (fromConfig !== undefined && fromConfig !== measuredHz)
    opts.warn(
      `CONFIG_HZ=${fromConfig}, but ksmd's cadence at sleep_millisecs=1 (${twoTicksMs.toFixed(2)} ms) says ${measuredHz}`,
    );
  for (const s of CADENCE_SLEEPS) {
    opts.progress(`timer: the model's cadence at sleep_millisecs=${s}`);
    const run = await runScenario(regionScenario(s, CADENCE_MS), createModelBackend({ seed: 0, timer }));
    const scans = Number(run.records[0]?.ksm.full_scans ?? 0);
    const q = queued.get(s) ?? Number.NaN;
    cadence.push({
      sleep_millisecs: s,
      kernel_ms: round3(kernelPeriods.get(s) ?? Number.NaN),
      model_ms: round3(CADENCE_MS / Math.max(1, scans)),
      ksmd_queued_ms: round3(q),
    });
    if (q > 0.01 * CADENCE_MS)
      opts.warn(
        `timer: ksmd waited ${q.toFixed(1)} ms for a CPU in the ${CADENCE_MS} ms at sleep_millisecs=${s}: the machine is busy, so the kernel's cadence and latency are stretched; measure again when it is quiet`,
      );
  }
  return {
    timer,
    hz_source: fromConfig !== undefined ? 'CONFIG_HZ' : 'cadence',
    kick_mid_scan_us: mid.map(round3),
    kick_scan_start_us: start.map(round3),
    ...(phases.length === 0 ? {} : { tick_wake_us: phases.map((ns) => round3(ns / 1000)) }),
    cadence,
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Runs `work` (ksmd scanning at sleep_millisecs=1) while tracing ksmd, and returns ksmd's
 * batches (lib/ksmd_batches.ts); undefined, with a warning, where ksmd cannot be traced (no
 * tracefs, no KSM trace events).
 */
async function tracedBatches(work: () => Promise<void>, opts: TimerOptions): Promise<readonly KsmdBatch[] | undefined> {
  try {
    return (await traceKsmd(work)).trace.batches;
  } catch (e) {
    if (!(e instanceof HostUnusable)) throw e;
    opts.warn(`timer: ksmd could not be traced (${e.message}): the tick's wake-up latency is taken as the kick's`);
    await work();
    return undefined;
  }
}
