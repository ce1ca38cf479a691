/**
 * The journal of live changes: before samepage changes anything on the live machine (a
 * /sys/kernel/mm file, ksmd's CPUs, a process's MERGE_ANY or madvised ranges) it writes here
 * what it is about to change and the value that restores it, and it drops the entry once
 * the change is undone (or, for a change meant to last, once it is complete). Whatever kills
 * samepage, the file stays behind, and recovery (recover.ts) puts the machine back from it.
 *
 * One file per owner session, `/run/samepage/owner-PID-START-SEQ.json`, replaced atomically
 * (written aside, fsync, rename, fsync of the directory), so a reader sees the old content
 * or the new, never a part. The owner is named by pid, start time (field 22 of
 * /proc/PID/stat) and boot id, so a pid the kernel gave to another process since, or a file
 * from an earlier boot (a /run that is not a tmpfs), is never mistaken for a live owner.
 * docs/crash-safety.md documents the format (version 1); this file reads and writes it and
 * knows nothing of how a change is made or undone.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { isAlive, processStartTime } from './procfs.ts';

export const JOURNAL_FORMAT = 'samepage-journal';
export const JOURNAL_VERSION = 1;
/** Where journals live: /run is a tmpfs cleared at boot, as a journal of a running system should be. */
export const JOURNAL_DIR = '/run/samepage';
/** One line of JSON per recovery, for people and tests: who recovered what, and how it went. */
export const RECOVERY_LOG = 'recovered.log';
/** The log is cut to its newer half past this size. */
const RECOVERY_LOG_MAX_BYTES = 256 * 1024;

const JOURNAL_NAME = /^owner-(\d+)-(\d+)-(\d+)\.json$/;

/** A process as the kernel names it for its lifetime: pid and start time (clock ticks since boot). */
export interface ProcessIdentity {
  readonly pid: number;
  readonly start_time: string;
}

const identity = { pid: z.number().int().positive(), start_time: z.string().regex(/^\d+$/) };

const ownerSchema = z.object({
  ...identity,
  boot_id: z.string(),
  /** The command line, for people (status, recovery messages). */
  command: z.string(),
  /** The watchdog waiting on this owner, when one was started. */
  watchdog_pid: z.number().int().positive().optional(),
});

/** A file under /sys/kernel/mm: the value before samepage's first write and every value it wrote since. */
const sysfsSchema = z.object({
  id: z.number().int().positive(),
  kind: z.literal('sysfs'),
  path: z.string().startsWith('/'),
  original: z.string(),
  written: z.array(z.string()),
});

/** ksmd's CPU list (a kernel thread, so its identity only changes at boot). */
const ksmdCpusSchema = z.object({
  id: z.number().int().positive(),
  kind: z.literal('ksmd_cpus'),
  ...identity,
  original: z.string(),
  written: z.array(z.string()),
});

/** A process's MERGE_ANY (prctl PR_SET_MEMORY_MERGE), set to `written` by samepage. */
const mergeAnySchema = z.object({
  id: z.number().int().positive(),
  kind: z.literal('merge_any'),
  ...identity,
  comm: z.string(),
  original: z.boolean(),
  written: z.boolean(),
});

/** Ranges of a process that samepage madvised MADV_MERGEABLE: [start, length] in bytes. */
const madviseSchema = z.object({
  id: z.number().int().positive(),
  kind: z.literal('madvise'),
  ...identity,
  comm: z.string(),
  ranges: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().positive()])),
});

/**
 * Processes samepage started put pages in KSM (the kernel backend's agents). An mm that
 * exits with KSM items leaves them for ksmd to reap, and samepage holds ksmd at run=0: so
 * once they are gone, the restore reaps what they left counted, with run=2, while no
 * process uses KSM.
 */
const ksmItemsSchema = z.object({
  id: z.number().int().positive(),
  kind: z.literal('ksm_items'),
});

