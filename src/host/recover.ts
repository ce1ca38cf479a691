/**
 * Recovery: the changes a dead samepage process left journaled are undone by whoever comes
 * first, its watchdog (`samepage kernel recover --journal FILE`), any samepage command about
 * to change the machine (LiveChanges.open, before it saves anything as "original"), or
 * `samepage kernel recover` run by hand. A journal is claimed first (a lock file beside it,
 * taken over from a dead claimant), so two recoverers never interleave and the second finds
 * the work done; a recoverer killed half-way leaves the journal for the next one.
 */
import type { LiveEnv } from './live_writes.ts';
import {
  bootId,
  type JournalEntry,
  JournalFile,
  type JournalOwner,
  JOURNAL_DIR,
  JournalsUnreadable,
  listJournals,
  logRecovery,
  type OwnerState,
  ownerState,
} from './journal.ts';
import { tryLock, unlock } from './ksm_lock.ts';
import { LIVE_PLACES, restoreEntries, type RestoreOutcome, type RestorePlaces } from './restore.ts';
import { sleepSync } from './procfs.ts';
import { HostUnusable } from './unusable.ts';

/** A journal as `samepage kernel status` shows it: whose, in what state, what it holds. */
export interface JournalView {
  readonly journal: string;
  readonly owner?: JournalOwner;
  /** alive: its owner will restore it; dead / earlier-boot: pending recovery; damaged: unreadable. */
  readonly state: OwnerState | 'damaged';
  readonly entries: readonly JournalEntry[];
  readonly problem?: string;
}

/** What one recovery did. */
export interface RecoveryReport {
  readonly journal: string;
  readonly owner?: JournalOwner;
  /** dead (recovered), earlier-boot (discarded), damaged or busy (another recoverer kept it): nothing done. */
  readonly state: OwnerState | 'damaged' | 'busy';
  readonly outcomes: readonly RestoreOutcome[];
  /** Entries the journal still holds (restores that failed: a later recovery tries again). */
  readonly left: number;
  readonly problem?: string;
  /** Who recovered: `watchdog`, `samepage kernel recover`, or the command that found it. */
  readonly by: string;
  readonly recoverer: number;
  readonly time: string;
  readonly duration_ms: number;
}

export interface RecoverOptions {
  /** Journal directory; default /run/samepage. */
  readonly dir?: string;
  /** One journal only (the watchdog's). */
  readonly only?: string;
  readonly by: string;
  readonly env?: LiveEnv;
  readonly places?: RestorePlaces;
  /** How long to wait for another recoverer of the same journal; default 30 s. */
  readonly claimWaitMs?: number;
}

/** Every journal of `dir` and the state of its owner; reads only. */
export function viewJournals(dir = JOURNAL_DIR): JournalView[] {
  const boot = bootId();
  return listJournals(dir).flatMap((journal): JournalView[] => {
    const file = JournalFile.load(journal);
    if (file === 'gone') return [];
    if (typeof file === 'string') return [{ journal, state: 'damaged', entries: [], problem: file }];
    return [{ journal, owner: file.owner, state: ownerState(file.owner, boot), entries: file.entries }];
  });
}

/** Whether a view is waiting for recovery: its owner is gone and it holds something. */
export function pendingRecovery(v: JournalView): boolean {
  return (v.state === 'dead' || v.state === 'earlier-boot') && v.entries.length > 0;
}

/**
 * Every journal's view, and notes for the user: that some wait to be recovered, or, for a
 * user who may not read them (they are root's), that none can be shown.
 */
export function viewJournalsWithNotes(): { journals: JournalView[]; notes: string[] } {
  try {
    const journals = viewJournals();
    const pending = journals.some(pendingRecovery)
      ? ['a samepage process died with changes to this machine journaled; `samepage kernel recover` undoes them']
      : [];
    return { journals, notes: pending };
  } catch (err) {
    if (!(err instanceof JournalsUnreadable)) throw err;
    return { journals: [], notes: [`${err.message}; samepage's own changes are shown to root only`] };
  }
}

/** Throws HostUnusable when this user may not recover what is pending (only root restores KSM and processes). */
export function requireRecoverable(): void {
  let pending: number;
  try {
    pending = viewJournals().filter(pendingRecovery).length;
  } catch (err) {
    if (err instanceof JournalsUnreadable) throw new HostUnusable(`samepage kernel recover needs root: ${err.message}`);
    throw err;
  }
  if (pending > 0 && process.getuid?.() !== 0)
    throw new HostUnusable(
      `samepage kernel recover needs root: ${pending} journal(s) wait to restore /sys/kernel/mm files or other processes`,
    );
}

