/**
 * Runs a bench workload on the live kernel through the kernel backend (which saves and
 * restores /sys/kernel/mm/ksm and holds the machine's lock), timing ksmd's own CPU time
 * over each measured full scan: the scheduler's runtime of /proc/<ksmd>/schedstat in ns
 * (what the scan-time advisor reads) where the kernel keeps it, else utime + stime of
 * /proc/<ksmd>/stat in clock ticks (10 ms each here: too coarse for short scans).
 */
import { PAGE_SIZE } from '../lib/sizes.ts';
import { createKernelBackend } from '../backends/kernel/index.ts';
import { findKsmdPid } from '../host/ksmd_affinity.ts';
import { clockTicksPerSecond } from '../host/machine.ts';
import { othersBusyMeter } from '../host/others_busy.ts';
import { cpuTicks, readSchedstat } from '../host/procfs.ts';
import { emptyScenario } from './empty_scenario.ts';
import type { Workload } from './workloads.ts';

/** One measured full scan on the kernel. */
export interface KernelScan {
  readonly pagesScanned: number;
  readonly pagesSkipped: number;
  /** pages_to_scan after the scan (the scan-time advisor sets it at each scan's end). */
  readonly pagesToScan: number;
  /** ksmd CPU seconds: schedstat runtime (ns) or utime + stime (1/CLK_TCK), see cpuSource. */
  readonly cpuS: number;
  readonly wallS: number;
  /**
   * CPU time other work used during the scan (host/others_busy.ts), ms; undefined where it
   * cannot be read. Work on the other CPU slows ksmd down without delaying it, so a scan
   * measured beside it is no measure of ksmd's costs.
   */
  readonly othersBusyMs: number | undefined;
}

export interface KernelRun {
  readonly scans: readonly KernelScan[];
  readonly counters: Readonly<Record<string, number>>;
  readonly clkTck: number;
  /** Where ksmd's CPU time came from. */
  readonly cpuSource: 'schedstat' | 'ticks';
}

/**
 * ksmd's CPU time in seconds, from schedstat when `precise`, else from its clock ticks;
 * ksmd does not exit while KSM is built in, so its absence is an error.
 */
function ksmdCpuS(pid: number, precise: boolean, clkTck: number): number {
  const s = precise ? readSchedstat(pid)?.runtimeNs : undefined;
  if (s !== undefined) return s / 1e9;
  const ticks = cpuTicks(pid);
  if (ticks === undefined) throw new Error(`ksmd (pid ${pid}) is gone from /proc`);
  return ticks / clkTck;
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
  const precise = ksmd !== undefined && readSchedstat(ksmd) !== undefined;
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn, waitTimeoutMs: 600_000 });
  const scans: KernelScan[] = [];
  const counter = async (file: string): Promise<number> => Number(await backend.readPath(`ksm/${file}`));
  try {
    opts.progress(`kernel ${w.name}: waiting for the KSM lock and starting`);
    await backend.start(emptyScenario(`bench-${w.name}`, w.ramBytes));
    if (ksmd === undefined) throw new Error('No ksmd thread found in /proc although KSM is present');
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
            const others = othersBusyMeter(ksmd, () => backend.ownPids());
            const t0 = ksmdCpuS(ksmd, precise, clkTck);
            const w0 = performance.now();
            const why = await backend.wait('full_scans', 1);
            const t1 = ksmdCpuS(ksmd, precise, clkTck);
            const w1 = performance.now();
            const othersBusyMs = others();
            if (why !== undefined) throw new Error(`Workload ${w.name} on the kernel: ${why}`);
            if (op.measured) {
              scans.push({
                pagesScanned: (await counter('pages_scanned')) - scanned0,
                pagesSkipped: (await counter('pages_skipped')) - skipped0,
                pagesToScan: await counter('pages_to_scan'),
                cpuS: t1 - t0,
                wallS: (w1 - w0) / 1000,
                othersBusyMs,
              });
            }
          }
          break;
      }
    }
    const rec = await backend.record('end');
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(rec.ksm)) if (typeof v === 'number') counters[k] = v;
    return { scans, counters, clkTck, cpuSource: precise ? 'schedstat' : 'ticks' };
  } finally {
    await backend.stop();
  }
}
