import { ENOENT } from './lib/errno.ts';
import { formatBytes, PAGE_SIZE } from './lib/sizes.ts';
import { formatDuration } from './lib/duration.ts';
import { EventQueue } from './sim/event_queue.ts';
import { MAX_VIRTUAL_NS, VirtualClock } from './sim/clock.ts';
import { DEFAULT_TIMER, type TimerParams } from './sim/timer.ts';
import { createMemoryManager, type MemoryManager } from './mm/memory_manager.ts';
import { ksmInit } from './ksm/control.ts';
import type { CostModel } from './ksm/cost.ts';
import { DEFAULT_COST } from './ksm/cost.ts';
import type { Ksm } from './ksm/ksm.ts';
import type { Ksmd } from './ksm/ksmd.ts';
import { sysfsKfWrite, type AttributeGroup } from './sysfs/attribute.ts';
import { ksmSysfs } from './sysfs/ksm_sysfs.ts';
import { KsmPlus } from './ksmplus/ksmplus.ts';
import { KsmPlusDaemon } from './ksmplus/daemon.ts';
import { ksmPlusSysfs } from './sysfs/ksmplus_sysfs.ts';
import { parserSysfs } from './sysfs/parser_sysfs.ts';

export { MAX_VIRTUAL_NS };

/**
 * The largest machine the model builds: its frame tables cost 17 bytes a page frame up
 * front, so 1 TiB of model RAM takes about 1.1 GB of this machine's memory.
 */
export const MAX_RAM_BYTES = 2 ** 40;
/** MAX_NUMNODES of x86-64 with the largest CONFIG_NODES_SHIFT (10). */
export const MAX_NUMA_NODES = 1024;

/** How big a machine to simulate. */
export interface SystemOptions {
  /** RAM in bytes (a multiple of the page size). */
  readonly ram: number;
  readonly numaNodes?: number;
  /** Read faults allocate instead of mapping the zero page (MemoryManager.forbidsZeropage). */
  readonly mmForbidsZeropage?: boolean;
  readonly cost?: CostModel;
  /** HZ and wake-up latencies (default DEFAULT_TIMER, this machine kind). */
  readonly timer?: TimerParams;
  /** Seed of the machine's randomness (KSM+'s sampling). */
  readonly seed?: number;
  /** Tests: prove the model's caches against a recomputation on every hit (slow). */
  readonly checkCaches?: boolean;
}

/** One simulated machine: the memory manager, KSM and its ksmd, and their sysfs. */
export interface System {
  readonly clock: VirtualClock;
  readonly events: EventQueue;
  readonly mmgr: MemoryManager;
  readonly ksm: Ksm;
  readonly ksmd: Ksmd;
  /** The thesis's KSM+ scanner and its daemon (idle until a program is named). */
  readonly ksmplus: KsmPlus;
  readonly ksmplusd: KsmPlusDaemon;
  /** Files of /sys/kernel/mm/<dir>, by directory ("ksm"). */
  readonly sysfs: ReadonlyMap<string, AttributeGroup>;
}

/** The composition root: wires the memory manager, KSM and sysfs of one machine. */
export function createSystem(opts: SystemOptions): System {
  if (opts.ram > MAX_RAM_BYTES || (opts.numaNodes ?? 1) > MAX_NUMA_NODES) {
    throw new RangeError(
      `A model machine has at most ${formatBytes(MAX_RAM_BYTES)} of RAM and ${MAX_NUMA_NODES} NUMA nodes, not ${formatBytes(opts.ram)} and ${opts.numaNodes ?? 1}`,
    );
  }
  const clock = new VirtualClock(opts.timer ?? DEFAULT_TIMER);
  const events = new EventQueue(clock);
  const mmgr = createMemoryManager(
    Math.floor(opts.ram / PAGE_SIZE) + 1,
    opts.numaNodes ?? 1,
    opts.mmForbidsZeropage === true,
  );
  const { ksm, ksmd } = ksmInit(mmgr, events, opts.cost ?? DEFAULT_COST);
  const ksmplus = new KsmPlus(mmgr, events, opts.cost ?? DEFAULT_COST, opts.seed ?? 0);
  const ksmplusd = new KsmPlusDaemon(ksmplus, events);
  ksm.checkWalkCache = opts.checkCaches === true;
  ksmplus.engine.checkWalkCache = opts.checkCaches === true;
  const sysfs = new Map<string, AttributeGroup>([
    ['ksm', ksmSysfs(ksm, ksmd)],
    ['ksm+', ksmPlusSysfs(ksmplus, ksmplusd)],
    // The thesis's statistics module (parser.ko), on the model's processes.
    ['parser', parserSysfs(mmgr)],
  ]);
  return { clock, events, mmgr, ksm, ksmd, ksmplus, ksmplusd, sysfs };
}

