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
import { lockKsm, unlockKsm } from './ksm_lock.ts';
import { KSM_DIR, writableKsmFiles } from './ksm_sysfs.ts';
import { LiveChanges } from './live_changes.ts';
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
   * ksmd on one CPU, and arms the cleanup handlers.
   */
  arm(installHandlers: boolean): void {
    const changes = LiveChanges.open({ onRecovered: this.#recovered, onWarning: this.#hooks.onWarning });
    this.#changes = changes;
    changes.track(writableKsmFiles().map((f) => join(KSM_DIR, f)));
    const why = changes.pinKsmd();
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
    if (this.#changes === undefined) throw new Error('The machine guard is not armed: no live write before arm()');
    return this.#changes.writeSysfs(path, value);
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
