import { createHash } from 'node:crypto';
import { ENOMEM } from '../../lib/errno.ts';
import { formatBytes, PAGE_SIZE } from '../../lib/sizes.ts';
import type { Pattern } from '../../lib/patterns.ts';
import {
  MADV_DONTNEED,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  PR_GET_MEMORY_MERGE,
  PR_SET_MEMORY_MERGE,
  VM_MERGEABLE,
  MMF_VM_MERGE_ANY,
  _PAGE_PRESENT,
  _PAGE_SPECIAL,
} from '../../mm/constants.ts';
import { doMadvise } from '../../mm/madvise.ts';
import type { Task } from '../../mm/memory_manager.ts';
import { doMmap, doMunmap } from '../../mm/mmap.ts';
import type { MmStruct } from '../../mm/mm_struct.ts';
import { doPrctl } from '../../mm/prctl.ts';
import { execTask, exitTask, forkTask, shareAnonPage, spawnTask } from '../../mm/process.ts';
import { fillUser, readUser, writeUser, writeUserPage } from '../../mm/uaccess.ts';
import { ksmProcessProfit, procKsmStat } from '../../sysfs/proc_ksm.ts';
import { ksmVmstat, procVmstat } from '../../sysfs/proc_vmstat.ts';
import {
  createSystem,
  runScanWaitSlice,
  scanWaitCount,
  runUntil,
  sysfsRead,
  sysfsWrite,
  whyWaitCannotFinish,
  type System,
} from '../../system.ts';
import type { Backend, WaitProgress } from '../../scenario/backend.ts';
import { StepError } from '../../scenario/backend.ts';
import { parseScenarioPath } from '../../scenario/paths.ts';
import { describeReturn } from '../../lib/errno.ts';
import { normalizeActual } from '../../scenario/expect.ts';
import type { CounterRecord, CounterSample, ProcRecord, Samples } from '../../scenario/records.ts';
import { SAMPLED_KSM_FILES, SAMPLED_KSMPLUS_FILES, SampleRecorder } from '../../scenario/samples.ts';
import { type ScanTrace, ScanTraceRecorder } from '../../scenario/scan_trace.ts';
import type { KsmdBatch } from '../../lib/ksmd_batches.ts';
import type { SlabEvent } from '../../lib/kmem_trace.ts';
import { recordKsmdBatches } from './ksmd_batches.ts';
import type { Advice, PrctlOption, Scenario, WaitUnit } from '../../scenario/types.ts';
import { type CostModel, scaledCost } from '../../ksm/cost.ts';
import { calibratedCost, calibratedTimer, calibrationSet } from './calibration.ts';
import type { TimerParams } from '../../sim/timer.ts';
import { attribute } from '../../attribution/attribute.ts';
import { type AttributionRecord, attributionRecord } from '../../attribution/record.ts';
import { modelObservation } from './attribution.ts';
import { ModelPlusDaemon } from './plus_daemon.ts';
import { PLUS_FILE_NAMES, PLUS_LIST_FILES } from '../../lib/plus_files.ts';

/** Events (ksmd batches, KSM+ rounds) between two words of progress in a wait. */
const WAIT_SLICE = 16;

interface Region {
  readonly addr: number;
  readonly size: number;
}

interface Proc {
  readonly task: Task;
  regions: Map<string, Region>;
}

