/**
 * The live KSM+ daemon (`samepage plus`): the policy of src/policy/ driven on the machine's
 * clock against the live machine (plus_host.ts), its madvise calls made by the targets
 * themselves through the injector (plus_injector.ts), its control directory and socket
 * (plus_control.ts), and everything it changes given back when it stops.
 *
 * Every change it makes to the machine (a KSM knob, a mark) is journaled first
 * (live_changes.ts, docs/crash-safety.md): if the daemon is SIGKILLed or crashes, its
 * watchdog gives the marks back and puts the knobs back, as the daemon itself does when it
 * stops.
 *
 * It holds samepage's KSM lock for its whole life, so `samepage kernel exec|enable` and the
 * kernel backend refuse to run beside it. It writes KSM's knobs only when asked (`--run`
 * sets run=1; `--ksm-set` others) and puts them back when it stops. Stopping (SIGINT,
 * SIGTERM, SIGHUP, `stop()`, or an error) gives back every range it marked, unless told to
 * leave them, then restores the knobs, then removes its files and drops the lock.
 */
import { join } from 'node:path';
import { describeErrno } from '../lib/errno.ts';
import { Prng } from '../lib/prng.ts';
import type { ActionOutcome, PlusAction, PlusEvent } from '../policy/actions.ts';
import { controlFiles, type ControlFile, type MachineFigures } from '../policy/control.ts';
import { PlusEngine } from '../policy/engine.ts';
import { knobSpec, type PlusKnobName } from '../policy/knobs.ts';
import { checkCgroup, checkName } from '../policy/selection.ts';
import { pauseUs, policyStatus, type PolicyStatus } from '../policy/status.ts';
import { lockKsm, unlockKsm } from './ksm_lock.ts';
import { KSM_DIR, ksmStoppedNote, readSysfs, restorableValue } from './ksm_sysfs.ts';
import { LiveChanges, type LiveChangesOptions } from './live_changes.ts';
import { ControlDirectory, type PlusRequest, type PlusResponse } from './plus_control.ts';
import { LivePlusHost } from './plus_host.ts';
import { describeRecovery } from './recover.ts';
import { JournaledInjector, type PlusInjector } from './plus_injector.ts';

/** How often the machine's processes are looked at: a new one is picked up within this. */
export const POLL_MS = 500;

export interface LiveDaemonOptions {
  readonly names: readonly string[];
  readonly pids: readonly number[];
  readonly cgroups: readonly string[];
  /** Knobs of the daemon (its config file and --set), written before it starts. */
  readonly knobs: Readonly<Partial<Record<PlusKnobName, number>>>;
  /** KSM knobs to hold while the daemon runs (--run gives run=1), put back when it stops. */
  readonly ksm: Readonly<Record<string, string>>;
  /** Leave the marked ranges marked when stopping (their pages stay merged, ksmd keeps scanning them). */
  readonly keepMarked: boolean;
  readonly dir?: string;
  readonly socket?: string;
  readonly seed: number;
  /** How the journal of live changes is opened (tests: its directory); default /run/samepage. */
  readonly journal?: LiveChangesOptions;
  /** One line per decision and event, for people (stderr or the system journal). */
  readonly log: (line: string) => void;
  /** Wall-clock milliseconds (Date.now), injected so tests can see the log's times. */
  readonly now?: () => number;
}

/** The daemon's figures beside the policy's: its own cost and the kernel's profit. */
export interface LiveStatus {
  readonly daemon: {
    readonly pid: number;
    readonly uptime_s: number;
    /** Resident memory: all of it, and the part that is the policy's own data. */
    readonly rss_bytes: number;
    readonly policy_bytes: number;
    /** User and system CPU time since the daemon started. */
    readonly cpu_s: number;
    readonly injections: number;
    readonly pause_p50_us: number | null;
    readonly pause_p99_us: number | null;
    readonly pause_max_us: number | null;
  };
  readonly kernel: {
    readonly run: number;
    readonly pages_shared: number;
    readonly pages_sharing: number;
    readonly ksm_zero_pages: number;
    readonly general_profit: number;
  };
  /** general_profit less the daemon's whole resident memory. */
  readonly net_profit: number;
  readonly policy: PolicyStatus;
}

