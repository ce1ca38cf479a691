/**
 * Everything the kernel backend must undo, whatever happens: the saved KSM knobs, other
 * /sys/kernel/mm files a scenario wrote, ksmd's CPUs (ksmd_affinity.ts), the agents, and
 * the lock that keeps two samepage runs from sharing the global KSM. Cleanup is synchronous, so it also works from a signal
 * handler or the process's `exit` event.
 */
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { restoreKsm, restorableValue, saveKsm, writeSysfs, type SavedFile } from './ksm_sysfs.ts';
import { isAlive, readComm } from './ksm_stat.ts';
import { BackendUnavailable } from '../backends/kernel/errors.ts';
import { pinKsmd, restoreKsmd, type KsmdPin } from './ksmd_affinity.ts';

export const LOCK_DIR = existsSync('/run/lock') ? '/run/lock' : '/tmp';
const LOCK_PATH = `${LOCK_DIR}/samepage-ksm.lock`;

/**
 * A pid lock file: undefined when taken, else the live holder's pid. The file appears with
 * its content (written aside, then hard-linked into place), so a reader never sees it
 * empty; a lock whose holder died is taken over.
 */
export function tryLock(path: string): number | undefined {
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, path);
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== undefined && isAlive(holder)) return holder;
      // Left by a run that died without cleaning up; re-read so as not to drop a new holder's.
      if (readHolder(path) === holder) rmSync(path, { force: true });
    }
    return readHolder(path) ?? -1;
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Drops a lock this process holds (and only then). */
export function unlock(path: string): void {
  if (readHolder(path) === process.pid) rmSync(path, { force: true });
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Another samepage run holds the KSM lock: worth waiting for, unlike other refusals. */
export class LockHeld extends BackendUnavailable {}

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

  /** Takes the cross-process lock, or says which samepage run holds it. */
  lock(): void {
    const holder = tryLock(LOCK_PATH);
    if (holder !== undefined) {
      throw new LockHeld(
        `Another samepage kernel run (pid ${holder}, ${readComm(holder) ?? '?'}) is using KSM; ` +
          `its counters are global, so runs cannot overlap (lock ${LOCK_PATH})`,
      );
    }
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
      const ksmd = this.#ksmdPin === undefined ? undefined : restoreKsmd(this.#ksmdPin);
      this.#ksmdPin = undefined;
      if (ksmd !== undefined) problems.push(ksmd);
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
      unlock(LOCK_PATH);
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
