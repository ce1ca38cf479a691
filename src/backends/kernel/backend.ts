/**
 * The kernel backend: a scenario on the live Linux kernel, with one real process (an agent,
 * native/agent.c) per scenario proc and the real /sys/kernel/mm/ksm. See "The kernel
 * backend" in docs/scenario-format.md for the rules this implements. Everything it reads or
 * writes of the machine goes through src/host/; the guard there journals every change before
 * it is made and undoes it on every exit path (a SIGKILL through its watchdog or the next
 * samepage command: docs/crash-safety.md).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describeErrno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/sizes.ts';
import { StepError, type Backend, type WaitProgress } from '../../scenario/backend.ts';
import { normalizeActual } from '../../scenario/expect.ts';
import type { CounterRecord, CounterSample, ProcRecord, Samples } from '../../scenario/records.ts';
import { SAMPLED_KSM_FILES, SampleRecorder } from '../../scenario/samples.ts';
import { type ScanTrace, ScanTraceRecorder } from '../../scenario/scan_trace.ts';
import type { Advice, Pattern, PrctlOption, Scenario, WaitUnit } from '../../scenario/types.ts';
import { Agent, defaultAgentPath, patternArgs } from './agent.ts';
import { waitBatches } from './batch_wait.ts';
import { waitFullScans } from './full_scan_wait.ts';
import { KsmdHolder } from './ksmd_holder.ts';
import { parseScenarioPath } from '../../scenario/paths.ts';
import { createSystem, sysfsRead } from '../../system.ts';
import { BackendUnavailable, LockHeld } from './errors.ts';
import { MachineGuard } from '../../host/ksm_guard.ts';
import { KsmLockHeld } from '../../host/ksm_lock.ts';
import {
  findKsmUsers,
  readKsmMergingPages,
  readKsmStat,
  readKsmVmstat,
  readProcessKsmStat,
} from '../../host/ksm_stat.ts';
import { KSM_VMSTAT_FIELDS } from '../../sysfs/proc_vmstat.ts';
import {
  checkKsmWritable,
  KSM_DIR,
  ksmFiles,
  ksmPresent,
  readSysfs,
  selectedWord,
  SYS_MM,
} from '../../host/ksm_sysfs.ts';
import { countPresentPages, ZeroPageFrames } from '../../host/pagemap.ts';
import { findKsmdPid } from '../../host/ksmd_affinity.ts';
import { type KsmdClock, KsmdMeter } from './ksmd_meter.ts';
import { LiveAttributionReader } from '../../host/ksm_attribution.ts';
import { attribute } from '../../attribution/attribute.ts';
import { type AttributionRecord, attributionRecord } from '../../attribution/record.ts';
import { KSM_WRITABLE_FILES } from '../../lib/ksm_files.ts';

export interface KernelBackendOptions {
  /** The agent binary; default native/build/samepage-agent of this package. */
  readonly agentPath?: string;
  /** Base wall-clock limit of a `wait full_scans`, scaled up with the work; default 60 s. */
  readonly waitTimeoutMs?: number;
  /** How often a wait polls full_scans; default 5 ms. */
  readonly pollMs?: number;
  /** Notes that do not fail a run (a wait overshot its boundary, a value not restored). */
  readonly onWarning?: (message: string) => void;
  /** Clean up on SIGINT/SIGTERM/SIGHUP, uncaught errors and exit; default true. */
  readonly installProcessHandlers?: boolean;
  /** How long start waits for another samepage kernel run to finish; default 0 (refuse). */
  readonly lockWaitMs?: number;
  /** Sample the charted counters as waits poll them (for a report; see samples()). */
  readonly samples?: boolean;
  /**
   * Trace full_scans over ksmd's time (scenario/scan_trace.ts), reading it every
   * TRACE_EVERY_MS of a timed wait: for the timed comparison (differential/timed.ts).
   */
  readonly traceScans?: boolean;
}

/**
 * How often a sampling backend (a report) reads the charted counters during a wait: often
 * enough to draw a scan's merging as it went, cheap (a dozen sysfs files and each process's
 * ksm_stat), and SampleRecorder keeps only the readings that changed something.
 */
const SAMPLE_EVERY_MS = 100;

/**
 * How often a tracing backend reads full_scans during a timed wait: a pass of the timing
 * family ends every 8 ms at the soonest (one batch a pass, HZ=250, sleep_millisecs 1), and
 * the timed comparison's window at its first record (0.5 s) is 25 ms. One read is a pread
 * of a sysfs file, some microseconds.
 */
const TRACE_EVERY_MS = 2;