/**
 * Throws when `path`, a journal a person named, is not there (mistyped, or already
 * recovered) or is not a journal samepage can read. Refused before recovery, which would
 * write a claim file beside it and log a "damaged" recovery of, say, /etc/passwd.
 */
export function requireJournalFile(path: string): void {
  const file = JournalFile.load(path);
  if (file === 'gone') throw new Error(`--journal ${path}: no such file (samepage's journals are in ${JOURNAL_DIR})`);
  if (typeof file === 'string') throw new Error(`--journal ${path} is not a journal samepage can read: ${file}`);
}

/**
 * Recovers every journal of `dir` whose owner is gone (or only `opts.only`), and returns
 * what each recovery did; journals of live owners are left to them. Synchronous.
 */
export function recoverJournals(opts: RecoverOptions): RecoveryReport[] {
  const dir = opts.dir ?? JOURNAL_DIR;
  const paths = opts.only === undefined ? listJournals(dir) : [opts.only];
  const boot = bootId();
  const reports: RecoveryReport[] = [];
  for (const path of paths) {
    const peek = JournalFile.load(path);
    if (peek === 'gone') continue;
    if (typeof peek !== 'string' && ownerState(peek.owner, boot) === 'alive') continue;
    const report = recoverOne(path, opts, boot);
    if (report !== undefined) {
      reports.push(report);
      if (report.state !== 'busy') logRecovery(dir, report);
    }
  }
  return reports;
}

function recoverOne(path: string, opts: RecoverOptions, boot: string): RecoveryReport | undefined {
  const begin = performance.now();
  const base = { journal: path, by: opts.by, recoverer: process.pid, time: new Date().toISOString() };
  const claim = `${path}.claim`;
  const deadline = begin + (opts.claimWaitMs ?? 30_000);
  for (;;) {
    const holder = tryLock(claim);
    if (holder === undefined) break;
    if (performance.now() >= deadline) {
      return {
        ...base,
        state: 'busy',
        outcomes: [],
        left: -1,
        problem: `being recovered by process ${holder}, which did not finish within ${Math.round((opts.claimWaitMs ?? 30_000) / 1000)} s`,
        duration_ms: Math.round(performance.now() - begin),
      };
    }
    sleepSync(50);
  }
  try {
    // Read again under the claim: another recoverer may have finished meanwhile.
    const file = JournalFile.load(path);
    if (file === 'gone') return undefined;
    const duration = (): number => Math.round(performance.now() - begin);
    if (typeof file === 'string') {
      return { ...base, state: 'damaged', outcomes: [], left: -1, problem: file, duration_ms: duration() };
    }
    const state = ownerState(file.owner, boot);
    if (state === 'alive') return undefined;
    if (state === 'earlier-boot') {
      file.delete();
      return {
        ...base,
        owner: file.owner,
        state,
        outcomes: [],
        left: 0,
        problem:
          'written before the last boot: the reboot itself reset every setting and ended every process it names; discarded',
        duration_ms: duration(),
      };
    }
    const outcomes = restoreEntries(file, opts.env ?? {}, opts.places ?? LIVE_PLACES);
    const left = file.entries.length;
    if (left === 0) file.delete();
    return { ...base, owner: file.owner, state, outcomes, left, duration_ms: duration() };
  } finally {
    unlock(claim);
  }
}

/** One recovery in a sentence, for the stderr of the command that made it. */
export function describeRecovery(r: RecoveryReport): string {
  const who =
    r.owner === undefined ? r.journal : `samepage process ${r.owner.pid} (${r.owner.command || 'unknown command'})`;
  if (r.state === 'busy' || r.state === 'damaged') return `Could not recover ${who}: ${r.problem ?? r.state}`;
  if (r.state === 'earlier-boot') return `Discarded the journal of ${who}: ${r.problem ?? ''}`;
  const done = r.outcomes.filter((o) => o.result !== 'unchanged');
  const what = done.length === 0 ? 'nothing was left changed' : done.map((o) => `${o.result} ${o.detail}`).join('; ');
  const left = r.left > 0 ? `; ${r.left} change(s) could not be undone and stay journaled (${r.journal})` : '';
  return `Recovered what ${who} left when it died: ${what}${left}`;
}