function ksmNumber(file: string): number {
  return Number(readSysfs(`${KSM_DIR}/${file}`)?.trim() ?? '0');
}

/** The daemon's resident memory in bytes (VmRSS of /proc/self/status). */
export function selfRss(): number {
  return process.memoryUsage.rss();
}

export class LivePlusDaemon {
  readonly engine: PlusEngine;
  readonly host: LivePlusHost;
  readonly #opts: LiveDaemonOptions;
  readonly #files: ControlFile[];
  readonly #control: ControlDirectory;
  readonly #now: () => number;
  readonly #started: number;
  readonly #cpu0: NodeJS.CpuUsage;
  /** The journal of the daemon's changes, from start() to the end of stop(). */
  #changes: LiveChanges | undefined;
  #injector: PlusInjector | undefined;
  #running = false;
  #stopping: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #lastPoll = Number.NEGATIVE_INFINITY;
  #lastRefresh = Number.NEGATIVE_INFINITY;
  readonly #pauses: number[] = [];
  #injections = 0;

  constructor(opts: LiveDaemonOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#started = this.#now();
    this.#cpu0 = process.cpuUsage();
    this.host = new LivePlusHost((pid) => pid === process.pid);
    this.engine = new PlusEngine(this.host, {
      prng: new Prng(opts.seed >>> 0),
      log: (e) => this.#logEvent(e),
      exclude: (pid) => pid === process.pid,
    });
    this.#files = controlFiles(this.engine, this.host, () => this.machine());
    this.#control = new ControlDirectory({
      ...(opts.dir === undefined ? {} : { dir: opts.dir }),
      ...(opts.socket === undefined ? {} : { socket: opts.socket }),
      files: this.#files,
      request: (r) => this.#request(r),
      onChange: () => this.#wake?.(),
      log: (m) => this.#line(m),
    });
  }

  /** The control directory in use. */
  get dir(): string {
    return this.#control.dir;
  }

  machine(): MachineFigures {
    return {
      pages_shared: ksmNumber('pages_shared'),
      pages_sharing: ksmNumber('pages_sharing'),
      general_profit: ksmNumber('general_profit'),
      daemon_rss: selfRss(),
    };
  }

  #line(message: string): void {
    const t = new Date(this.#now()).toISOString();
    this.#opts.log(`${t} ${message}`);
  }

  #logEvent(e: PlusEvent): void {
    const who = e.pid === undefined ? '' : ` pid ${e.pid} (${e.comm ?? '?'})`;
    const range =
      e.range === undefined
        ? ''
        : ` ${e.range[0].toString(16)}-${e.range[1].toString(16)} (${(e.range[1] - e.range[0]) / 4096} pages)`;
    this.#line(`${e.kind}${who}${range}: ${e.message}`);
  }

  /**
   * Takes the KSM lock, writes the KSM knobs asked for, selects the named processes, opens
   * the control directory and starts the loop. Throws, having undone what it did, when it
   * cannot (the lock is held, a knob write fails, the directory cannot be made).
   */
  async start(): Promise<void> {
    lockKsm();
    try {
      this.#changes = LiveChanges.open({
        command: 'samepage plus',
        onRecovered: (r) => this.#line(describeRecovery(r)),
        onWarning: (m) => this.#line(`warning: ${m}`),
        ...this.#opts.journal,
      });
      this.#injector = new JournaledInjector(this.#changes);
      for (const [knob, text] of Object.entries(this.#opts.knobs)) {
        if (text === undefined) continue;
        const r = this.engine.setKnob(knob as PlusKnobName, String(text));
        if (r !== 0)
          throw new Error(`${knob}=${text}: ${describeErrno(r)} (${knobSpec(knob)?.what ?? 'no such knob'})`);
      }
      for (const n of this.#opts.names) {
        const why = checkName(n);
        if (why !== undefined) throw new Error(why);
        this.engine.addName(n);
      }
      for (const c of this.#opts.cgroups) {
        const why = checkCgroup(c);
        if (why !== undefined) throw new Error(why);
        this.engine.addCgroup(c);
      }
      for (const pid of this.#opts.pids) {
        const info = this.host.process(pid);
        if (info === undefined) throw new Error(`no process ${pid} (or it is a kernel thread)`);
        this.engine.addPid({ pid, start: info.start });
      }
      for (const [file, value] of Object.entries(this.#opts.ksm)) this.#setKsm(file, value);
      if (this.engine.knobs.run === 0) this.engine.setKnob('run', '1');
      await this.#control.open();
    } catch (e) {
      this.#restoreChanges();
      this.#control.close();
      unlockKsm();
      throw e;
    }
    this.#running = true;
    const sel = this.engine.selection;
    this.#line(
      `started: pid ${process.pid}, names [${sel.names.join(', ')}], pids [${sel.pids.map((p) => p.pid).join(', ')}], ` +
        `cgroups [${sel.cgroups.join(', ')}], control files in ${this.#control.dir}`,
    );
    // A mistyped name (`plus stauts`) starts a daemon that waits for a program never coming:
    // say so at once. Names are the exact comm; a later process of the name is still picked up.
    const running = new Set(this.host.processes().map((p) => p.comm));
    for (const name of sel.names)
      if (!running.has(name))
        this.#line(`note: no process of comm "${name}" runs now; it is selected from when one starts`);
    const stopped = ksmStoppedNote('run is 1; --run holds it at 1 while the daemon runs');
    if (stopped !== undefined) this.#line(`note: ${stopped}`);
    this.#loop = this.#run().catch(async (e: unknown) => {
      this.#line(`error: ${e instanceof Error ? e.message : String(e)}; stopping`);
      await this.stop('an error');
    });
  }

  #setKsm(file: string, value: string): void {
    const path = `${KSM_DIR}/${file}`;
    const was = readSysfs(path);
    if (was === undefined) throw new Error(`${path} cannot be read`);
    const r = this.#changes!.writeSysfs(path, value);
    if (r !== 0) throw new Error(`writing ${value} to ${path} failed: ${describeErrno(r)}`);
    this.#line(`set ${path}: ${restorableValue(was)} -> ${restorableValue(readSysfs(path) ?? value)}`);
  }

  /**
   * Undoes what is left in the journal (the KSM knobs, any mark the policy did not give back)
   * as restore.ts rules: a value someone changed since is left alone. Then ends the journal.
   */
  #restoreChanges(): void {
    const changes = this.#changes;
    if (changes === undefined) return;
    this.#changes = undefined;
    this.#injector = undefined;
    for (const o of changes.restore()) this.#line(`${o.result}: ${o.detail}`);
    changes.close();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const now = this.#now();
      if (now - this.#lastPoll >= POLL_MS) {
        this.#lastPoll = now;
        this.engine.refreshProcesses();
      }
      await this.#apply(this.engine.step(now - this.#started));
      // The counter files at most once a second: each rewrite reads every process's ksm_stat.
      if (now - this.#lastRefresh >= 1000) {
        this.#lastRefresh = now;
        this.#control.refresh();
      }
      const knobs = this.engine.knobs;
      const pause = knobs.run === 1 ? Math.min(knobs.sleep_millisecs, POLL_MS) : POLL_MS;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pause);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Makes each action's calls in its process through the injector, and reports them to the policy. */
  async #apply(actions: readonly PlusAction[]): Promise<void> {
    for (const a of actions) {
      const outcome: ActionOutcome =
        this.#injector === undefined
          ? { kind: 'refused', why: 'the daemon has stopped', retry: false }
          : await this.#injector.madvise(a);
      if (outcome.kind === 'done' && outcome.pauseNs !== undefined) {
        this.#injections++;
        this.#pauses.push(outcome.pauseNs);
        if (this.#pauses.length > 4096) this.#pauses.shift();
        // Every stop of a target, for people and for bench/plus.ts.
        this.#line(
          `held pid ${a.pid} (${a.comm}) ${(outcome.pauseNs / 1000).toFixed(1)} us: ${a.kind} of ${a.ranges.length} range(s)`,
        );
      }
      this.engine.applied(a, outcome);
    }
  }

  #request(req: PlusRequest): PlusResponse {
    const bad = (errno: string, error: string): PlusResponse => ({ ok: false, errno, error });
    switch (req.cmd) {
      case 'list':
        return {
          ok: true,
          names: this.engine.selection.names,
          pids: this.engine.selection.pids.map((p) => p.pid),
          cgroups: this.engine.selection.cgroups,
        };
      case 'status':
        return { ok: true, status: this.status() };
      case 'set': {
        const f = this.#files.find((x) => x.name === req.knob);
        if (f?.store === undefined || knobSpec(req.knob) === undefined) return bad('ENOENT', `no knob "${req.knob}"`);
        const r = f.store(req.value);
        return r === 0 ? { ok: true } : bad(describeErrno(r), `${req.knob}=${req.value} refused`);
      }
      case 'add':
      case 'remove': {
        const add = req.cmd === 'add';
        // A removal of what is not selected is said, not ignored: a mistyped name would
        // otherwise look removed while the program it meant stays marked.
        const removed = (done: boolean, what: string): PlusResponse =>
          done ? { ok: true } : bad('ENOENT', `${what} is not selected (samepage plus list shows what is)`);
        if (req.name !== undefined) {
          const why = checkName(req.name);
          if (why !== undefined) return bad('EINVAL', why);
          if (!add) return removed(this.engine.removeName(req.name), `the program "${req.name}"`);
          this.engine.addName(req.name);
          return { ok: true };
        }
        if (req.cgroup !== undefined) {
          const why = checkCgroup(req.cgroup);
          if (why !== undefined) return bad('EINVAL', why);
          if (!add) return removed(this.engine.removeCgroup(req.cgroup), `the cgroup ${req.cgroup}`);
          this.engine.addCgroup(req.cgroup);
          return { ok: true };
        }
        if (req.pid !== undefined && Number.isSafeInteger(req.pid) && req.pid > 1) {
          if (!add) return removed(this.engine.removePid(req.pid), `process ${req.pid}`);
          const info = this.host.process(req.pid);
          if (info === undefined) return bad('ESRCH', `no process ${req.pid} (or it is a kernel thread)`);
          this.engine.addPid({ pid: req.pid, start: info.start });
          return { ok: true };
        }
        return bad('EINVAL', 'give a name, a pid (above 1) or a cgroup');
      }
      default:
        return bad('EINVAL', `unknown command ${JSON.stringify((req as { cmd?: unknown }).cmd)}`);
    }
  }

  status(): LiveStatus {
    const m = this.machine();
    const policy = policyStatus(this.engine, this.host);
    const cpu = process.cpuUsage(this.#cpu0);
    return {
      daemon: {
        pid: process.pid,
        uptime_s: (this.#now() - this.#started) / 1000,
        rss_bytes: m.daemon_rss,
        policy_bytes: policy.memory.policy_bytes,
        cpu_s: (cpu.user + cpu.system) / 1e6,
        injections: this.#injections,
        pause_p50_us: pauseUs(this.#pauses, 50),
        pause_p99_us: pauseUs(this.#pauses, 99),
        pause_max_us: pauseUs(this.#pauses, 100),
      },
      kernel: {
        run: ksmNumber('run'),
        pages_shared: m.pages_shared,
        pages_sharing: m.pages_sharing,
        ksm_zero_pages: ksmNumber('ksm_zero_pages'),
        general_profit: m.general_profit,
      },
      net_profit: m.general_profit - m.daemon_rss,
      policy,
    };
  }

  /**
   * Stops: the loop ends, every marked range is given back (unless keepMarked), the KSM knobs
   * are put back, the files and socket go and the lock is dropped. Idempotent.
   */
  stop(why: string): Promise<void> {
    this.#stopping ??= this.#stop(why);
    return this.#stopping;
  }

  async #stop(why: string): Promise<void> {
    this.#line(`stopping (${why})`);
    this.#running = false;
    this.#wake?.();
    await this.#loop?.catch(() => {});
    try {
      if (!this.#opts.keepMarked) {
        const actions = this.engine.releaseAll(`the daemon stopped (${why})`);
        await this.#apply(actions);
      } else {
        this.#line('leaving the marked ranges marked (--keep-marked)');
      }
    } finally {
      this.#restoreChanges();
      this.#control.close();
      this.host.close();
      unlockKsm();
      this.#line('stopped');
    }
  }

  /** Where a control file lives. */
  pathOf(file: string): string {
    return join(this.#control.dir, file);
  }
}
