/**
 * Everything a run that changes the live KSM must undo, whatever happens: the KSM knobs,
 * other /sys/kernel/mm files it wrote, ksmd's CPUs (ksmd_affinity.ts), its own processes (a
 * hook: the kernel backend's agents), and the samepage KSM lock (ksm_lock.ts) that keeps two
 * runs from sharing the global KSM. Every change is journaled (live_changes.ts) before it is
 * made, so a SIGKILL is undone by the watchdog or the next samepage command; SIGINT, SIGTERM,
 * SIGHUP, an uncaught error and a normal end are undone here. Cleanup is synchronous, so it
 * also works from a signal handler or the process's `exit` event.
 */
import { join } from 'node:path';
import { describeErrno } from '../lib/errno.ts';
import { lockKsm, unlockKsm } from './ksm_lock.ts';
import { KSM_DIR, writableKsmFiles } from './ksm_sysfs.ts';
import { LiveChanges } from './live_changes.ts';
import type { TestPause } from './change_pause.ts';
import { describeRecovery, recoverJournals, type RecoveryReport } from './recover.ts';

export interface GuardHooks {
  /** SIGKILLs every agent still alive; must be synchronous. */
  readonly killAgents: () => void;
  readonly onWarning: (message: string) => void;
  /** Told each recovery of a dead samepage's changes made before this run changed anything; default a warning. */
  readonly onRecovered?: (report: RecoveryReport) => void;
}