/** Writes a sysfs file under /sys/kernel/mm ("ksm/run"): 0, or -errno (-ENOENT if none). */
export function sysfsWrite(sys: System, path: string, value: string): number {
  const [dir, file] = path.split('/');
  const attr = sys.sysfs.get(dir ?? '')?.get(file ?? '');
  if (attr === undefined) return -ENOENT;
  return sysfsKfWrite(attr, value);
}

/** Reads a sysfs file under /sys/kernel/mm ("ksm/run"); undefined if there is none. */
export function sysfsRead(sys: System, path: string): string | undefined {
  const [dir, file] = path.split('/');
  return sys.sysfs
    .get(dir ?? '')
    ?.get(file ?? '')
    ?.show();
}

/** Runs the machine for `ms` milliseconds of virtual time. */
export function runFor(sys: System, ms: number): void {
  runUntil(sys, sys.clock.now() + ms * 1e6);
}

/**
 * Runs the events due by virtual time `end` (ns), at most `budget` of them: true when the
 * clock has reached `end`, false when the budget ran out first (call again to go on).
 * `onEvent` is called after every event (a report samples the counters with it).
 */
export function runUntil(sys: System, end: number, budget = Number.POSITIVE_INFINITY, onEvent?: () => void): boolean {
  for (let n = 0; n < budget; n++) {
    if (!sys.events.runNext(end)) {
      sys.clock.advanceTo(end);
      return true;
    }
    onEvent?.();
  }
  return false;
}

/**
 * What a wait counts: full scans (`full_scans` growing), milliseconds, or batches of ksmd
 * (ksm_do_scan calls: wake-ups of ksmd that found work). A scenario's `wait` step names one.
 */
export type WaitUnit = 'full_scans' | 'ms' | 'batches';

/** What a slice of a wait came to: finished, more to run, or stuck for good (why). */
export type WaitSlice =
  | { readonly state: 'done' }
  | { readonly state: 'more' }
  | { readonly state: 'stuck'; readonly reason: string };

/** What runScans needs of a scanner: what the wait counts (full scans, batches), why it is stuck, whether mid-batch. */
interface ScanDriver {
  readonly count: () => number;
  readonly idle: () => string | undefined;
  readonly busy: () => boolean;
}

/**
 * Runs events until the driver's count (of full scans or batches) reaches `target`, then
 * lets the batch that brought it there finish, so time includes its CPU cost; at most `budget` events per
 * call. `onEvent` is called after every event (a policy comparison times each counter
 * change with it). Stuck past MAX_VIRTUAL_NS, where the clock stops being exact.
 */
function runScans(sys: System, d: ScanDriver, target: number, budget: number, onEvent?: () => void): WaitSlice {
  let n = 0;
  while (d.count() < target) {
    if (n++ >= budget) return { state: 'more' };
    const why = d.idle();
    if (why !== undefined) return { state: 'stuck', reason: why };
    if (sys.clock.now() > MAX_VIRTUAL_NS) return { state: 'stuck', reason: pastClock(sys) };
    if (!sys.events.runNext(Number.POSITIVE_INFINITY)) return { state: 'stuck', reason: 'nothing is scheduled' };
    onEvent?.();
  }
  while (d.busy()) {
    if (n++ >= budget) return { state: 'more' };
    if (!sys.events.runNext(Number.POSITIVE_INFINITY)) break;
    onEvent?.();
  }
  return { state: 'done' };
}

function pastClock(sys: System): string {
  return `virtual time passed ${formatDuration(MAX_VIRTUAL_NS)} (now ${formatDuration(sys.clock.now())}), where the model's clock stops counting nanoseconds exactly`;
}

/** The ksmd driver of runScans, counting full scans. */
function ksmdDriver(sys: System): ScanDriver {
  return { count: () => sys.ksm.ksmScan.seqnr, idle: () => whyKsmdIdle(sys), busy: () => sys.ksmd.isBusy() };
}

/** The waits that count ksmd's work rather than time. */
export type ScanWaitUnit = Exclude<WaitUnit, 'ms'>;

/**
 * The driver of a wait in `unit`: full scans (ksm_scan.seqnr, which full_scans shows) or
 * batches (Kthread.batches: wake-ups that called ksm_do_scan).
 */
function scanWaitDriver(sys: System, unit: ScanWaitUnit): ScanDriver {
  const d = ksmdDriver(sys);
  return unit === 'batches' ? { ...d, count: () => sys.ksmd.batches } : d;
}