const ADVICE: Readonly<Record<Advice, number>> = { MADV_MERGEABLE: 12, MADV_UNMERGEABLE: 13, MADV_DONTNEED: 4 };
const PRCTL: Readonly<Record<PrctlOption, number>> = { PR_SET_MEMORY_MERGE: 67, PR_GET_MEMORY_MERGE: 68 };
/** Linux never resets these, so records show their growth since start. */
const GROWTH_FILES = new Set(['pages_scanned', 'pages_skipped']);
const RUN_PATH = `${KSM_DIR}/run`;

/**
 * Linux 6.18's boot values of the writable files other than run, advisor_mode first (while
 * the advisor is scan-time, pages_to_scan refuses writes). Read from a freshly booted
 * model, whose attribute table shows exactly Linux's defaults, so the two backends start
 * from the same values by construction.
 */
function linuxDefaults(): Array<readonly [string, string]> {
  const sys = createSystem({ ram: 64 * PAGE_SIZE });
  const files = KSM_WRITABLE_FILES.filter((f) => f !== 'run' && f !== 'advisor_mode');
  return ['advisor_mode' as const, ...files].map((f) => [f, selectedWord(sysfsRead(sys, `ksm/${f}`) ?? '')] as const);
}

interface Region {
  readonly address: number;
  readonly size: number;
}

interface Proc {
  readonly agent: Agent;
  regions: Map<string, Region>;
}

/** The Backend, plus what tools and tests need to look at the real processes. */
export interface KernelBackend extends Backend {
  /** The pid of a live proc's agent. */
  pidOf(proc: string): number | undefined;
  /** This run's own processes: samepage's and its live agents' (what a measure of other work leaves out). */
  ownPids(): number[];
  /** The start address of a region in its proc. */
  regionAddress(proc: string, region: string): number | undefined;
  /** ksmd's clock over this run (see KsmdClock). */
  ksmdClock(): KsmdClock;
  /**
   * Whether this kernel's read faults allocate a page each instead of mapping the zero page
   * (mm_forbids_zeropage), as the run's agents found when they started; undefined where none
   * started or none could tell (pagemap hides PFNs).
   */
  mmForbidsZeropage(): boolean | undefined;
  /** full_scans over ksmd's time, when built with traceScans. */
  scanTrace(): ScanTrace | undefined;
  /**
   * Writes /sys/kernel/mm/ksm/FILE at once, journaled and restored with the rest, run
   * included (no scenario tracking of run): for measurements that drive ksmd themselves
   * (measure/timer.ts). 0 or -errno.
   */
  writeKsmNow(file: string, value: string): number;
}

export function createKernelBackend(opts: KernelBackendOptions = {}): KernelBackend {
  return new KernelBackendImpl(opts);
}

class KernelBackendImpl implements KernelBackend {
  readonly name = 'kernel' as const;
  readonly #agentPath: string;
  readonly #waitTimeoutMs: number;
  readonly #pollMs: number;
  readonly #warn: (message: string) => void;
  /** Which frames are the zero page, by /proc/kpageflags, where the agents found none (#rssPages). */
  readonly #zeroFrames: ZeroPageFrames;
  readonly #installHandlers: boolean;
  readonly #lockWaitMs: number;
  readonly #procs = new Map<string, Proc>();
  /** Kept for every record, as the exporter keeps one: smaps is read again only after a change. */
  readonly #attribution = new LiveAttributionReader();
  /** Every agent ever started, so none escapes cleanup (exited ones are simply dead). */
  readonly #agents: Agent[] = [];
  readonly #guard: MachineGuard;
  #agentExe = '';
  /** The scenario's view of ksm/run; the real file holds 0 outside waits. */
  #run = 0;
  /** The scenario's machine.mm_forbids_zeropage, until #checkReadFaults has compared it. */
  #namedReadFaults: boolean | undefined;
  #baseline = new Map<string, number>();
  #vmstatBase = new Map<string, number>();
  #startedAt: number | undefined;
  /** ksmd's clock over the run (none found until start()). */
  #ksmd = new KsmdMeter(undefined, () => []);
  #stopped = false;
  #ksmdHolder: KsmdHolder | undefined;
  /** A drain of the LRU batches failed once (no move_pages here): not tried again, warned once. */
  #drainFailed = false;
  readonly #sampler: SampleRecorder | undefined;
  readonly #trace: ScanTraceRecorder | undefined;

