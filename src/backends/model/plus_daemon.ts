/**
 * The KSM+ daemon for stock kernels (`samepage plus`), run on a model machine: the same
 * policy (src/policy/) as the live daemon, driven on virtual time. Every sleep_millisecs it
 * looks for new processes of the selected programs, samples up to pages_to_scan pages, and
 * makes the madvise calls the policy asks for in the model's processes, as the live daemon's
 * injector makes them in real ones. ksmd (the model's KSM) then merges what was marked.
 *
 * Its CPU time is charged from the live daemon's measured costs (docs/ksmplus-live.md): a
 * page read and hashed, a pagemap lookup, a wake-up. It runs as a user process beside
 * ksmd, so it does not delay ksmd's batches.
 */
import { Prng } from '../../lib/prng.ts';
import { PAGE_SIZE } from '../../lib/sizes.ts';
import { MADV_MERGEABLE, MADV_UNMERGEABLE } from '../../mm/constants.ts';
import { doMadvise } from '../../mm/madvise.ts';
import type { PlusAction, PlusEvent } from '../../policy/actions.ts';
import { type ControlFile, controlFiles, type MachineFigures } from '../../policy/control.ts';
import { PlusEngine } from '../../policy/engine.ts';
import type { TimerHandle } from '../../sim/event_queue.ts';
import type { System } from '../../system.ts';
import { ModelPlusHost } from './plus_host.ts';

/**
 * Live costs of the daemon, nanoseconds of its CPU (docs/ksmplus-live.md, "Sampling pace and
 * the other defaults"; measured 2026-12-03 on Linux 6.18, x86-64). A wake-up is the idle
 * daemon's CPU per 100 ms sleep (`node dist/bench/plus.js pace`: 1.03-1.13 ms, its polls of
 * /proc and of its control files included). A lookup is the engine's alone against the live
 * host reader (`reader`) where samples are scattered, as they are from a coefficient of 50 %
 * down (0.63-0.67 us; 0.13-0.14 us where every page is sampled). A page read and hashed is
 * the least-squares fit, given those two, to the live daemon's CPU over 60 s on `pace`'s three
 * Table 5-2 runs (2.42 us; `reader` alone puts it at 1.65-1.72 us contiguous and 2.56-2.68 us
 * scattered, without what the daemon's process adds around the engine). These constants give
 * those runs' CPU within -6 % to +6 %; the earlier 1.6 us, 0.1 us and 0.2 ms charged under half.
 */
export const PLUS_COST = {
  /** Reading one page from /proc/PID/mem and hashing it (its index lookup included). */
  pageNs: 2400,
  /** One pagemap entry looked up (and kpageflags where the page is shared). */
  lookupNs: 600,
  /** Waking up for a batch, looking for new processes and refreshing the control files. */
  wakeNs: 1_100_000,
} as const;

export class ModelPlusDaemon {
  readonly engine: PlusEngine;
  readonly host: ModelPlusHost;
  readonly files: ReadonlyMap<string, ControlFile>;
  readonly #sys: System;
  #timer: TimerHandle | null = null;
  /** The daemon's CPU time so far (cost model), ns. */
  cpuNs = 0;
  /** Decisions, for --json and tests; a ring of the last few thousand. */
  readonly events: PlusEvent[] = [];

  constructor(sys: System, seed: number) {
    this.#sys = sys;
    this.host = new ModelPlusHost(sys);
    this.engine = new PlusEngine(this.host, {
      prng: new Prng(seed >>> 0),
      log: (e) => {
        this.events.push(e);
        if (this.events.length > 4096) this.events.shift();
      },
    });
    this.files = new Map(controlFiles(this.engine, this.host, () => this.machine()).map((f) => [f.name, f]));
  }

  /** The kernel's side of the counters, from the model's KSM; the daemon's memory is the policy's data. */
  machine(): MachineFigures {
    const ksm = this.#sys.ksm;
    return {
      pages_shared: ksm.pagesShared,
      pages_sharing: ksm.pagesSharing,
      general_profit: ksm.generalProfit(),
      daemon_rss: this.policyBytes(),
    };
  }

  policyBytes(): number {
    const m = this.engine.memory();
    return m.indexBytes + m.batchBytes + m.otherBytes;
  }

  /** A write to a control file: 0 or -errno (ENOENT for no such file, EACCES for a counter). */
  write(name: string, value: string): number {
    const f = this.files.get(name);
    if (f === undefined) return -2;
    if (f.store === undefined) return -13;
    if (value.length === 0) return 0;
    const r = f.store(value);
    this.#reschedule();
    return r;
  }

  read(name: string): string | undefined {
    return this.files.get(name)?.show();
  }

  /** Starts or stops the batch timer to match `run` (and carries out what run=2 or a removal queued). */
  #reschedule(): void {
    const knobs = this.engine.knobs;
    if (knobs.run === 1) {
      if (this.#timer === null) this.#at(this.#sys.clock.now());
      return;
    }
    this.#timer?.cancel();
    this.#timer = null;
    // Stopped: what the write queued (run=2, a removal) is still carried out at once.
    this.#apply(this.engine.step(this.#sys.clock.nowMs()));
  }

  #at(time: number): void {
    this.#timer = this.#sys.events.at(time, () => this.#batch());
  }

  #batch(): void {
    this.#timer = null;
    const before = this.engine.counters;
    const read0 = before.pages_scanned;
    const looked0 = before.pages_looked;
    this.engine.refreshProcesses();
    const actions = this.engine.step(this.#sys.clock.nowMs());
    const cost =
      PLUS_COST.wakeNs +
      (this.engine.counters.pages_scanned - read0) * PLUS_COST.pageNs +
      (this.engine.counters.pages_looked - looked0) * PLUS_COST.lookupNs;
    this.cpuNs += cost;
    this.#apply(actions);
    if (this.engine.knobs.run === 1) this.#at(this.#sys.clock.now() + cost + this.engine.knobs.sleep_millisecs * 1e6);
  }

  /** Makes each action's madvise calls in the model's process and reports them to the policy. */
  #apply(actions: readonly PlusAction[]): void {
    for (const a of actions) {
      const task = this.#sys.mmgr.tasks.get(a.pid);
      if (task === undefined || task.exited || String(task.pid) !== a.start) {
        this.engine.applied(a, { kind: 'refused', why: 'the process is gone', retry: false });
        continue;
      }
      const advice = a.kind === 'mark' ? MADV_MERGEABLE : MADV_UNMERGEABLE;
      const results = a.ranges.map(([s, e]) =>
        doMadvise(this.#sys.mmgr, task.mm, s * PAGE_SIZE, (e - s) * PAGE_SIZE, advice),
      );
      this.engine.applied(a, { kind: 'done', results, pauseNs: 0 });
    }
  }

  /** Stops the daemon: every range it marked is given back, as the live daemon does at exit. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#apply(this.engine.releaseAll('the daemon stopped'));
  }
}
