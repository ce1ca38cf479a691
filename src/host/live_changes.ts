/**
 * The changes one samepage command makes to the live machine, journaled: the owner's side
 * of the journal (journal.ts). Opening one
 *   1. recovers what dead samepage processes left changed (recover.ts), so that nothing is
 *      saved as "original" while another run's values are still in place;
 *   2. creates this command's journal and starts its watchdog (watchdog.ts), before the
 *      first change.
 * Every change then goes through a method here (live_writes.ts underneath: journal first,
 * then the machine). At the end `restore` undoes what must not last (restore.ts: never over
 * a person's later change), `commit` drops the record of what must last (a completed
 * `kernel enable`), and `close` deletes the journal, upon which the watchdog exits.
 *
 * Every change passes the crash suite's test hook first, where it is set (change_pause.ts).
 */
import { basename } from 'node:path';
import { bootId, identify, JOURNAL_DIR, JournalFile } from './journal.ts';
import { cpusAllowed, findKsmdPid, firstCpu } from './ksmd_affinity.ts';
import {
  type LiveEnv,
  madviseJournaled,
  type MergeAnyWrite,
  unmadviseJournaled,
  setCpusJournaled,
  setMergeAnyJournaled,
  trackSysfs,
  journalSysfsWrite,
  writeSysfsJournaled,
} from './live_writes.ts';
import type { InjectAnswer, InjectGuard } from './inject.ts';
import { recoverJournals, type RecoveryReport } from './recover.ts';
import { LIVE_PLACES, restoreEntries, type RestoreOutcome, type RestorePlaces } from './restore.ts';
import { startWatchdog } from './watchdog.ts';
import { TEST_PAUSE_AT_CHANGE, testPauseHook, type TestPause } from './change_pause.ts';

export interface LiveChangesOptions {
  /** Journal directory; default /run/samepage. */
  readonly dir?: string;
  /** What the owner is, for people: default the command line. */
  readonly command?: string;
  /** Start the watchdog; default true. */
  readonly watchdog?: boolean;
  /** Fake sysfs, injector, places: for tests. */
  readonly env?: LiveEnv;
  readonly places?: RestorePlaces;
  /** Told each recovery of a dead samepage's changes that opening made. */
  readonly onRecovered?: (report: RecoveryReport) => void;
  /** Told what does not stop the command (no watchdog, entries left for recovery). */
  readonly onWarning?: (message: string) => void;
  /** The environment the test hook is read from; default process.env. */
  readonly processEnv?: NodeJS.ProcessEnv;
}

/** The command line of this process, for people: `samepage.js run x.yaml --backend kernel`. */
function commandLine(): string {
  const [, script, ...args] = process.argv;
  return [script === undefined ? 'node' : basename(script), ...args].join(' ');
}

export class LiveChanges {
  readonly #file: JournalFile;
  readonly #env: LiveEnv;
  readonly #places: RestorePlaces;
  readonly #warn: (message: string) => void;
  /** The test hook's state, for other threads, where the hook is set. */
  readonly testPause: TestPause | undefined;
  #closed = false;

  private constructor(
    file: JournalFile,
    env: LiveEnv,
    places: RestorePlaces,
    warn: (message: string) => void,
    testPause: TestPause | undefined,
  ) {
    this.#file = file;
    this.#env = env;
    this.#places = places;
    this.#warn = warn;
    this.testPause = testPause;
  }

