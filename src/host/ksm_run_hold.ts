/**
 * ksm/run held at 1 for a program's lifetime (`samepage kernel exec --run`): the samepage
 * KSM lock is taken (waiting for another run to finish), run is saved and set to 1, and
 * `restore` puts the saved value back and unlocks, also from the process's `exit` event as
 * a last resort. The saved value is written back as it was, without the run=2 a scenario's
 * cleanup does first: run=2 would unmerge every process on the machine, which the user did
 * not ask for, and only `run` was changed here.
 */
import { join } from 'node:path';
import { describeErrno } from '../lib/errno.ts';
import { type KsmLockHeld, takeKsmLock } from './ksm_lock.ts';
import { KSM_DIR, readSysfs, restorableValue, writeSysfs } from './ksm_sysfs.ts';

const RUN = join(KSM_DIR, 'run');

export interface RunHoldIo {
  /** Told once that another run holds the lock and this one waits. */
  readonly onWait: (why: KsmLockHeld) => void;
  /** Told that run was changed (from what), for the user. */
  readonly onSet: (was: string) => void;
  /** Told what could not be restored. */
  readonly warn: (message: string) => void;
}

export class RunHold {
  readonly #io: RunHoldIo;
  #saved: string | undefined;
  #release: (() => void) | undefined;
  readonly #onExit = (): void => this.restore();

  constructor(io: RunHoldIo) {
    this.#io = io;
  }

  /** Takes the lock and sets run=1; throws, with the reason, where it cannot (root needed). */
  async take(): Promise<void> {
    this.#release = await takeKsmLock(Number.POSITIVE_INFINITY, this.#io.onWait);
    const now = readSysfs(RUN);
    if (now === undefined) {
      this.restore();
      throw new Error(`Cannot read ${RUN}`);
    }
    this.#saved = restorableValue(now);
    process.on('exit', this.#onExit);
    if (this.#saved !== '1') {
      const r = writeSysfs(RUN, '1');
      if (r !== 0) {
        this.restore();
        throw new Error(`Cannot write 1 to ${RUN}: ${describeErrno(r)} (root needed)`);
      }
      this.#io.onSet(this.#saved);
    }
  }

  /** Puts run back and drops the lock; idempotent and synchronous. */
  restore(): void {
    process.off('exit', this.#onExit);
    const saved = this.#saved;
    this.#saved = undefined;
    if (saved !== undefined) {
      const now = readSysfs(RUN);
      if (now === undefined || restorableValue(now) !== saved) {
        const r = writeSysfs(RUN, saved);
        if (r !== 0) this.#io.warn(`Could not restore ${RUN}=${saved} (${describeErrno(r)})`);
      }
    }
    this.#release?.();
    this.#release = undefined;
  }
}