export interface ModelBackendOptions {
  readonly seed: number;
  /** ksmd's CPU cost; default: the calibration file (see calibration.ts). */
  readonly cost?: CostModel;
  /**
   * Every CPU time of that cost model multiplied by this, its shapes kept (ksm/cost.ts
   * scaledCost): the model on a host this many times as slow. Default 1. The timed
   * comparison runs the model at the live kernel's speed with it (differential/kernel_speed.ts).
   */
  readonly costScale?: number;
  /** HZ and ksmd's wake-up latencies; default: the timer calibration file (see calibration.ts). */
  readonly timer?: TimerParams;
  /**
   * ksmd's CPU time before the scenario, ns (default 0, a machine just booted): the
   * scan-time advisor's first step counts it, as its context starts at 0. A comparison with
   * the live kernel passes the live ksmd's.
   */
  readonly ksmdRuntimeNs?: number;
  /**
   * Whether read faults allocate instead of mapping the zero page, where the scenario's
   * machine.mm_forbids_zeropage does not say (default false, as upstream Linux). A comparison
   * with the live kernel passes the live kernel's.
   */
  readonly mmForbidsZeropage?: boolean;
  /** Tests: prove the model's caches on every hit (see SystemOptions.checkCaches). */
  readonly checkCaches?: boolean;
  /** Sample the charted counters after every event that changes one (for a report; see samples()). */
  readonly samples?: boolean;
  /** Trace full_scans over ksmd's time, at every event that changes it (scenario/scan_trace.ts). */
  readonly traceScans?: boolean;
  /** Record ksmd's batches one by one (ksmdBatches()), as a trace of the live ksmd gives them. */
  readonly traceBatches?: boolean;
  /** Keep every allocation and free of KSM's slab (slabEvents()), as ksmd's kmem trace gives them. */
  readonly logSlab?: boolean;
}

/** The scenario backend that runs on samepage's own model, on virtual time. */
export class ModelBackend implements Backend {
  readonly name = 'model' as const;
  #sys: System | undefined;
  #plus: ModelPlusDaemon | undefined;
  readonly #procs = new Map<string, Proc>();
  readonly #opts: ModelBackendOptions;
  /** machine.ram of the scenario started. */
  #ram = 0;
  readonly #sampler: SampleRecorder | undefined;
  /** The fields #countersMoved watches, as it last read them. */
  readonly #lastCounters = new Float64Array(12).fill(Number.NaN);
  /** Called after each event of a wait when sampling: keeps a sample if a counter changed. */
  readonly #onEvent: (() => void) | undefined;
  readonly #trace: ScanTraceRecorder | undefined;
  /** Virtual time (ns) at which the current wait began, for the trace. */
  #waitStartNs = 0;
  /** ksmd's CPU over the waits (the kernel backend's KsmdClock.ranNs). */
  #ranNs = 0;
  /** ksmd's batches, with traceBatches. */
  #batches: KsmdBatch[] | undefined;

  constructor(opts: ModelBackendOptions) {
    this.#opts = opts;
    this.#sampler = opts.samples === true ? new SampleRecorder('change') : undefined;
    this.#trace = opts.traceScans === true ? new ScanTraceRecorder() : undefined;
    const sample = this.#sampler === undefined ? undefined : () => this.sampleEvent();
    const trace = this.#trace === undefined ? undefined : () => this.#traceEvent();
    this.#onEvent =
      sample !== undefined && trace !== undefined
        ? () => {
            sample();
            trace();
          }
        : (sample ?? trace);
  }

