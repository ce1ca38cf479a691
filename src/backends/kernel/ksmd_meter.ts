/**
 * ksmd's clock over a kernel backend's run: its CPU time when the run started, and over the
 * waits (ksmd runs only inside them) the wall time, its run-queue wait, its own CPU and the
 * rest of the machine's. A timed comparison judges a run by it (differential/timed.ts): how
 * busy the machine was, and ksmd's CPU per page scanned.
 */
import { othersBusyMeter } from '../../host/others_busy.ts';
import { readSchedstat, type Schedstat } from '../../host/procfs.ts';

/**
 * ksmd's clock over a kernel run: its CPU time when the run started (the scan-time advisor's
 * first step counts it), and, over the waits (in milliseconds and for full scans alike: ksmd
 * runs only inside them), the wall time and how long ksmd was runnable but waiting for a CPU
 * (a busy machine delays its wake-ups, and a timed scenario's counters with them).
 */
export interface KsmdClock {
  readonly runtimeAtStartNs: number | undefined;
  readonly queuedNs: number;
  readonly waitedMs: number;
  /**
   * CPU time the rest of the machine used over the waits (every CPU's busy time less
   * ksmd's and this run's own processes': host/others_busy.ts), ms; undefined where
   * /proc/stat cannot be read. Work on another CPU slows ksmd down without delaying it.
   */
  readonly othersBusyMs: number | undefined;
  /**
   * ksmd's own CPU time over the waits (schedstat runtime), ns; undefined where it
   * could not be read. Against the pages it scanned meanwhile, the host's speed in this run.
   */
  readonly ranNs: number | undefined;
}

/** Counts ksmd's clock for one run; ksmd's pid undefined: every CPU figure undefined. */
export class KsmdMeter {
  readonly #pid: number | undefined;
  readonly #ownPids: () => number[];
  #clock: { -readonly [K in keyof KsmdClock]: KsmdClock[K] };

  /** `ownPids`: the run's own processes, whose CPU is not the others' (others_busy.ts). */
  constructor(pid: number | undefined, ownPids: () => number[]) {
    this.#pid = pid;
    this.#ownPids = ownPids;
    this.#clock = { runtimeAtStartNs: this.#stat()?.runtimeNs, queuedNs: 0, waitedMs: 0, othersBusyMs: 0, ranNs: 0 };
  }

  /** ksmd's schedstat now, if it can be read. */
  #stat(): Schedstat | undefined {
    return this.#pid === undefined ? undefined : readSchedstat(this.#pid);
  }

  /**
   * Starts a wait: `end` adds its wall time from `begin`, ksmd's run-queue wait and CPU, and
   * the others' CPU during it.
   */
  startWait(): { readonly begin: number; readonly end: () => void } {
    const before = this.#stat();
    const others = othersBusyMeter(this.#pid, this.#ownPids);
    const begin = performance.now();
    return { begin, end: () => this.#count(before, begin, others()) };
  }

  #count(before: Schedstat | undefined, begin: number, othersMs: number | undefined): void {
    const after = this.#stat();
    const c = this.#clock;
    c.waitedMs += performance.now() - begin;
    c.othersBusyMs = c.othersBusyMs === undefined || othersMs === undefined ? undefined : c.othersBusyMs + othersMs;
    if (before !== undefined && after !== undefined) c.queuedNs += after.waitNs - before.waitNs;
    c.ranNs =
      c.ranNs === undefined || before === undefined || after === undefined
        ? undefined
        : c.ranNs + after.runtimeNs - before.runtimeNs;
  }

  clock(): KsmdClock {
    return { ...this.#clock };
  }
}