const entrySchema = z.discriminatedUnion('kind', [
  sysfsSchema,
  ksmdCpusSchema,
  mergeAnySchema,
  madviseSchema,
  ksmItemsSchema,
]);

const journalSchema = z.object({
  format: z.literal(JOURNAL_FORMAT),
  version: z.literal(JOURNAL_VERSION),
  owner: ownerSchema,
  next_id: z.number().int().positive(),
  entries: z.array(entrySchema),
});

export type JournalOwner = z.infer<typeof ownerSchema>;
export type SysfsEntry = z.infer<typeof sysfsSchema>;
export type KsmdCpusEntry = z.infer<typeof ksmdCpusSchema>;
export type MergeAnyEntry = z.infer<typeof mergeAnySchema>;
export type MadviseEntry = z.infer<typeof madviseSchema>;
export type KsmItemsEntry = z.infer<typeof ksmItemsSchema>;
export type JournalEntry = z.infer<typeof entrySchema>;
export type JournalData = z.infer<typeof journalSchema>;
/** An entry before the journal numbers it. */
export type NewEntry =
  | Omit<SysfsEntry, 'id'>
  | Omit<KsmdCpusEntry, 'id'>
  | Omit<MergeAnyEntry, 'id'>
  | Omit<MadviseEntry, 'id'>
  | Omit<KsmItemsEntry, 'id'>;

/** This boot's id (/proc/sys/kernel/random/boot_id); '' where the kernel does not show it. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** The identity of a live process, or undefined when it is gone. */
export function identify(pid: number): ProcessIdentity | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : { pid, start_time: start };
}

/** Whether the process named by `who` is this very process still (not gone, not a zombie, not a reused pid). */
export function stillRunning(who: ProcessIdentity): boolean {
  return processStartTime(who.pid) === who.start_time && isAlive(who.pid);
}

/**
 * An owner's state: `alive` (it restores its changes itself), `dead` (its changes are left
 * to recovery; also when its pid now belongs to another process), or `earlier-boot` (the
 * reboot itself reset every setting and ended every process the journal names).
 */
export type OwnerState = 'alive' | 'dead' | 'earlier-boot';

export function ownerState(owner: JournalOwner, boot = bootId()): OwnerState {
  if (owner.boot_id !== boot) return 'earlier-boot';
  return stillRunning(owner) ? 'alive' : 'dead';
}

/** The journal data as one validated value, or the reason it is not one. */
export function parseJournal(text: string): { ok: true; data: JournalData } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== JOURNAL_VERSION) {
    return { ok: false, problem: `format version ${version}; this samepage reads version ${JOURNAL_VERSION}` };
  }
  const parsed = journalSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, problem: `not a samepage journal: ${first?.path.join('.') ?? ''} ${first?.message ?? ''}` };
  }
  return { ok: true, data: parsed.data };
}

/** Writes `text` to `path` so that a reader sees the old file or the new one, and a crash keeps one of them. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(join(path, '..'), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Creates the journal directory, root's alone (0700): journals name processes and settings to write back. */
export function ensureJournalDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** The journal directory exists but this process may not read it (not root). */
export class JournalsUnreadable extends Error {
  override readonly name = 'JournalsUnreadable';
}

/** The journal files of `dir` (none when it does not exist), oldest session first. */
export function listJournals(dir: string): string[] {
  if (!existsSync(dir)) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw new JournalsUnreadable(`Cannot read ${dir}, where samepage journals its live changes: it is root's`);
    throw err;
  }
  return names
    .filter((name) => JOURNAL_NAME.test(name))
    .sort((a, b) => {
      const x = JOURNAL_NAME.exec(a)!;
      const y = JOURNAL_NAME.exec(b)!;
      return Number(x[3]) - Number(y[3]) || a.localeCompare(b);
    })
    .map((name) => join(dir, name));
}

/**
 * One journal file and its content: every change goes to the file before this returns, so
 * the file says at each moment at least what has been done to the machine. Used by the
 * owner (live_changes.ts) and by a recoverer that has claimed a dead owner's file.
 */
