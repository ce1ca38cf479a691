/**
 * Everything the kernel backend must undo, whatever happens: the saved KSM knobs, other
 * /sys/kernel/mm files a scenario wrote, the agents, and the lock that keeps two samepage
 * runs from sharing the global KSM. Cleanup is synchronous, so it also works from a signal
 * handler or the process's `exit` event.
 */
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { restoreKsm, restorableValue, saveKsm, writeSysfs, type SavedFile } from './sysfs.ts';
import { isAlive, readComm } from './procfs.ts';
import { BackendUnavailable } from './errors.ts';

const LOCK_PATH = existsSync('/run/lock') ? '/run/lock/samepage-ksm.lock' : '/tmp/samepage-ksm.lock';

export interface GuardHooks {
  /** SIGKILLs every agent still alive; must be synchronous. */
  readonly killAgents: () => void;
  readonly onWarning: (message: string) => void;
}

export class MachineGuard {
  readonly #hooks: GuardHooks;
  #saved: SavedFile[] = [];
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

  /** Takes the cross-process lock, or says which samepage run holds it. */
  lock(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(LOCK_PATH, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.#locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number.parseInt(readFileSync(LOCK_PATH, 'utf8'), 10);
      if (Number.isInteger(holder) && isAlive(holder)) {
        throw new BackendUnavailable(
          `Another samepage kernel run (pid ${holder}, ${readComm(holder) ?? '?'}) is using KSM; ` +
            `its counters are global, so runs cannot overlap (lock ${LOCK_PATH})`,
        );
      }
      unlinkSync(LOCK_PATH); // left by a run that died without cleaning up
    }
    throw new BackendUnavailable(`Cannot take the lock ${LOCK_PATH}`);
  }

  /** Saves every writable KSM file and arms the cleanup handlers. */
  arm(installHandlers: boolean): void {
    this.#saved = saveKsm();
    this.#active = true;
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
    try {
      this.#others.set(path, { path, value: restorableValue(readFileSync(path, 'utf8')) });
    } catch {
      // Unreadable: nothing we could put back.
    }
  }

  /** Restores sysfs and drops the lock and handlers; idempotent. */
  release(): void {
    if (this.#active) {
      this.#active = false;
      const problems = restoreKsm(this.#saved);
      for (const s of this.#others.values()) {
        const now = readFileSync(s.path, 'utf8');
        if (restorableValue(now) === s.value) continue;
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
      try {
        unlinkSync(LOCK_PATH);
      } catch {
        // Already gone.
      }
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