export class MachineGuard {
  readonly #hooks: GuardHooks;
  #changes: LiveChanges | undefined;
  #locked = false;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.emergency();
    // Die of the same signal, as if we had not been listening.
    process.kill(process.pid, signal);
  };
  readonly #onExit = (): void => this.emergency();

  constructor(hooks: GuardHooks) {
    this.#hooks = hooks;
  }

  #recovered = (r: RecoveryReport): void =>
    this.#hooks.onRecovered === undefined ? this.#hooks.onWarning(describeRecovery(r)) : this.#hooks.onRecovered(r);

  /**
   * Takes the samepage KSM lock, or throws KsmLockHeld naming the run that holds it; then
   * undoes what dead samepage processes left changed, before this run looks at the machine
   * (its check for other KSM users, its saved originals).
   */
  lock(): void {
    lockKsm();
    this.#locked = true;
    for (const r of recoverJournals({ by: 'the next samepage run, before its own changes' })) this.#recovered(r);
  }

  /**
   * Opens the journal (recording every writable KSM file's value as the original), holds
   * ksmd on one CPU unless `pinKsmd` is false (a measurement of ksmd as users run it), and
   * arms the cleanup handlers.
   */
  arm(installHandlers: boolean, pinKsmd = true): void {
    const changes = LiveChanges.open({ onRecovered: this.#recovered, onWarning: this.#hooks.onWarning });
    this.#changes = changes;
    changes.track(writableKsmFiles().map((f) => join(KSM_DIR, f)));
    const why = pinKsmd ? changes.pinKsmd() : undefined;
    if (why !== undefined) {
      this.#hooks.onWarning(
        `ksmd is not held on one CPU (${why}): a merge may fail for a pass where the model's does not`,
      );
    }
    if (installHandlers) {
      process.on('SIGINT', this.#onSignal);
      process.on('SIGTERM', this.#onSignal);
      process.on('SIGHUP', this.#onSignal);
      process.on('exit', this.#onExit);
      // The monitor runs before Node crashes on an uncaught error, without changing that.
      process.on('uncaughtExceptionMonitor', this.#onExit);
    }
  }

  /** Writes a file under /sys/kernel/mm, journaled (its original saved before the first write); 0 or -errno. */
  writeSysfs(path: string, value: string): number {
    return this.#armed().writeSysfs(path, value);
  }

  /**
   * Journals values that another thread of this process will write to a file under
   * /sys/kernel/mm (the thread that holds ksmd), so that recovery restores them as
   * samepage's own; returns the test hook's state that thread must share, if it is set.
   */
  journalThreadWrites(path: string, values: readonly string[]): TestPause | undefined {
    const changes = this.#armed();
    for (const v of values) changes.journalWrite(path, v);
    return changes.testPause;
  }

  /**
   * Journals that the processes this run starts will put pages in KSM: the restore, this
   * run's own or a recoverer's after it died, reaps what they leave counted (journal.ts, ksm_items).
   */
  journalKsmItems(): void {
    this.#armed().journalKsmItems();
  }

  /** The journal of changes; throws before arm() or after release(): no live write then. */
  #armed(): LiveChanges {
    if (this.#changes === undefined) throw new Error('The machine guard is not armed: no live write before arm()');
    return this.#changes;
  }

  /** Restores sysfs and ksmd, closes the journal, drops the lock and handlers; idempotent. */
  release(): void {
    const changes = this.#changes;
    this.#changes = undefined;
    if (changes !== undefined) {
      const outcomes = changes.restore();
      const failed = outcomes.filter((o) => o.result === 'failed');
      const kept = outcomes.filter((o) => o.result === 'kept');
      if (failed.length > 0) this.#hooks.onWarning(`Could not restore ${failed.map((o) => o.detail).join(', ')}`);
      if (kept.length > 0) this.#hooks.onWarning(`Not restored: ${kept.map((o) => o.detail).join(', ')}`);
      changes.close();
    }
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    process.off('SIGHUP', this.#onSignal);
    process.off('exit', this.#onExit);
    process.off('uncaughtExceptionMonitor', this.#onExit);
    if (this.#locked) {
      this.#locked = false;
      unlockKsm();
    }
  }

  /** The synchronous last resort: kill the agents, then restore. */
  emergency(): void {
    try {
      this.#hooks.killAgents();
    } finally {
      this.release();
    }
  }
}

/** What a guarded run may ask of its MachineGuard. */
export interface GuardedKsmOptions {
  /**
   * Hold the samepage KSM lock for the whole run; default true. False where the run starts
   * a samepage that takes the lock itself (a daemon under test): its journal and this run's
   * each put back what they changed.
   */
  readonly lock?: boolean;
  /** Hold ksmd on one CPU, as samepage's kernel runs do; default true. */
  readonly pinKsmd?: boolean;
  /** Kills, synchronously, what the run started: on a signal or an error it goes before the restore. */
  readonly killChildren?: () => void;
  readonly onWarning: (message: string) => void;
}

/** Writes a file of /sys/kernel/mm/ksm (`run`, `pages_to_scan`...); throws naming the errno where Linux refuses. */
export type KsmSet = (file: string, value: string | number) => void;

/**
 * Runs `fn` with KSM changed only through a MachineGuard, for a script or a benchmark that
 * sets KSM's knobs itself: the samepage KSM lock is taken unless told not to (KsmLockHeld
 * where another run holds it), each write is journaled before it is made, and every KSM
 * file is put back (restoreKsm's order) when `fn` ends or throws, on SIGINT, SIGTERM or SIGHUP,
 * and by the journal's watchdog after a SIGKILL. `try { ... } finally { restoreKsm(saved) }`
 * covers the first two only: a Ctrl-C left the knobs changed.
 */
export async function withGuardedKsm<T>(opts: GuardedKsmOptions, fn: (set: KsmSet) => Promise<T>): Promise<T> {
  const kill = opts.killChildren ?? ((): void => undefined);
  const guard = new MachineGuard({ killAgents: kill, onWarning: opts.onWarning });
  try {
    if (opts.lock ?? true) guard.lock();
    guard.arm(true, opts.pinKsmd ?? true);
    return await fn((file, value) => {
      const path = join(KSM_DIR, file);
      const r = guard.writeSysfs(path, String(value));
      if (r !== 0) throw new Error(`writing ${value} to ${path} failed: ${describeErrno(r)}`);
    });
  } finally {
    guard.emergency(); // what it started killed first, then every file put back
  }
}