export class JournalFile {
  readonly path: string;
  #data: JournalData;

  private constructor(path: string, data: JournalData) {
    this.path = path;
    this.#data = data;
  }

  /** A new, empty journal in `dir` for `owner`, written before this returns. */
  static create(dir: string, owner: JournalOwner, seq: bigint): JournalFile {
    ensureJournalDir(dir);
    const file = new JournalFile(join(dir, `owner-${owner.pid}-${owner.start_time}-${seq}.json`), {
      format: JOURNAL_FORMAT,
      version: JOURNAL_VERSION,
      owner,
      next_id: 1,
      entries: [],
    });
    file.#persist();
    return file;
  }

  /** The journal at `path`, or why it cannot be read (gone, damaged, another version). */
  static load(path: string): JournalFile | string {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : `unreadable (${String(err)})`;
    }
    const parsed = parseJournal(text);
    return parsed.ok ? new JournalFile(path, parsed.data) : parsed.problem;
  }

  get owner(): JournalOwner {
    return this.#data.owner;
  }

  get entries(): readonly JournalEntry[] {
    return this.#data.entries;
  }

  entry(id: number): JournalEntry | undefined {
    return this.#data.entries.find((e) => e.id === id);
  }

  /** Records the watchdog's pid, for status and for the tests that check it is gone. */
  setWatchdog(pid: number): void {
    this.#data = { ...this.#data, owner: { ...this.#data.owner, watchdog_pid: pid } };
    this.#persist();
  }

  /** Adds entries, written in one go; returns their ids in order. */
  add(entries: readonly NewEntry[]): number[] {
    if (entries.length === 0) return [];
    const first = this.#data.next_id;
    const added = entries.map((e, i) => ({ id: first + i, ...e }) as JournalEntry);
    this.#data = { ...this.#data, next_id: first + entries.length, entries: [...this.#data.entries, ...added] };
    this.#persist();
    return added.map((e) => e.id);
  }

  /** Replaces an entry (same id and kind) and writes the file, unless nothing changed. */
  update(next: JournalEntry): void {
    const at = this.#data.entries.findIndex((e) => e.id === next.id);
    if (at < 0) throw new Error(`No journal entry ${next.id} in ${this.path}`);
    if (JSON.stringify(this.#data.entries[at]) === JSON.stringify(next)) return;
    const entries = [...this.#data.entries];
    entries[at] = next;
    this.#data = { ...this.#data, entries };
    this.#persist();
  }

  /** Drops entries (restored, or complete changes meant to last), written in one go. */
  remove(ids: readonly number[]): void {
    const drop = new Set(ids);
    const entries = this.#data.entries.filter((e) => !drop.has(e.id));
    if (entries.length === this.#data.entries.length) return;
    this.#data = { ...this.#data, entries };
    this.#persist();
  }

  /** Deletes the file: nothing is left to restore. */
  delete(): void {
    rmSync(this.path, { force: true });
  }

  #persist(): void {
    writeAtomically(this.path, `${JSON.stringify(this.#data)}\n`);
  }
}

/** Appends one recovery to the directory's log, keeping it bounded. */
export function logRecovery(dir: string, record: unknown): void {
  const path = join(dir, RECOVERY_LOG);
  ensureJournalDir(dir);
  try {
    if (statSync(path).size > RECOVERY_LOG_MAX_BYTES) {
      const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
      writeFileSync(path, `${lines.slice(Math.floor(lines.length / 2)).join('\n')}\n`, { mode: 0o600 });
    }
  } catch {
    // No log yet.
  }
  appendFileSync(path, `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** The log's records, oldest first (lines that do not parse are skipped). */
export function readRecoveryLog(dir: string): unknown[] {
  try {
    return readFileSync(join(dir, RECOVERY_LOG), 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as unknown];
        } catch {
          return [];
        }
      });
  } catch {
    return [];
  }
}