  constructor(opts: KernelBackendOptions) {
    this.#agentPath = opts.agentPath ?? defaultAgentPath();
    this.#waitTimeoutMs = opts.waitTimeoutMs ?? 60_000;
    this.#pollMs = opts.pollMs ?? 5;
    this.#warn = opts.onWarning ?? ((m) => process.stderr.write(`samepage: kernel backend: ${m}\n`));
    this.#zeroFrames = new ZeroPageFrames(this.#warn);
    this.#installHandlers = opts.installProcessHandlers ?? true;
    this.#lockWaitMs = opts.lockWaitMs ?? 0;
    this.#sampler = opts.samples === true ? new SampleRecorder('poll') : undefined;
    this.#trace = opts.traceScans === true ? new ScanTraceRecorder() : undefined;
    this.#guard = new MachineGuard({ killAgents: () => this.#killAllSync(), onWarning: this.#warn });
  }

  async start(scenario: Scenario): Promise<void> {
    if (this.#startedAt !== undefined || this.#stopped) throw new Error('The kernel backend was already started');
    this.#checkMachine();
    this.#namedReadFaults = scenario.machine.mmForbidsZeropage;
    const lockDeadline = performance.now() + this.#lockWaitMs;
    for (;;) {
      try {
        this.#guard.lock();
        break;
      } catch (err) {
        if (!(err instanceof KsmLockHeld)) throw err;
        if (performance.now() >= lockDeadline) throw new LockHeld(err.message);
        await sleep(100);
      }
    }
    try {
      const users = findKsmUsers(new Set([process.pid]));
      if (users.length > 0) {
        const list = users.map((u) => `${u.pid} (${u.comm}: ${u.why})`).join('; ');
        throw new BackendUnavailable(
          `Other processes already use KSM, whose counters are global: ${list}. ` +
            'Stop them or take them out of KSM (prctl PR_SET_MEMORY_MERGE 0, MADV_UNMERGEABLE) first',
        );
      }
      this.#guard.arm(this.#installHandlers);
      this.#guard.journalKsmItems();
    } catch (err) {
      this.#guard.release();
      throw err;
    }
    for (const f of GROWTH_FILES) this.#baseline.set(f, Number(readSysfs(`${KSM_DIR}/${f}`) ?? '0'));
    this.#ksmd = new KsmdMeter(findKsmdPid(), () => this.ownPids());
    this.#startedAt = performance.now();
    this.#realRun('2');
    this.#realRun('0');
    // The KSM events of /proc/vmstat count from here, after run=2's unmerging: no other
    // process uses KSM (checked above), so what they count from now on is this run's.
    this.#vmstatBase = readKsmVmstat(KSM_VMSTAT_FIELDS);
    // The contract: files the scenario does not set start at Linux 6.18's defaults, so a
    // machine an administrator tuned gives the same figures as a fresh one.
    this.#run = 0;
    for (const [file, value] of linuxDefaults()) {
      const r = await this.sysfsWrite(`ksm/${file}`, value);
      if (r !== 0) throw new StepError(`Resetting ksm.${file} to its default '${value}' failed: ${describeErrno(r)}`);
    }
    for (const [file, value] of scenario.ksm) {
      const r = await this.sysfsWrite(`ksm/${file}`, value);
      if (r !== 0) throw new StepError(`Setting ksm.${file} to '${value}' failed: ${describeErrno(r)}`);
    }
    // A thread takes some 50 ms to start: started now, it does so while the steps before
    // the first wait run.
    if (scenario.steps.some((s) => s.kind === 'wait' && s.unit !== 'ms')) this.#holder();
  }

  /** Refuses, with the reason and the fix, a machine the backend cannot use. */
  #checkMachine(): void {
    if (process.platform !== 'linux') throw new BackendUnavailable('The kernel backend needs Linux');
    if (process.getuid?.() !== 0) {
      throw new BackendUnavailable(
        "The kernel backend needs root: it writes /sys/kernel/mm/ksm and reads other processes' page tables",
      );
    }
    if (!ksmPresent()) {
      throw new BackendUnavailable(`This kernel has no KSM: ${KSM_DIR} is missing (CONFIG_KSM is off)`);
    }
    try {
      checkKsmWritable();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new BackendUnavailable(`${KSM_DIR} is not writable here (${code}), e.g. a read-only /sys in a container`);
    }
    if (!existsSync(this.#agentPath)) {
      throw new BackendUnavailable(
        `The samepage agent is missing at ${this.#agentPath}. Build it with \`node scripts/build-native.mjs\` ` +
          '(npm install runs it; it needs a C compiler such as gcc)',
      );
    }
    this.#agentExe = realpathSync(this.#agentPath);
  }

  async spawn(proc: string, comm: string): Promise<void> {
    if (this.#procs.has(proc)) throw new StepError(`Proc '${proc}' already exists`);
    const agent = await Agent.spawn(this.#agentExe, proc, comm);
    this.#agents.push(agent);
    this.#procs.set(proc, { agent, regions: new Map() });
    this.#checkReadFaults();
  }

  /**
   * Says once where the scenario's machine.mm_forbids_zeropage is not what this kernel does:
   * the kernel backend runs on the machine it has, so the model of that file faults otherwise.
   */
  #checkReadFaults(): void {
    const live = this.mmForbidsZeropage();
    if (this.#namedReadFaults === undefined || live === undefined || this.#namedReadFaults === live) return;
    this.#warn(
      `The scenario's machine.mm_forbids_zeropage is ${this.#namedReadFaults}, but this kernel's read faults ${live ? 'allocate a page each' : 'map the zero page'}: this run reads as this kernel does, and the model of the same file differs`,
    );
    this.#namedReadFaults = undefined;
  }

  async mmap(proc: string, region: string, size: number, shared: boolean, node: number | undefined): Promise<void> {
    const p = this.#proc(proc);
    if (p.regions.has(region)) throw new StepError(`Region '${region}' of proc '${proc}' already exists`);
    const reply = await p.agent.request(`mmap ${size} ${shared ? 1 : 0} ${node ?? -1}`);
    p.regions.set(region, { address: Number.parseInt(reply, 16), size });
  }

  async fill(proc: string, region: string, pattern: Pattern, offset: number, size: number | undefined): Promise<void> {
    const p = this.#proc(proc);
    const r = this.#region(p, proc, region);
    const len = this.#range(r, proc, region, offset, size);
    await p.agent.request(`fill ${r.address} ${offset} ${len} ${patternArgs(pattern)}`);
  }

  async write(proc: string, region: string, offset: number, bytes: Uint8Array): Promise<void> {
    const p = this.#proc(proc);
    const r = this.#region(p, proc, region);
    this.#range(r, proc, region, offset, bytes.length);
    if (bytes.length === 0) return;
    await p.agent.request(`write ${r.address + offset} ${Buffer.from(bytes).toString('hex')}`);
  }

  /**
   * The agent loads the bytes itself, as the scenario's process would (Agent.read), and
   * they are hashed here with node:crypto, which keeps SHA-256 out of hand-written C.
   */
  async readSha256(proc: string, region: string, offset: number, size: number): Promise<string> {
    const p = this.#proc(proc);
    const r = this.#region(p, proc, region);
    this.#range(r, proc, region, offset, size);
    const hash = createHash('sha256');
    await p.agent.read(r.address + offset, size, (bytes) => hash.update(bytes));
    return hash.digest('hex');
  }

  async madvise(
    proc: string,
    region: string,
    advice: Advice,
    offset: number,
    size: number | undefined,
  ): Promise<number> {
    const p = this.#proc(proc);
    const r = this.#region(p, proc, region);
    const len = this.#range(r, proc, region, offset, size);
    return p.agent.requestNumber(`madvise ${r.address + offset} ${len} ${ADVICE[advice]}`);
  }

  async prctl(proc: string, option: PrctlOption, arg: number): Promise<number> {
    return this.#proc(proc).agent.requestNumber(`prctl ${PRCTL[option]} ${arg}`);
  }

  async fork(proc: string, child: string): Promise<void> {
    const p = this.#proc(proc);
    if (this.#procs.has(child)) throw new StepError(`Proc '${child}' already exists`);
    const agent = await p.agent.fork(child);
    this.#agents.push(agent);
    this.#procs.set(child, { agent, regions: new Map(p.regions) });
  }

  async exec(proc: string, comm: string): Promise<void> {
    const p = this.#proc(proc);
    await p.agent.exec(comm);
    p.regions = new Map();
  }

  async munmap(proc: string, region: string): Promise<void> {
    const p = this.#proc(proc);
    const r = this.#region(p, proc, region);
    const ret = await p.agent.requestNumber(`munmap ${r.address} ${r.size}`);
    if (ret !== 0) throw new StepError(`munmap of region '${region}' of proc '${proc}' failed: ${describeErrno(ret)}`);
    p.regions.delete(region);
  }

  async exit(proc: string): Promise<void> {
    const p = this.#proc(proc);
    await p.agent.exit();
    this.#procs.delete(proc);
  }

  /**
   * Real writes, except to ksm/run: ksmd stays held at 0 outside waits, so the scenario's
   * value is only tracked, and applied during waits. run=2 is the exception, since it
   * unmerges at once: it is really written, then run goes back to 0.
   */
  async sysfsWrite(path: string, value: string): Promise<number> {
    if (parseScenarioPath(path)?.kind === 'plus') {
      throw new StepError(
        `${path}: the KSM+ daemon's files are the model's in a scenario; on this machine run the daemon itself (samepage plus)`,
      );
    }
    const full = sysPath(path);
    if (full === RUN_PATH) return this.#writeRun(value);
    return this.#guard.writeSysfs(full, value);
  }

  writeKsmNow(file: string, value: string): number {
    return this.#guard.writeSysfs(sysPath(`ksm/${file}`), value);
  }

  #writeRun(value: string): number {
    // The kernel parses run with kstrtouint(base 10) and rejects values above 2.
    const m = /^\+?(\d+)\n?$/.exec(value);
    const v = m?.[1] === undefined ? Number.NaN : Number(m[1]);
    if (!(v <= 2)) {
      // Let the kernel judge what we do not parse: it rejects it without a change.
      const r = this.#guard.writeSysfs(RUN_PATH, value);
      if (r === 0) {
        this.#run = Number(readSysfs(RUN_PATH) ?? '0');
        this.#realRun('0');
      }
      return r;
    }
    if (v === 2 && this.#run !== 2) {
      const r = this.#guard.writeSysfs(RUN_PATH, '2');
      this.#realRun('0');
      if (r !== 0) {
        this.#run = 0; // run_store leaves ksm_run at 0 when unmerging fails
        return r;
      }
    }
    this.#run = v;
    return 0;
  }

  #realRun(value: '0' | '1' | '2'): void {
    const r = this.#guard.writeSysfs(RUN_PATH, value);
    if (r !== 0) throw new StepError(`Writing ${value} to ${RUN_PATH} failed: ${describeErrno(r)}`);
  }

  async readPath(path: string): Promise<string | undefined> {
    const at = parseScenarioPath(path);
    if (at?.kind === 'proc') return this.#readProcFile(at.proc, at.file);
    // The KSM+ daemon's files are the model's in a scenario (a live daemon's are not the run's).
    if (at?.kind === 'plus') return undefined;
    if (at?.kind === 'vmstat') {
      const v = this.#vmstat();
      return at.field === undefined
        ? Object.entries(v)
            .map(([f, n]) => `${f} ${n}`)
            .join('\n')
        : v[at.field] === undefined
          ? undefined
          : String(v[at.field]);
    }
    const full = sysPath(path);
    if (full.startsWith(`${KSM_DIR}/`)) {
      const v = this.#ksmValue(full.slice(KSM_DIR.length + 1));
      return v === undefined ? undefined : String(v);
    }
    return readSysfs(full)?.trim();
  }

  /** A KSM file as the scenario sees it: run as tracked, growth counters since start. */
  #ksmValue(file: string): number | string | undefined {
    if (file.includes('/')) return undefined;
    if (file === 'run') return this.#run;
    const text = readSysfs(`${KSM_DIR}/${file}`);
    if (text === undefined) return undefined;
    if (file === 'advisor_mode') return selectedWord(text);
    // Numbers as numbers where exact; an unsigned long beyond 2^53 stays its exact text.
    const value = normalizeActual(text) ?? text.trim();
    const base = this.#baseline.get(file);
    return base !== undefined && typeof value === 'number' ? value - base : value;
  }

