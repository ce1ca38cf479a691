import { ENOENT } from './lib/errno.ts';
import { PAGE_SIZE } from './lib/sizes.ts';
import { EventQueue } from './sim/event_queue.ts';
import { VirtualClock } from './sim/clock.ts';
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

/** How big a machine to simulate. */
export interface SystemOptions {
  /** RAM in bytes (a multiple of the page size). */
  readonly ram: number;
  readonly numaNodes?: number;
  readonly cost?: CostModel;
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
  const clock = new VirtualClock();
  const events = new EventQueue(clock);
  const mmgr = createMemoryManager(Math.floor(opts.ram / PAGE_SIZE) + 1, opts.numaNodes ?? 1);
  const { ksm, ksmd } = ksmInit(mmgr, events, opts.cost ?? DEFAULT_COST);
  const ksmplus = new KsmPlus(mmgr, events, opts.cost ?? DEFAULT_COST, opts.seed ?? 0);
  const ksmplusd = new KsmPlusDaemon(ksmplus, events);
  ksm.checkWalkCache = opts.checkCaches === true;
  ksmplus.trees.checkWalkCache = opts.checkCaches === true;
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
  const end = sys.clock.now() + ms * 1e6;
  while (sys.events.runNext(end)) {
    /* events run */
  }
  sys.clock.advanceTo(end);
}

/** What runScans needs of a scanner: its full-scan count, why it is stuck, whether mid-batch. */
interface ScanDriver {
  readonly seqnr: () => number;
  readonly idle: () => string | undefined;
  readonly busy: () => boolean;
}

/**
 * Runs events until the driver's full-scan count has grown by `n`, then lets the batch that
 * completed the scan finish, so time includes its CPU cost. `onEvent` is called after every
 * event (a policy comparison times each counter change with it).
 */
function runScans(
  sys: System,
  d: ScanDriver,
  n: number,
  onScan?: (done: number) => void,
  onEvent?: () => void,
): string | undefined {
  const target = d.seqnr() + n;
  while (d.seqnr() < target) {
    const why = d.idle();
    if (why !== undefined) return why;
    const before = d.seqnr();
    if (!sys.events.runNext(Number.POSITIVE_INFINITY)) return 'nothing is scheduled';
    onEvent?.();
    if (onScan !== undefined && d.seqnr() !== before) onScan(n - (target - d.seqnr()));
  }
  while (d.busy() && sys.events.runNext(Number.POSITIVE_INFINITY)) onEvent?.();
  return undefined;
}

/**
 * Runs until full_scans has grown by `n`. Returns undefined when done, else why it cannot
 * finish (ksmd not running, nothing registered, pages_to_scan 0).
 */
export function runFullScans(
  sys: System,
  n: number,
  onProgress?: (done: number) => void,
  onEvent?: () => void,
): string | undefined {
  const driver = { seqnr: () => sys.ksm.ksmScan.seqnr, idle: () => whyKsmdIdle(sys), busy: () => sys.ksmd.isBusy() };
  return runScans(sys, driver, n, onProgress, onEvent);
}

/** Like runFullScans, for KSM+'s rounds (/sys/kernel/mm/ksm+/full_scans). */
export function runKsmPlusFullScans(sys: System, n: number, onEvent?: () => void): string | undefined {
  const driver = {
    seqnr: () => sys.ksmplus.trees.ksmScan.seqnr,
    idle: () => whyKsmPlusIdle(sys),
    busy: () => sys.ksmplusd.isBusy(),
  };
  return runScans(sys, driver, n, undefined, onEvent);
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
