/**
 * ksm/run held at 1 for a program's lifetime (`samepage kernel exec --run`): the samepage
 * KSM lock is taken (waiting for another run to finish), run is journaled and set to 1, and
 * `restore` puts the original value back and unlocks, also from the process's `exit` event
 * as a last resort; if samepage is killed, the watchdog or the next samepage command does
 * (docs/crash-safety.md). The original is written back as it was, without the run=2 a
 * scenario's cleanup does first: run=2 would unmerge every process on the machine, which the
 * user did not ask for, and only `run` was changed here (restore.ts writes run alone then).
 */
import { join } from 'node:path';
import { describeErrno } from '../lib/errno.ts';
import { type KsmLockHeld, takeKsmLock } from './ksm_lock.ts';
import { KSM_DIR, readSysfs, restorableValue } from './ksm_sysfs.ts';
import { LiveChanges } from './live_changes.ts';
import { describeRecovery, type RecoveryReport } from './recover.ts';

const RUN = join(KSM_DIR, 'run');

export interface RunHoldIo {
  /** Told once that another run holds the lock and this one waits. */
  readonly onWait: (why: KsmLockHeld) => void;
  /** Told that run was changed (from what), for the user. */
  readonly onSet: (was: string) => void;
  /** Told what could not be restored. */
  readonly warn: (message: string) => void;
  /** Told each recovery of a dead samepage's changes made before run was saved; default warn. */
  readonly onRecovered?: (report: RecoveryReport) => void;
}

export class RunHold {
  readonly #io: RunHoldIo;
  #changes: LiveChanges | undefined;
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
    try {
      this.#changes = LiveChanges.open({
        onRecovered: this.#io.onRecovered ?? ((r) => this.#io.warn(describeRecovery(r))),
        onWarning: this.#io.warn,
      });
    } catch (err) {
      this.restore();
      throw err;
    }
    process.on('exit', this.#onExit);
    // Read again after recovery, which may have put back what a killed run left.
    const was = restorableValue(readSysfs(RUN) ?? now);
    this.#changes.track([RUN]);
    if (was !== '1') {
      const r = this.#changes.writeSysfs(RUN, '1');
      if (r !== 0) {
        this.restore();
        throw new Error(`Cannot write 1 to ${RUN}: ${describeErrno(r)} (root needed)`);
      }
      this.#io.onSet(was);
    }
  }

  /** Puts run back (unless someone else changed it since), closes the journal and drops the lock; idempotent and synchronous. */
  restore(): void {
    process.off('exit', this.#onExit);
    const changes = this.#changes;
    this.#changes = undefined;
    if (changes !== undefined) {
      for (const o of changes.restore()) {
        if (o.result === 'failed') this.#io.warn(`Could not restore ${o.detail}`);
        if (o.result === 'kept') this.#io.warn(`Not restored: ${o.detail}`);
      }
      changes.close();
    }
    this.#release?.();
    this.#release = undefined;
  }
}