  /** A proc's file as the scenario names it: ksm_stat/<field>, ksm_merging_pages or rss_pages. */
  #readProcFile(proc: string, file: string): string | undefined {
    const m = /^(?:ksm_stat\/(\w+)|ksm_merging_pages|rss_pages)$/.exec(file);
    const p = this.#procs.get(proc);
    if (m === null || p === undefined || !p.agent.alive()) return undefined;
    if (file === 'rss_pages') return String(this.#rssPages(p));
    if (file === 'ksm_merging_pages') return readKsmMergingPages(p.agent.pid);
    return m[1] === undefined ? undefined : readKsmStat(p.agent.pid)?.get(m[1]);
  }

  /**
   * Present pages of the scenario's regions, the shared zero page not counted: the frame
   * the agent found a read fault to map, or, where it found none (a kernel whose read
   * faults allocate, such as one booted with pvm_no_zero_page=1, still maps the zero page
   * for KSM's use_zero_pages), the frames /proc/kpageflags calls the zero page.
   */
  #rssPages(p: Proc): number {
    const zeroPfn = p.agent.zeroPfn;
    const isZero = zeroPfn !== 0 ? (pfn: number) => pfn === zeroPfn : (pfn: number) => this.#zeroFrames.isZeroPage(pfn);
    let n = 0;
    for (const r of p.regions.values()) n += countPresentPages(p.agent.pid, r.address, r.size, isZero);
    return n;
  }

  async wait(
    unit: WaitUnit,
    count: number,
    onProgress?: (p: WaitProgress) => Promise<void> | void,
  ): Promise<string | undefined> {
    // Timed waits are compared within a tolerance only, and their cadence is left as it was.
    if (unit !== 'ms') await this.#drainLruBatches();
    // A sample at each end of the wait: the steps between waits change the counters at once.
    this.#sampler?.add(this.#sample(), true);
    try {
      if (unit === 'ms') {
        await this.#waitMs(count, onProgress);
        return undefined;
      }
      const clock = this.#ksmd.startWait();
      try {
        return unit === 'batches'
          ? await this.#waitBatches(count, onProgress)
          : await this.#waitFullScans(count, onProgress);
      } finally {
        this.#trace?.endWait(performance.now() - clock.begin, true);
        clock.end();
      }
    } finally {
      this.#sampler?.add(this.#sample(), true);
    }
  }

  /**
   * Puts the pages the steps faulted on the LRU, as the model has them, before ksmd runs:
   * Linux holds a new page in its CPU's LRU batch, with a reference, until that CPU drains,
   * and ksmd does not merge a page with a reference it cannot account for. ksmd drains every
   * CPU as a full scan starts, so a wait that begins at a full-scan boundary needs nothing
   * (the drain here changes nothing then); after `wait: { batches }` the scan goes on
   * without that drain. One live agent drains every CPU (move_pages of no page:
   * lru_cache_disable).
   */
  async #drainLruBatches(): Promise<void> {
    const agent = this.#agents.find((a) => a.alive());
    if (agent === undefined || this.#drainFailed) return;
    const r = await agent.requestNumber('drain');
    if (r === 0) return;
    this.#drainFailed = true;
    this.#warn(
      `Draining the LRU batches failed (move_pages: ${describeErrno(r)}): ksmd may fail to merge a page a step faulted until its next full scan starts, where the model merges it`,
    );
  }

  /** `wait: { ms }`: ksmd runs (if `run` is 1) for that much wall-clock time. */
  async #waitMs(ms: number, onProgress?: (p: WaitProgress) => Promise<void> | void): Promise<void> {
    const clock = this.#ksmd.startWait();
    const begin = clock.begin;
    const fullScansNow = (): number => Number(this.#ksmValue('full_scans') ?? 0);
    this.#trace?.see(0, fullScansNow());
    if (this.#run === 1) this.#realRun('1');
    try {
      // A second at a time (a timer takes at most 2^31 - 1 ms, and progress is told
      // between), SAMPLE_EVERY_MS when sampling; when tracing, full_scans is read every
      // TRACE_EVERY_MS and the rest done on the same rounds of `every` ms as without.
      const every = this.#sampler === undefined ? 1000 : SAMPLE_EVERY_MS;
      const step = this.#trace === undefined ? every : TRACE_EVERY_MS;
      let round = begin;
      for (let left = ms; left > 0; left = ms - (performance.now() - begin)) {
        await sleep(Math.min(left, step));
        const now = performance.now();
        this.#trace?.see(now - begin, fullScansNow());
        if (step === every || now - round >= every || now - begin >= ms) {
          round = now;
          this.#sampler?.add(this.#sample());
          await onProgress?.({ done: Math.min(now - begin, ms), elapsedMs: now - begin });
        }
      }
    } finally {
      this.#realRun('0');
      const end = performance.now();
      this.#trace?.see(end - begin, fullScansNow());
      this.#trace?.endWait(end - begin, false);
      clock.end();
    }
  }

  scanTrace(): ScanTrace | undefined {
    return this.#trace?.result();
  }

  ksmdClock(): KsmdClock {
    return this.#ksmd.clock();
  }

  mmForbidsZeropage(): boolean | undefined {
    const found = this.#agents.find((a) => a.readFaults !== 'unknown')?.readFaults;
    return found === undefined ? undefined : found === 'own';
  }

  /** `wait: { full_scans }` (full_scan_wait.ts), refused as the model refuses a wait that cannot finish. */
  async #waitFullScans(n: number, onProgress?: (p: WaitProgress) => Promise<void> | void): Promise<string | undefined> {
    const idle = this.#whyKsmdIdle(`${n} full scans can never complete`);
    if (idle !== undefined) return idle;
    let lastSample = performance.now();
    return waitFullScans(n, {
      hold: (target, timeoutMs) => this.#holder().fullScans(target, timeoutMs),
      onPoll: async ({ done, elapsedMs, scanEnded }) => {
        // At about each full scan's boundary, and every SAMPLE_EVERY_MS: the merging within
        // a scan is drawn as it went.
        const t = performance.now();
        if (this.#sampler !== undefined && (scanEnded || t - lastSample >= SAMPLE_EVERY_MS)) {
          this.#sampler.add(this.#sample());
          lastSample = t;
        }
        await onProgress?.({ done, elapsedMs });
      },
      warn: this.#warn,
      pollMs: this.#pollMs,
      timeoutMs: this.#fullScanTimeout(n),
    });
  }

  /** `wait: { batches }` (batch_wait.ts), refused as the model refuses a wait that cannot finish. */
  async #waitBatches(n: number, onProgress?: (p: WaitProgress) => Promise<void> | void): Promise<string | undefined> {
    const idle = this.#whyKsmdIdle(`${n} batches can never run`);
    if (idle !== undefined) return idle;
    if (this.#ksmValue('pages_to_scan') === 0) return `ksm/pages_to_scan is 0, so ksmd's batches scan nothing`;
    const sleepMs = Number(readSysfs(`${KSM_DIR}/sleep_millisecs`) ?? '20');
    return waitBatches(n, {
      sleepMs,
      hold: (timeoutMs) => this.#holder().batch(timeoutMs),
      onBatch: async (done, elapsedMs) => {
        this.#sampler?.add(this.#sample());
        await onProgress?.({ done, elapsedMs });
      },
      warn: this.#warn,
      pollMs: this.#pollMs,
      batchTimeoutMs: this.#waitTimeoutMs + 2 * sleepMs,
    });
  }

  /** Why ksmd cannot run in a wait (`so` ends the message), or undefined if it can. */
  #whyKsmdIdle(so: string): string | undefined {
    if (this.#run !== 1) return `ksmd is not running (run is ${this.#run}), so ${so}`;
    if (!this.#anyRegistered()) return `No process is registered with KSM (no mergeable area, no MERGE_ANY), so ${so}`;
    return undefined;
  }

  /** Whether some live proc has an mm KSM scans: mergeable areas, MERGE_ANY, or rmap_items. */
  #anyRegistered(): boolean {
    for (const p of this.#procs.values()) {
      const s = readKsmStat(p.agent.pid);
      if (s === undefined) continue;
      if (s.get('ksm_mergeable') === 'yes' || s.get('ksm_merge_any') === 'yes') return true;
      if (Number(s.get('ksm_rmap_items') ?? '0') > 0) return true;
    }
    return false;
  }

  /** Generous: each pass needs ceil(pages/pages_to_scan) batches, each followed by a sleep. */
  #fullScanTimeout(n: number): number {
    let pages = 0;
    for (const p of this.#procs.values()) for (const r of p.regions.values()) pages += r.size / PAGE_SIZE;
    const toScan = Math.max(1, Number(readSysfs(`${KSM_DIR}/pages_to_scan`) ?? '100'));
    const sleepMs = Number(readSysfs(`${KSM_DIR}/sleep_millisecs`) ?? '20');
    const perPass = (Math.ceil(pages / toScan) + 1) * (sleepMs + 5) + pages * 0.05;
    return this.#waitTimeoutMs + n * perPass * 2;
  }

  /** The samples so far, closed by one taken now; undefined when not sampling. */
  async samples(): Promise<Samples | undefined> {
    if (this.#sampler === undefined || this.#startedAt === undefined) return undefined;
    this.#sampler.add(this.#sample(), true);
    return this.#sampler.result();
  }

  /** The charted counters now: SAMPLED_KSM_FILES as records show them, each live proc's merging pages. */
  #sample(label?: string): CounterSample {
    const ksm: Record<string, number> = {};
    for (const f of SAMPLED_KSM_FILES) {
      const v = this.#ksmValue(f);
      if (typeof v === 'number') ksm[f] = v;
    }
    const merging: Record<string, number> = {};
    for (const [name, p] of this.#procs) {
      const m = p.agent.alive() ? Number(readKsmMergingPages(p.agent.pid)) : Number.NaN;
      if (Number.isFinite(m)) merging[name] = m;
    }
    return { time_ms: this.timeMs(), ...(label === undefined ? {} : { label }), ksm, merging };
  }

  async record(label: string): Promise<CounterRecord> {
    const ksm: Record<string, number | string> = {};
    for (const f of ksmFiles()) {
      const v = this.#ksmValue(f);
      if (v !== undefined) ksm[f] = v;
    }
    const procs: Record<string, ProcRecord> = {};
    for (const [name, p] of this.#procs) {
      const s = readProcessKsmStat(p.agent.pid);
      if (s === undefined || !p.agent.alive()) continue;
      const { pid: _pid, comm: _comm, ...stat } = s;
      procs[name] = { ...stat, rss_pages: this.#rssPages(p) };
    }
    this.#sampler?.add(this.#sample(label), true);
    this.#trace?.record();
    return {
      label,
      time_ms: this.timeMs(),
      ksm,
      procs,
      vmstat: this.#vmstat(),
      attribution: this.attributionRecord(),
    };
  }

  /** Who saves what among the agents (src/attribution), read from their page tables, by scenario name. */
  attributionRecord(): AttributionRecord {
    const named = [...this.#procs].filter(([, p]) => p.agent.alive());
    const obs = this.#attribution.read({ pids: named.map(([, p]) => p.agent.pid), onWarning: this.#warn });
    const nameOf = new Map(named.map(([name, p]) => [p.agent.pid, name]));
    return attributionRecord(
      attribute(obs),
      obs.processes.map((p) => nameOf.get(p.pid) ?? String(p.pid)),
    );
  }

  /** The KSM lines of /proc/vmstat since the run started. */
  #vmstat(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [f, v] of readKsmVmstat(KSM_VMSTAT_FIELDS)) out[f] = v - (this.#vmstatBase.get(f) ?? 0);
    return out;
  }

  timeMs(): number {
    return this.#startedAt === undefined ? 0 : performance.now() - this.#startedAt;
  }

  /** SIGTERM, a short grace, then SIGKILL; then sysfs is restored. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      const why = this.#ksmdHolder?.close();
      if (why !== undefined) this.#warn(why);
      const live = this.#agents.filter((a) => a.alive());
      for (const a of live) a.signal('SIGTERM', this.#agentExe);
      await Promise.all(live.map((a) => a.waitDead(300)));
      for (const a of live) a.signal('SIGKILL', this.#agentExe);
      const gone = await Promise.all(live.map((a) => a.waitDead(3000)));
      if (gone.includes(false)) this.#warn('Some agent processes did not die after SIGKILL');
      for (const a of this.#agents) a.close();
      this.#procs.clear();
    } finally {
      // The restore reaps what the agents left counted in KSM (journaled at start: ksm_items).
      this.#zeroFrames.close();
      this.#guard.release();
    }
  }

  ownPids(): number[] {
    return [process.pid, ...this.#agents.filter((a) => a.alive()).map((a) => a.pid)];
  }

  pidOf(proc: string): number | undefined {
    return this.#procs.get(proc)?.agent.pid;
  }

  regionAddress(proc: string, region: string): number | undefined {
    return this.#procs.get(proc)?.regions.get(region)?.address;
  }

  /**
   * The guard's last resort before it restores the machine: the holding thread writes no
   * more (it could otherwise hold ksmd after the restore), and every agent is killed. The
   * restore then reaps what they left in KSM once they are gone (restore.ts, reapKsmItems).
   */
  #killAllSync(): void {
    this.#stopHolderSync();
    for (const a of this.#agents) a.signal('SIGKILL', this.#agentExe);
  }

  /** The thread that holds ksmd at a wait's end (ksmd_holder.ts), started at the first wait that needs it. */
  #holder(): KsmdHolder {
    if (this.#stopped) throw new StepError('The kernel backend was stopped');
    if (this.#ksmdHolder === undefined) {
      // The thread writes run itself: journaled here first, so recovery knows both values as ours.
      const testPause = this.#guard.journalThreadWrites(RUN_PATH, ['1', '0']);
      this.#ksmdHolder = new KsmdHolder({
        pollMs: this.#pollMs,
        testPause,
        holdKsmd: () => this.#guard.writeSysfs(RUN_PATH, '0'),
      });
    }
    return this.#ksmdHolder;
  }

  #stopHolderSync(): void {
    const why = this.#ksmdHolder?.stopSync();
    if (why !== undefined) this.#warn(why);
  }

  #proc(proc: string): Proc {
    const p = this.#procs.get(proc);
    if (p === undefined) throw new StepError(`No proc '${proc}' (never spawned, or exited)`);
    return p;
  }

  #region(p: Proc, proc: string, region: string): Region {
    const r = p.regions.get(region);
    if (r === undefined) throw new StepError(`Proc '${proc}' has no region '${region}'`);
    return r;
  }

  /** The length of [offset, offset+size) after checking it lies inside the region. */
  #range(r: Region, proc: string, region: string, offset: number, size: number | undefined): number {
    const len = size ?? r.size - offset;
    if (offset < 0 || len < 0 || offset + len > r.size) {
      throw new StepError(`Range ${offset}+${len} is outside region '${region}' (${r.size} bytes) of proc '${proc}'`);
    }
    return len;
  }
}

/** `ksm/run`, `/sys/kernel/mm/ksm/run` -> the absolute path; nothing outside /sys/kernel/mm. */
function sysPath(path: string): string {
  const rel = path.startsWith(`${SYS_MM}/`) ? path.slice(SYS_MM.length + 1) : path.replace(/^\/+/, '');
  if (rel.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    throw new StepError(`Not a file under ${SYS_MM}: ${path}`);
  }
  return `${SYS_MM}/${rel}`;
}
