/**
 * The post-sleep half of `samepage bench --calibrate`: how much more ksmd's batch costs
 * after a sleep than the same batch without one (cost.ts postSleepNs), measured through the
 * kernel backend (which saves and restores /sys/kernel/mm/ksm, holds ksmd on one CPU and
 * holds the machine's lock).
 *
 * One process of REGION_PAGES random pages (nothing merges), smart_scan 0. For each batch
 * size, whole passes are measured at sleep_millisecs 0 (ksmd never sleeps: every batch warm),
 * then at each sleep, then at 0 again (ksmd's speed drifts by some per cent a minute on this
 * VM, so the warm figure is the mean of the two). A pass is the same pages and the same
 * unstable tree at every sleep, so the difference of ksmd's CPU per pass, divided by the
 * batches of a pass, is the extra of one batch after that sleep; its mean sleep is the
 * pass's wall time less ksmd's CPU, per batch. Where ksmd does not sleep, a reading at a
 * pass's end may miss up to a tick of the running batch: the warm passes are many.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { createKernelBackend } from '../backends/kernel/index.ts';
import { cpusAllowed, findKsmdPid, firstCpu, holdSelfOffCpu } from '../host/ksmd_affinity.ts';
import { KsmCounter } from '../host/ksm_sysfs.ts';
import { readSchedstat } from '../host/procfs.ts';
import type { Scenario } from '../scenario/types.ts';
import { ksmWriter, startRandomRegion, type TimerOptions } from './timer.ts';

/** The region: the timing family's size (80 MiB), a whole number of every batch below. */
export const REGION_PAGES = 20_000;
/**
 * The batches measured and the sleeps after which each is: 100 pages a batch is 200 batches
 * a pass, so its long sleeps would take a minute; the sleeps are the timing grid's.
 */
export const POST_SLEEP_PLAN: ReadonlyArray<{ readonly pages: number; readonly sleeps: readonly number[] }> = [
  { pages: 100, sleeps: [1, 5, 20] },
  { pages: 1000, sleeps: [1, 5, 20, 50, 200] },
  { pages: 5000, sleeps: [1, 5, 20, 50, 200] },
];
/** Warm passes per reading (a tick's error at the end spread over them). */
const WARM_PASSES = 8;
/** A sleep's passes: enough for about a second, at most 3. */
const SLEPT_MS = 1000;

/** One batch size after one sleep: the measured extra CPU of a batch. */
export interface PostSleepRow {
  readonly pages_to_scan: number;
  readonly sleep_millisecs: number;
  readonly passes: number;
  /** Mean wall time from a batch's end to the next one's start (pass wall less CPU, per batch), ns. */
  readonly slept_ns: number;
  /** ksmd's CPU per pass at this sleep and warm (the mean of before and after), ns. */
  readonly pass_cpu_ns: number;
  readonly warm_pass_cpu_ns: number;
  /** (pass_cpu_ns - warm_pass_cpu_ns) / batches of a pass. */
  readonly extra_ns: number;
  /** How long ksmd waited for a CPU meanwhile, ms (a busy machine stretches the sleeps). */
  readonly queued_ms: number;
}

function emptyScenario(): Scenario {
  return {
    version: 1,
    name: 'calibrate-post-sleep',
    description: undefined,
    machine: { ram: (REGION_PAGES * 2 + 4096) * PAGE_SIZE, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  };
}

/** Measures the extra of a batch after each sleep of the plan on the live kernel. */
export async function measurePostSleep(opts: TimerOptions): Promise<PostSleepRow[]> {
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn });
  const write = ksmWriter(backend);
  const rows: PostSleepRow[] = [];
  try {
    opts.progress('post-sleep: waiting for the KSM lock and starting');
    await startRandomRegion(backend, emptyScenario(), REGION_PAGES, 'sp-postsleep');
    const ksmd = findKsmdPid();
    if (ksmd === undefined || readSchedstat(ksmd) === undefined)
      throw new Error('post-sleep: no ksmd with /proc/<pid>/schedstat to read its CPU time from');
    const cpu = firstCpu(cpusAllowed(ksmd) ?? '');
    const restoreSelf = cpu === undefined ? 'ksmd has no CPU list' : holdSelfOffCpu(cpu);
    if (typeof restoreSelf === 'string') opts.warn(`post-sleep: the poller may share ksmd's CPU (${restoreSelf})`);
    const fullScans = new KsmCounter('full_scans');
    const stat = (): { runtimeNs: number; waitNs: number } => readSchedstat(ksmd) ?? { runtimeNs: NaN, waitNs: NaN };
    // Whole passes from one pass boundary to another: CPU, wall and CPU wait of `n` of them.
    const passes = async (n: number): Promise<{ cpuNs: number; wallNs: number; queuedNs: number }> => {
      const boundary = async (target: number): Promise<void> => {
        const begin = performance.now();
        while (fullScans.read() < target) {
          if (performance.now() - begin > 120_000) throw new Error('post-sleep: a pass took over 2 minutes');
          await sleep(1);
        }
      };
      await boundary(fullScans.read() + 1);
      const s0 = stat();
      const t0 = performance.now();
      await boundary(fullScans.read() + n);
      const s1 = stat();
      return {
        cpuNs: s1.runtimeNs - s0.runtimeNs,
        wallNs: (performance.now() - t0) * 1e6,
        queuedNs: s1.waitNs - s0.waitNs,
      };
    };
    try {
      write('smart_scan', '0');
      write('sleep_millisecs', '0');
      for (const { pages, sleeps } of POST_SLEEP_PLAN) {
        const batches = REGION_PAGES / pages;
        write('pages_to_scan', String(pages));
        write('run', '1');
        opts.progress(`post-sleep: ${pages} pages a batch, warm`);
        // Two passes to build the unstable tree (the first only checksums).
        await passes(2);
        const before = await passes(WARM_PASSES);
        const slept: { s: number; n: number; r: { cpuNs: number; wallNs: number; queuedNs: number } }[] = [];
        for (const s of sleeps) {
          opts.progress(`post-sleep: ${pages} pages a batch after sleeps of ${s} ms`);
          write('sleep_millisecs', String(s));
          const passMs = batches * (s + 4);
          const n = Math.max(1, Math.min(3, Math.ceil(SLEPT_MS / passMs)));
          slept.push({ s, n, r: await passes(n) });
        }
        write('sleep_millisecs', '0');
        const after = await passes(WARM_PASSES);
        write('run', '0');
        const warm = (before.cpuNs + after.cpuNs) / (2 * WARM_PASSES);
        for (const { s, n, r } of slept) {
          const pass = r.cpuNs / n;
          rows.push({
            pages_to_scan: pages,
            sleep_millisecs: s,
            passes: n,
            slept_ns: Math.round((r.wallNs - r.cpuNs) / (n * batches)),
            pass_cpu_ns: Math.round(pass),
            warm_pass_cpu_ns: Math.round(warm),
            extra_ns: Math.round((pass - warm) / batches),
            queued_ms: Math.round(r.queuedNs / 1e4) / 100,
          });
        }
        const drift = Math.abs(after.cpuNs - before.cpuNs) / before.cpuNs;
        if (drift > 0.05)
          opts.warn(
            `post-sleep: ksmd's warm passes at ${pages} pages a batch cost ${(drift * 100).toFixed(1)} % more or less after the sleeps than before: its speed moved meanwhile`,
          );
      }
    } finally {
      fullScans.close();
      if (typeof restoreSelf === 'function') restoreSelf();
    }
  } finally {
    await backend.stop();
  }
  return rows;
}