/** How many of `unit` ksmd has done since boot: what a wait in it counts from. */
export function scanWaitCount(sys: System, unit: ScanWaitUnit): number {
  return scanWaitDriver(sys, unit).count();
}

/**
 * One slice of a wait until ksmd's count of `unit` (scanWaitCount) reaches `target`, the
 * batch that brought it there finished: at most `budget` events. The model backend runs a
 * long wait slice by slice, so the command line can draw progress between.
 */
export function runScanWaitSlice(
  sys: System,
  unit: ScanWaitUnit,
  target: number,
  budget: number,
  onEvent?: () => void,
): WaitSlice {
  return runScans(sys, scanWaitDriver(sys, unit), target, budget, onEvent);
}

/**
 * Runs until full_scans has grown by `n`. Returns undefined when done, else why it cannot
 * finish (ksmd not running, nothing registered, pages_to_scan 0, the clock's end).
 */
export function runFullScans(
  sys: System,
  n: number,
  onProgress?: (done: number) => void,
  onEvent?: () => void,
): string | undefined {
  const d = ksmdDriver(sys);
  const target = d.count() + n;
  // One scan at a time, so progress is told after each.
  for (let next = d.count() + 1; next <= target; next = d.count() + 1) {
    const r = runScans(sys, d, next, Number.POSITIVE_INFINITY, onEvent);
    if (r.state === 'stuck') return r.reason;
    onProgress?.(n - (target - d.count()));
  }
  return undefined;
}

/**
 * Why a wait of `count` full scans, batches or milliseconds can never finish, known before
 * it starts: ksmd cannot scan (whyKsmdIdle), or the wait would take the clock past
 * MAX_VIRTUAL_NS. ksmd ends at most one full scan per batch (scan_get_next_rmap_item returns
 * NULL as it completes one) and sleeps sleep_millisecs between batches, so n full scans or
 * n batches take at least (n - 1) sleeps.
 */
export function whyWaitCannotFinish(sys: System, unit: WaitUnit, count: number): string | undefined {
  const now = sys.clock.now();
  if (unit === 'ms') {
    if (now + count * 1e6 <= MAX_VIRTUAL_NS) return undefined;
    return `waiting ${count} ms would take virtual time to ${formatDuration(now + count * 1e6)}, past the ${formatDuration(MAX_VIRTUAL_NS)} the model's clock counts exactly`;
  }
  const idle = whyKsmdIdle(sys);
  if (idle !== undefined) return idle;
  const least = (count - 1) * sys.ksm.sleepMillisecs * 1e6;
  if (now + least > MAX_VIRTUAL_NS) {
    const what = unit === 'batches' ? 'batches' : 'full scans';
    return (
      `${count} ${what} take at least ${formatDuration(least)} of virtual time (ksmd ends at most one full scan per batch ` +
      `and sleeps sleep_millisecs=${sys.ksm.sleepMillisecs} ms between batches), past the ${formatDuration(MAX_VIRTUAL_NS)} the model's clock counts exactly`
    );
  }
  return undefined;
}

/** Like runFullScans, for KSM+'s rounds (/sys/kernel/mm/ksm+/full_scans). */
export function runKsmPlusFullScans(sys: System, n: number, onEvent?: () => void): string | undefined {
  const driver = {
    count: () => sys.ksmplus.engine.ksmScan.seqnr,
    idle: () => whyKsmPlusIdle(sys),
    busy: () => sys.ksmplusd.isBusy(),
  };
  const r = runScans(sys, driver, driver.count() + n, Number.POSITIVE_INFINITY, onEvent);
  return r.state === 'stuck' ? r.reason : undefined;
}

/** Why the KSM+ daemon will make no progress on its own, or undefined if it will. */
export function whyKsmPlusIdle(sys: System): string | undefined {
  const plus = sys.ksmplus;
  if ((plus.run & 1) === 0) return `the KSM+ daemon is not running (ksm+/run=${plus.run})`;
  if (plus.names.length === 0) return 'no program is named in /sys/kernel/mm/ksm+/processes_to_scan';
  if (plus.pagesToScan === 0) return 'ksm+/pages_to_scan is 0, so KSM+ scans nothing';
  return undefined;
}

/** Why ksmd will make no progress on its own, or undefined if it will. */
export function whyKsmdIdle(sys: System): string | undefined {
  const k = sys.ksm;
  if ((k.run & 1) === 0) return `ksmd is not running (run=${k.run})`;
  if (k.mmHead.next === k.mmHead) return 'no process is registered with KSM (nothing was madvised or prctl-enabled)';
  if (k.pagesToScan === 0) return 'pages_to_scan is 0, so ksmd scans nothing';
  return undefined;
}
