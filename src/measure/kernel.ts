/**
 * Runs a bench workload on the live kernel through the kernel backend (which saves and
 * restores /sys/kernel/mm/ksm and holds the machine's lock), timing ksmd's own CPU time
 * over each measured full scan: its runtime in ns from /proc/<ksmd>/schedstat
 * (host/cpu_time.ts), or, where the kernel has no schedstat (CONFIG_SCHED_INFO off),
 * utime + stime of /proc/<ksmd>/stat in clock ticks (host/procfs.ts): a full scan of
 * fork-heavy takes ksmd about one 10 ms tick, so ticks would make its per-scan figures
 * mostly rounding.
 */
import { PAGE_SIZE } from '../lib/sizes.ts';
import { createKernelBackend } from '../backends/kernel/index.ts';
import { findKsmdPid } from '../host/ksmd_affinity.ts';
import { clockTicksPerSecond } from '../host/machine.ts';
import { taskRuntimeNs } from '../host/cpu_time.ts';
import { cpuTicks } from '../host/procfs.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Workload } from './workloads.ts';

/** One measured full scan on the kernel. */
export interface KernelScan {
  readonly pagesScanned: number;
  readonly pagesSkipped: number;
  /** pages_to_scan after the scan (the scan-time advisor sets it at each scan's end). */
  readonly pagesToScan: number;
  /** ksmd CPU seconds: its schedstat runtime delta (ns), else utime + stime (1/CLK_TCK). */
  readonly cpuS: number;
  readonly wallS: number;
}

export interface KernelRun {
  readonly scans: readonly KernelScan[];
  readonly counters: Readonly<Record<string, number>>;
  readonly clkTck: number;
}

function emptyScenario(name: string, w: Workload): Scenario {
  return {
    version: 1,
    name,
    description: undefined,
    machine: { ram: w.ramBytes, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  };
}

/**
 * A reader of ksmd's CPU seconds: schedstat's ns where the kernel has them, else clock
 * ticks. ksmd does not exit while KSM is built in, so its absence is an error.
 */
function ksmdCpuSeconds(pid: number, clkTck: number): () => number {
  const exact = taskRuntimeNs(pid) !== undefined;
  return () => {
    const value = exact ? taskRuntimeNs(pid) : cpuTicks(pid);
    if (value === undefined) throw new Error(`ksmd (pid ${pid}) is gone from /proc`);
    return exact ? value / 1e9 : value / clkTck;
  };
}

export interface KernelRunOptions {
  readonly lockWaitMs: number;
  readonly progress: (msg: string) => void;
  readonly warn: (msg: string) => void;
}

/** The workload on the live kernel. Throws BackendUnavailable where KSM cannot be used. */
export async function runKernel(w: Workload, opts: KernelRunOptions): Promise<KernelRun> {
  const ksmd = findKsmdPid();
  const clkTck = clockTicksPerSecond();
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn, waitTimeoutMs: 600_000 });
  const scans: KernelScan[] = [];
  const counter = async (file: string): Promise<number> => Number(await backend.readPath(`ksm/${file}`));
  try {
    opts.progress(`kernel ${w.name}: waiting for the KSM lock and starting`);
    await backend.start(emptyScenario(`bench-${w.name}`, w));
    if (ksmd === undefined) throw new Error('No ksmd thread found in /proc although KSM is present');
    const ksmdCpu = ksmdCpuSeconds(ksmd, clkTck);
    for (const op of w.ops) {
      switch (op.op) {
        case 'spawn':
          await backend.spawn(op.proc, `sp-${op.proc}`.slice(0, 15));
          break;
        case 'region': {
          opts.progress(`kernel ${w.name}: filling ${op.pages} pages of ${op.proc}`);
          await backend.mmap(op.proc, op.region, op.pages * PAGE_SIZE, false, undefined);
          await backend.fill(op.proc, op.region, op.pattern, 0, undefined);
          if (op.mergeable) {
            const r = await backend.madvise(op.proc, op.region, 'MADV_MERGEABLE', 0, undefined);
            if (r !== 0) throw new Error(`madvise(MADV_MERGEABLE) failed on the kernel: ${r}`);
          }
          break;
        }
        case 'fork':
          await backend.fork(op.proc, op.child);
          break;
        case 'exit':
          await backend.exit(op.proc);
          break;
        case 'sysfs': {
          const r = await backend.sysfsWrite(`ksm/${op.file}`, op.value);
          if (r !== 0) throw new Error(`Writing ${op.value} to ksm/${op.file} failed on the kernel: ${r}`);
          break;
        }
        case 'scan':
          for (let i = 0; i < op.n; i++) {
            opts.progress(`kernel ${w.name}: full scan ${i + 1}/${op.n}${op.measured ? '' : ' (setup)'}`);
            const scanned0 = await counter('pages_scanned');
            const skipped0 = await counter('pages_skipped');
            const t0 = ksmdCpu();
            const w0 = performance.now();
            const why = await backend.wait(1, undefined);
            const t1 = ksmdCpu();
            const w1 = performance.now();
            if (why !== undefined) throw new Error(`Workload ${w.name} on the kernel: ${why}`);
            if (op.measured) {
              scans.push({
                pagesScanned: (await counter('pages_scanned')) - scanned0,
                pagesSkipped: (await counter('pages_skipped')) - skipped0,
                pagesToScan: await counter('pages_to_scan'),
                cpuS: t1 - t0,
                wallS: (w1 - w0) / 1000,
              });
            }
          }
          break;
      }
    }
    const rec = await backend.record('end');
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(rec.ksm)) if (typeof v === 'number') counters[k] = v;
    return { scans, counters, clkTck };
  } finally {
    await backend.stop();
  }
}