  /** After an event of a wait when tracing: the trace keeps full_scans if it changed. */
  #traceEvent(): void {
    const sys = this.system();
    this.#trace?.see((sys.clock.now() - this.#waitStartNs) / 1e6, sys.ksm.ksmScan.seqnr);
  }

  scanTrace(): ScanTrace | undefined {
    return this.#trace?.result();
  }

  /**
   * ksmd's CPU time over the waits so far, of milliseconds and of full scans alike, ns: what
   * the kernel backend measures as KsmdClock.ranNs, for the same comparison.
   */
  ksmdRanNs(): number {
    return this.#ranNs;
  }

  /** The model machine's tick, ns (after start). */
  tickNs(): number {
    return this.system().clock.tickNs;
  }

  /** ksmd's batches so far, with traceBatches (else undefined). */
  ksmdBatches(): readonly KsmdBatch[] | undefined {
    return this.#batches;
  }

  /** ksmd's allocations and frees of rmap_items and stable nodes, with logSlab (else empty). */
  slabEvents(): SlabEvent[] {
    return this.system().ksm.slab.logged();
  }

  /** The simulated machine (after start). */
  system(): System {
    if (this.#sys === undefined) throw new StepError('The model backend was not started');
    return this.#sys;
  }

  /** The cost model and timer given, else those of the calibration set this machine reads. */
  #calibration(): { cost: CostModel; timer: TimerParams } {
    const set = this.#opts.cost === undefined || this.#opts.timer === undefined ? calibrationSet() : undefined;
    const cost = this.#opts.cost ?? calibratedCost(set);
    const scale = this.#opts.costScale ?? 1;
    return { cost: scale === 1 ? cost : scaledCost(cost, scale), timer: this.#opts.timer ?? calibratedTimer(set) };
  }

  async start(scenario: Scenario): Promise<void> {
    this.#ram = scenario.machine.ram;
    this.#sys = createSystem({
      ram: scenario.machine.ram,
      numaNodes: scenario.machine.numaNodes,
      mmForbidsZeropage: scenario.machine.mmForbidsZeropage ?? this.#opts.mmForbidsZeropage ?? false,
      seed: this.#opts.seed,
      ...this.#calibration(),
      checkCaches: this.#opts.checkCaches === true,
    });
    this.#sys.ksm.cpuNs = this.#opts.ksmdRuntimeNs ?? 0;
    if (this.#opts.traceBatches === true) this.#batches = recordKsmdBatches(this.#sys.ksm, this.#sys.ksmd);
    if (this.#opts.logSlab === true) this.#sys.ksm.slab.startLog();
    for (const [file, value] of scenario.ksm) {
      const err = sysfsWrite(this.#sys, `ksm/${file}`, value);
      if (err !== 0) throw new StepError(`Initial ksm.${file}: writing "${value}" failed with ${describeReturn(err)}`);
    }
  }

  #proc(name: string): Proc {
    const p = this.#procs.get(name);
    if (p === undefined) throw new StepError(`No process named "${name}"`);
    return p;
  }

  #region(proc: string, region: string): { p: Proc; r: Region } {
    const p = this.#proc(proc);
    const r = p.regions.get(region);
    if (r === undefined) throw new StepError(`Process "${proc}" has no region "${region}"`);
    return { p, r };
  }

  async spawn(proc: string, comm: string): Promise<void> {
    if (this.#procs.has(proc)) throw new StepError(`A process named "${proc}" already exists`);
    this.#procs.set(proc, { task: spawnTask(this.system().mmgr, comm), regions: new Map() });
  }

  async mmap(proc: string, region: string, size: number, shared: boolean, node: number | undefined): Promise<void> {
    const p = this.#proc(proc);
    const opts: { shared: boolean; node?: number } = { shared };
    if (node !== undefined) opts.node = node;
    const addr = doMmap(this.system().mmgr, p.task.mm, size, opts);
    if (addr < 0) throw new StepError(`mmap of ${size} bytes failed with ${mmapFailure(addr)}`);
    p.regions.set(region, { addr, size });
  }

  /**
   * Maps a private anonymous region at a fixed address (loading a snapshot, whose pages have
   * the addresses the real process had). Not a scenario step: scenarios never name addresses.
   */
  mmapAt(proc: string, region: string, addr: number, size: number): void {
    const p = this.#proc(proc);
    const got = doMmap(this.system().mmgr, p.task.mm, size, { addr });
    if (got < 0) throw new StepError(`mmap of ${size} bytes at 0x${addr.toString(16)} failed with ${mmapFailure(got)}`);
    p.regions.set(region, { addr, size });
  }

  /**
   * Stores the page at `addr` of `proc` with content `content` of the machine's
   * ContentStore (see internPage), as a write of its 4096 bytes would.
   */
  writePage(proc: string, addr: number, content: number): void {
    const p = this.#proc(proc);
    const mmgr = this.system().mmgr;
    const err = writeUserPage(mmgr, p.task.mm, addr, mmgr.contents.retain(content));
    if (err !== 0) throw this.#accessFailed(`write to ${proc} at 0x${addr.toString(16)}`, err);
  }

  /**
   * Maps the page at `srcAddr` of `srcProc` at `addr` of `proc` too, copy-on-write, as a
   * fork would have left it (shareAnonPage).
   */
  sharePage(proc: string, addr: number, srcProc: string, srcAddr: number): void {
    const mmgr = this.system().mmgr;
    if (shareAnonPage(mmgr, this.#proc(proc).task.mm, addr, this.#proc(srcProc).task.mm, srcAddr) !== 0) {
      throw new StepError(
        `cannot share the page at 0x${srcAddr.toString(16)} of ${srcProc} into ${proc} at 0x${addr.toString(16)}`,
      );
    }
  }

  /** A content id for these 4096 bytes, shared with any identical one; the caller owns a reference. */
  internPage(bytes: Uint8Array, offset: number): number {
    return this.system().mmgr.contents.intern(bytes, offset);
  }

  /** Drops a reference taken by internPage. */
  releasePage(content: number): void {
    this.system().mmgr.contents.release(content);
  }

  /** The scenario's names of the processes alive now, with their program names. */
  processes(): ReadonlyArray<{ readonly proc: string; readonly comm: string }> {
    return [...this.#procs].map(([proc, p]) => ({ proc, comm: p.task.comm }));
  }

  /**
   * Why a process's access failed: out of memory (the machine's RAM, and how to raise it),
   * or a fault.
   */
  #accessFailed(what: string, err: number): StepError {
    if (err !== -ENOMEM) return new StepError(`${what} faulted`);
    const ram = this.#ram;
    return new StepError(
      `${what} ran out of memory: every page frame of the model machine's ${formatBytes(ram)} of RAM is in use ` +
        `(machine.ram in the scenario; on Linux the OOM killer would act). Give it more, e.g. machine: { ram: ${roomier(ram)} }`,
    );
  }

  async fill(proc: string, region: string, pattern: Pattern, offset: number, size: number | undefined): Promise<void> {
    const { p, r } = this.#region(proc, region);
    const len = size ?? r.size - offset;
    const err = fillUser(this.system().mmgr, p.task.mm, r.addr + offset, len, pattern, r.addr);
    if (err !== 0) throw this.#accessFailed(`fill of ${proc}/${region}`, err);
  }

  async write(proc: string, region: string, offset: number, bytes: Uint8Array): Promise<void> {
    const { p, r } = this.#region(proc, region);
    const err = writeUser(this.system().mmgr, p.task.mm, r.addr + offset, bytes);
    if (err !== 0) throw this.#accessFailed(`write to ${proc}/${region}`, err);
  }

  async readSha256(proc: string, region: string, offset: number, size: number): Promise<string> {
    const { p, r } = this.#region(proc, region);
    const h = createHash('sha256');
    const err = readUser(this.system().mmgr, p.task.mm, r.addr + offset, size, (buf, off, n) =>
      h.update(buf.subarray(off, off + n)),
    );
    if (err !== 0) throw this.#accessFailed(`read of ${proc}/${region}`, err);
    return h.digest('hex');
  }

  async madvise(
    proc: string,
    region: string,
    advice: Advice,
    offset: number,
    size: number | undefined,
  ): Promise<number> {
    const { p, r } = this.#region(proc, region);
    const code =
      advice === 'MADV_MERGEABLE' ? MADV_MERGEABLE : advice === 'MADV_UNMERGEABLE' ? MADV_UNMERGEABLE : MADV_DONTNEED;
    return doMadvise(this.system().mmgr, p.task.mm, r.addr + offset, size ?? r.size - offset, code);
  }

  async prctl(proc: string, option: PrctlOption, arg: number): Promise<number> {
    const p = this.#proc(proc);
    const code = option === 'PR_SET_MEMORY_MERGE' ? PR_SET_MEMORY_MERGE : PR_GET_MEMORY_MERGE;
    return doPrctl(this.system().mmgr, p.task.mm, code, arg);
  }

  async fork(proc: string, child: string): Promise<void> {
    const p = this.#proc(proc);
    if (this.#procs.has(child)) throw new StepError(`A process named "${child}" already exists`);
    const task = forkTask(this.system().mmgr, p.task);
    this.#procs.set(child, { task, regions: new Map(p.regions) });
  }

  async exec(proc: string, comm: string): Promise<void> {
    const p = this.#proc(proc);
    execTask(this.system().mmgr, p.task, comm);
    p.regions = new Map();
  }

  async munmap(proc: string, region: string): Promise<void> {
    const { p, r } = this.#region(proc, region);
    doMunmap(this.system().mmgr, p.task.mm, r.addr, r.size);
    p.regions.delete(region);
  }

  async exit(proc: string): Promise<void> {
    const p = this.#proc(proc);
    exitTask(this.system().mmgr, p.task);
    this.#procs.delete(proc);
  }

  async sysfsWrite(path: string, value: string): Promise<number> {
    const at = parseScenarioPath(path);
    if (at?.kind === 'plus') return this.plusDaemon().write(at.file, value);
    return sysfsWrite(this.system(), path, value);
  }

  /**
   * The KSM+ daemon for stock kernels on this machine (`samepage plus`, src/policy/), started
   * by the first use of its control files; it samples with the backend's seed.
   */
  plusDaemon(): ModelPlusDaemon {
    this.#plus ??= new ModelPlusDaemon(this.system(), this.#opts.seed);
    return this.#plus;
  }

  async readPath(path: string): Promise<string | undefined> {
    const sys = this.system();
    const at = parseScenarioPath(path);
    if (at?.kind === 'sysfs') return sysfsRead(sys, at.file)?.trimEnd();
    if (at?.kind === 'plus') return this.plusDaemon().read(at.file)?.trimEnd();
    if (at?.kind === 'vmstat') {
      return at.field === undefined ? procVmstat(sys.mmgr).trimEnd() : String(ksmVmstat(sys.mmgr)[at.field]);
    }
    if (at === undefined) return undefined;
    const p = this.#procs.get(at.proc);
    if (p === undefined) return undefined;
    const rec = procRecord(p);
    const field = at.file;
    if (field === 'ksm_merging_pages') return String(rec.ksm_merging_pages);
    if (field === 'rss_pages') return String(rec.rss_pages);
    if (field === 'ksm_stat') return procKsmStat(p.task.mm).trimEnd();
    if (field.startsWith('ksm_stat/')) {
      const name = field.slice('ksm_stat/'.length);
      for (const line of procKsmStat(p.task.mm).split('\n')) {
        const [k, v] = line.split(/:?\s+/);
        if (k === name) return v;
      }
    }
    return undefined;
  }

  /**
   * Runs the machine until the wait is over, a slice of WAIT_SLICE events at a time when
   * progress is asked for: the slices change nothing the model computes, they only give
   * `onProgress` a word (and the command line a turn of its event loop) between them. A wait
   * that can never finish is refused before it starts (whyWaitCannotFinish).
   */
  async wait(
    unit: WaitUnit,
    count: number,
    onProgress?: (p: WaitProgress) => Promise<void> | void,
  ): Promise<string | undefined> {
    const sys = this.system();
    const why = whyWaitCannotFinish(sys, unit, count);
    if (why !== undefined) return why;
    // A sample at each end of the wait: the steps before it changed the counters at one instant.
    this.#sampler?.add(this.#sample(), true);
    this.#waitStartNs = sys.clock.now();
    if (this.#trace !== undefined) this.#traceEvent();
    const cpuBefore = sys.ksm.cpuNs;
    try {
      return await this.#run(sys, unit, count, onProgress);
    } finally {
      this.#ranNs += sys.ksm.cpuNs - cpuBefore;
      this.#sampler?.add(this.#sample(), true);
      this.#trace?.endWait((sys.clock.now() - this.#waitStartNs) / 1e6, unit !== 'ms');
    }
  }

  async #run(
    sys: System,
    unit: WaitUnit,
    count: number,
    onProgress?: (p: WaitProgress) => Promise<void> | void,
  ): Promise<string | undefined> {
    const start = sys.clock.now();
    const budget = onProgress === undefined ? Number.POSITIVE_INFINITY : WAIT_SLICE;
    const elapsedMs = (): number => (sys.clock.now() - start) / 1e6;
    if (unit !== 'ms') {
      const target = scanWaitCount(sys, unit) + count;
      for (;;) {
        const slice = runScanWaitSlice(sys, unit, target, budget, this.#onEvent);
        if (slice.state === 'stuck') return slice.reason;
        if (slice.state === 'done') return undefined;
        await onProgress?.({ done: count - (target - scanWaitCount(sys, unit)), elapsedMs: elapsedMs() });
      }
    }
    const end = start + count * 1e6;
    while (!runUntil(sys, end, budget, this.#onEvent))
      await onProgress?.({ done: elapsedMs(), elapsedMs: elapsedMs() });
    return undefined;
  }

  /**
   * When sampling, keeps a sample of the counters if one changed since the last: called
   * after every event of a wait, and by whatever runs the machine's events itself (a
   * policy settling).
   */
  sampleEvent(): void {
    if (this.#sampler === undefined || !this.#countersMoved()) return;
    this.#sampler.add(this.#sample());
  }

  /**
   * Whether a sampled counter may have changed since the last call: the files of a sample
   * are functions of these fields of KSM and of KSM+ (pages_volatile and general_profit of
   * rmap_items and the page counts), and Σ ksm_merging_pages is pages_shared + pages_sharing,
   * so reading a dozen numbers spares the attribute strings of every event that changed nothing.
   */
  #countersMoved(): boolean {
    const sys = this.system();
    // Unrolled: this runs after every event of a sampled wait.
    const ksm = this.#moved(0, sys.ksm);
    const plus = this.#moved(6, sys.ksmplus.engine);
    return ksm || plus;
  }

  /** Whether scanner `k`'s watched fields differ from those kept at `at`; keeps them. */
  #moved(
    at: number,
    k: Pick<System['ksm'], 'pagesShared' | 'pagesSharing' | 'pagesUnshared' | 'rmapItems' | 'zeroPages' | 'ksmScan'>,
  ): boolean {
    const last = this.#lastCounters;
    if (
      last[at] === k.pagesShared &&
      last[at + 1] === k.pagesSharing &&
      last[at + 2] === k.pagesUnshared &&
      last[at + 3] === k.rmapItems &&
      last[at + 4] === k.zeroPages &&
      last[at + 5] === k.ksmScan.seqnr
    )
      return false;
    last[at] = k.pagesShared;
    last[at + 1] = k.pagesSharing;
    last[at + 2] = k.pagesUnshared;
    last[at + 3] = k.rmapItems;
    last[at + 4] = k.zeroPages;
    last[at + 5] = k.ksmScan.seqnr;
    return true;
  }

  /** The samples so far, closed by one taken now; undefined when the backend does not sample. */
  async samples(): Promise<Samples | undefined> {
    if (this.#sampler === undefined || this.#sys === undefined) return undefined;
    this.#sampler.add(this.#sample(), true);
    return this.#sampler.result();
  }

  /** The charted counters now (SAMPLED_KSM_FILES and SAMPLED_KSMPLUS_FILES, merging pages, CPU). */
  #sample(label?: string): CounterSample {
    const sys = this.system();
    const read = (dir: string, files: readonly string[]): Record<string, number> => {
      const out: Record<string, number> = {};
      const group = sys.sysfs.get(dir);
      for (const f of files) {
        const attr = group?.get(f);
        if (attr !== undefined) out[f] = Number(attr.show());
      }
      return out;
    };
    const merging: Record<string, number> = {};
    for (const [name, p] of this.#procs) merging[name] = p.task.mm.ksmMergingPages;
    return {
      time_ms: sys.clock.nowMs(),
      ...(label === undefined ? {} : { label }),
      ksm: read('ksm', SAMPLED_KSM_FILES),
      ksmplus: read('ksm+', SAMPLED_KSMPLUS_FILES),
      merging,
      cpu_ms: { ksm: sys.ksm.cpuNs / 1e6, 'ksm+': sys.ksmplus.engine.cpuNs / 1e6 },
    };
  }

  async record(label: string): Promise<CounterRecord> {
    const sys = this.system();
    const ksm: Record<string, number | string> = {};
    for (const [name, attr] of [...sys.sysfs.get('ksm')!.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const text = attr.show().trimEnd();
      // advisor_mode as its selected word; numbers as numbers where exact, else their text.
      ksm[name] = normalizeActual(text) ?? text;
    }
    const procs: Record<string, ProcRecord> = {};
    for (const [name, p] of this.#procs) procs[name] = procRecord(p);
    const ksmplus: Record<string, number | string> = {};
    for (const [name, attr] of [...sys.sysfs.get('ksm+')!.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const text = attr.show().trimEnd();
      ksmplus[name] =
        name === 'processes_to_scan'
          ? text
              .split('\n')
              .filter((l) => l !== '')
              .join(' ')
          : Number(text);
    }
    this.#sampler?.add(this.#sample(label), true);
    this.#trace?.record();
    const plus = this.#plus === undefined ? undefined : plusRecord(this.#plus);
    return {
      label,
      time_ms: sys.clock.nowMs(),
      ksm,
      procs,
      ksmplus,
      vmstat: ksmVmstat(sys.mmgr),
      attribution: this.attributionRecord(),
      ...(plus === undefined ? {} : { plus }),
    };
  }

  /** Who saves what among the scenario's processes (src/attribution), by scenario name. */
  attributionRecord(): AttributionRecord {
    const named = [...this.#procs];
    const a = attribute(
      modelObservation(
        this.system(),
        named.map(([, p]) => p.task),
      ),
    );
    return attributionRecord(
      a,
      named.map(([name]) => name),
    );
  }

  timeMs(): number {
    return this.#sys?.clock.nowMs() ?? 0;
  }

  async stop(): Promise<void> {
    /* nothing to undo: the machine is virtual */
  }
}

/** Every file of the daemon's directory: numbers as numbers, lists as their entries separated by spaces. */
function plusRecord(d: ModelPlusDaemon): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const name of PLUS_FILE_NAMES) {
    const text = d.read(name) ?? '';
    out[name] = (PLUS_LIST_FILES as readonly string[]).includes(name)
      ? text
          .split('\n')
          .filter((l) => l !== '')
          .join(' ')
      : Number(text.trim());
  }
  return out;
}

/** Present, normal pages mapped in a process's scenario regions (the zero page excluded). */
function rssPages(mm: MmStruct, regions: Iterable<Region>): number {
  let n = 0;
  for (const r of regions) {
    const end = (r.addr + r.size) / PAGE_SIZE;
    for (
      let vpn = mm.pgtable.nextPresent(r.addr / PAGE_SIZE, end);
      vpn >= 0;
      vpn = mm.pgtable.nextPresent(vpn + 1, end)
    ) {
      const f = mm.pgtable.flags(vpn);
      if ((f & _PAGE_PRESENT) !== 0 && (f & _PAGE_SPECIAL) === 0) n++;
    }
  }
  return n;
}

function procRecord(p: Proc): ProcRecord {
  const mm = p.task.mm;
  return {
    ksm_rmap_items: mm.ksmRmapItems,
    ksm_zero_pages: mm.ksmZeroPages,
    ksm_merging_pages: mm.ksmMergingPages,
    ksm_process_profit: ksmProcessProfit(mm),
    ksm_merge_any: (mm.flags & MMF_VM_MERGE_ANY) !== 0,
    ksm_mergeable: mm.vmas.some((v) => (v.vmFlags & VM_MERGEABLE) !== 0),
    rss_pages: rssPages(mm, p.regions.values()),
  };
}

/** The errno of a failed mmap, with what it means when known. */
function mmapFailure(err: number): string {
  if (err === -ENOMEM) return "ENOMEM (no gap that large in the process's address space)";
  return describeReturn(err);
}

/** Twice `ram`, as a scenario would write it. */
function roomier(ram: number): string {
  const doubled = 2 * ram;
  return doubled % 2 ** 30 === 0 ? `${doubled / 2 ** 30}GiB` : `${Math.ceil(doubled / 2 ** 20)}MiB`;
}

export function createModelBackend(opts: ModelBackendOptions): ModelBackend {
  return new ModelBackend(opts);
}
