/**
 * Everything a run that changes the live KSM must undo, whatever happens: the saved KSM
 * knobs, other /sys/kernel/mm files it wrote, ksmd's CPUs (ksmd_affinity.ts), its own
 * processes (a hook: the kernel backend's agents), and the samepage KSM lock (ksm_lock.ts)
 * that keeps two runs from sharing the global KSM. Cleanup is synchronous, so it also works
 * from a signal handler or the process's `exit` event.
 */
import { existsSync } from 'node:fs';
import { lockKsm, unlockKsm } from './ksm_lock.ts';
import { pinKsmd, restoreKsmd, type KsmdPin } from './ksmd_affinity.ts';
import { readSysfs, restoreKsm, restorableValue, saveKsm, writeSysfs, type SavedFile } from './ksm_sysfs.ts';

export interface GuardHooks {
  /** SIGKILLs every agent still alive; must be synchronous. */
  readonly killAgents: () => void;
  readonly onWarning: (message: string) => void;
}

export class MachineGuard {
  readonly #hooks: GuardHooks;
  #saved: SavedFile[] = [];
  #ksmdPin: KsmdPin | undefined;
  readonly #others = new Map<string, SavedFile>();
  #locked = false;
  #active = false;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.emergency();
    // Die of the same signal, as if we had not been listening.
    process.kill(process.pid, signal);
  };
  readonly #onExit = (): void => this.emergency();

  constructor(hooks: GuardHooks) {
    this.#hooks = hooks;
  }

  /** Takes the samepage KSM lock, or throws KsmLockHeld naming the run that holds it. */
  lock(): void {
    lockKsm();
    this.#locked = true;
  }

  /** Saves every writable KSM file, holds ksmd on one CPU, and arms the cleanup handlers. */
  arm(installHandlers: boolean): void {
    this.#saved = saveKsm();
    this.#active = true;
    const pin = pinKsmd();
    if (typeof pin === 'string') {
      this.#hooks.onWarning(
        `ksmd is not held on one CPU (${pin}): a merge may fail for a pass where the model's does not`,
      );
    } else {
      this.#ksmdPin = pin;
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

  /** Remembers a non-KSM /sys/kernel/mm file before its first write, to restore it. */
  rememberFile(path: string): void {
    if (this.#others.has(path) || !existsSync(path)) return;
    const text = readSysfs(path);
    // Unreadable: nothing we could put back.
    if (text !== undefined) this.#others.set(path, { path, value: restorableValue(text) });
  }

  /** Restores sysfs and drops the lock and handlers; idempotent. */
  release(): void {
    if (this.#active) {
      this.#active = false;
      const problems = restoreKsm(this.#saved);
      const ksmd = this.#ksmdPin === undefined ? undefined : restoreKsmd(this.#ksmdPin);
      this.#ksmdPin = undefined;
      if (ksmd !== undefined) problems.push(ksmd);
      for (const s of this.#others.values()) {
        const now = readSysfs(s.path);
        if (now !== undefined && restorableValue(now) === s.value) continue;
        const r = writeSysfs(s.path, s.value);
        if (r !== 0) problems.push(`${s.path}=${s.value} (errno ${-r})`);
      }
      if (problems.length > 0) this.#hooks.onWarning(`Could not restore ${problems.join(', ')}`);
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