  /** Recovers dead owners' changes, then opens this process's journal and starts its watchdog. */
  static open(opts: LiveChangesOptions = {}): LiveChanges {
    const dir = opts.dir ?? JOURNAL_DIR;
    const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`samepage: warning: ${m}\n`));
    const places = opts.places ?? LIVE_PLACES;
    const recovered = recoverJournals({
      dir,
      by: opts.command ?? commandLine(),
      ...(opts.env === undefined ? {} : { env: opts.env }),
      places,
    });
    for (const r of recovered) opts.onRecovered?.(r);
    const me = identify(process.pid);
    if (me === undefined) throw new Error('Cannot read /proc/self/stat: samepage needs procfs to journal its changes');
    let file: JournalFile;
    try {
      file = JournalFile.create(
        dir,
        { ...me, boot_id: bootId(), command: opts.command ?? commandLine() },
        process.hrtime.bigint(),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new Error(
        `Cannot write the journal of live changes in ${dir} (${code}): samepage records each change to the machine there before it makes it, so that it can be undone if samepage is killed (root needed)`,
      );
    }
    const processEnv = opts.processEnv ?? process.env;
    const counter = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    const hook = testPauseHook(processEnv, counter);
    const env: LiveEnv = { ...opts.env, ...(hook === undefined ? {} : { beforeWrite: hook }) };
    const pause = hook === undefined ? undefined : { at: processEnv[TEST_PAUSE_AT_CHANGE] ?? '', counter };
    if (opts.watchdog !== false) {
      const pid = startWatchdog(file.path, me);
      if (typeof pid === 'number') file.setWatchdog(pid);
      else
        warn(`no watchdog (${pid}): if samepage is killed, its changes are undone by the next samepage command only`);
    }
    return new LiveChanges(file, env, places, warn, pause);
  }

  /** The journal file (for status and tests). */
  get path(): string {
    return this.#file.path;
  }

  get entries(): JournalFile['entries'] {
    return this.#file.entries;
  }

  /** Records the files' current values as the originals to restore, before anything changes. */
  track(paths: readonly string[]): void {
    trackSysfs(this.#file, paths, this.#env);
  }

  /** Writes a sysfs file, journaled; 0 or -errno as the kernel's store returned it. */
  writeSysfs(path: string, value: string): number {
    return writeSysfsJournaled(this.#file, path, value, this.#env);
  }

  /** Journals that processes this one starts will put pages in KSM, to be reaped at the restore (journal.ts, ksm_items). */
  journalKsmItems(): void {
    if (!this.#file.entries.some((e) => e.kind === 'ksm_items')) this.#file.add([{ kind: 'ksm_items' }]);
  }

  /** Journals a value another thread of this process will write to a sysfs file (journalSysfsWrite). */
  journalWrite(path: string, value: string): void {
    journalSysfsWrite(this.#file, path, value, this.#env);
  }

  /**
   * Holds ksmd on the lowest CPU it may use now (why: ksmd_affinity.ts). Returns the
   * reason it could not (no ksmd, no taskset, refused), or undefined.
   */
  pinKsmd(): string | undefined {
    const pid = findKsmdPid();
    if (pid === undefined) return 'no ksmd thread found';
    const now = cpusAllowed(pid);
    const cpu = now === undefined ? undefined : firstCpu(now);
    if (now === undefined || cpu === undefined) return `cannot read ksmd's CPUs (/proc/${pid}/status)`;
    if (now === String(cpu)) return undefined;
    return setCpusJournaled(this.#file, pid, String(cpu), this.#env);
  }

  /** Makes a process call prctl(PR_SET_MEMORY_MERGE, value), journaled when it changes the flag. */
  setMergeAny(pid: number, value: boolean): MergeAnyWrite {
    return setMergeAnyJournaled(this.#file, pid, value, this.#env);
  }

  /**
   * Makes a process madvise(MADV_MERGEABLE) `ranges` ([start, length] in bytes), journaled
   * into entry `id` when given (one entry can collect a process's ranges), else a new one.
   */
  madviseMergeable(
    pid: number,
    ranges: ReadonlyArray<readonly [number, number]>,
    id?: number,
    guard?: InjectGuard,
  ): { entry: number | undefined; answer: InjectAnswer } {
    return madviseJournaled(this.#file, pid, ranges, this.#env, id, guard);
  }

  /**
   * Gives back ranges that madviseMergeable marked (entry `id`): the process calls
   * madvise(MADV_UNMERGEABLE) on them, and those whose call ran leave the entry.
   */
  madviseUnmergeable(
    pid: number,
    ranges: ReadonlyArray<readonly [number, number]>,
    id: number | undefined,
    guard?: InjectGuard,
  ): InjectAnswer {
    return unmadviseJournaled(this.#file, pid, ranges, this.#env, id, guard);
  }

  /** Undoes entries (all by default) as restore.ts rules; settled entries leave the journal. */
  restore(ids?: readonly number[]): RestoreOutcome[] {
    const hook = this.#env.beforeWrite;
    // The test hook tells the restore's writes apart from the changes they undo.
    const env =
      hook === undefined ? this.#env : { ...this.#env, beforeWrite: (what: string) => hook(`restore ${what}`) };
    return restoreEntries(this.#file, env, this.#places, ids);
  }

  /** Drops entries (all by default) whose changes are meant to last: they are no longer undone. */
  commit(ids?: readonly number[]): void {
    this.#file.remove(ids ?? this.#file.entries.map((e) => e.id));
  }

  /**
   * Ends the journal: deleted when nothing is left in it (the watchdog then exits), kept
   * otherwise for the watchdog or the next samepage command to finish. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const left = this.#file.entries.length;
    if (left === 0) this.#file.delete();
    else
      this.#warn(
        `${left} change(s) could not be undone now; they stay in ${this.#file.path} for recovery (samepage kernel recover)`,
      );
  }
}
