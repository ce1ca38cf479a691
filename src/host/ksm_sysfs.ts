/**
 * The live /sys/kernel/mm/ksm: listing, reading, writing with the kernel's errno, and saving
 * and restoring the global knobs around a run (the order restoreKsm needs is the kernel's).
 * The only code that knows where the live directory is: everything else asks this file.
 */
import {
  constants as fsConstants,
  accessSync,
  closeSync,
  openSync,
  readSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { describeErrno, EBUSY, errnoNumber } from '../lib/errno.ts';
import { sleepSync } from './procfs.ts';
import { HostUnusable } from './unusable.ts';

export const SYS_MM = '/sys/kernel/mm';
export const KSM_DIR = `${SYS_MM}/ksm`;

/** The word in brackets of a selector file such as `[none] scan-time`, else the text. */
export function selectedWord(text: string): string {
  const m = /\[([^\]]*)\]/.exec(text);
  return m?.[1] ?? text.trim();
}

/** What a sysfs file shows, as a record value: a number when it is one, else the selected word. */
export function parseSysfsValue(text: string): number | string {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : selectedWord(t);
}

/** `0`, or `-errno` for a failed system call, from a Node fs error. */
export function negErrno(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const n = code === undefined ? undefined : errnoNumber(code);
  if (n !== undefined) return -n;
  const raw = (err as NodeJS.ErrnoException | undefined)?.errno;
  if (typeof raw === 'number') return raw < 0 ? raw : -raw;
  throw err;
}

/** Writes one sysfs file in a single write(2): 0, or -errno exactly as the store returned it. */
export function writeSysfs(path: string, value: string): number {
  try {
    writeFileSync(path, value);
    return 0;
  } catch (err) {
    return negErrno(err);
  }
}

/** The text of a sysfs file, or undefined when it cannot be read (missing, write-only). */
export function readSysfs(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The counters of what KSM holds for processes (its pages and items), which outlive them
 * until ksmd or run=2 reaps them.
 */
export const KSM_ITEM_COUNTERS = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'stable_node_chains',
  'stable_node_dups',
] as const;

/** Each of KSM_ITEM_COUNTERS as `dir` shows it now, trimmed; undefined where unreadable. */
export function ksmItemCounts(
  read: (path: string) => string | undefined = readSysfs,
  dir: string = KSM_DIR,
): Record<(typeof KSM_ITEM_COUNTERS)[number], string | undefined> {
  return Object.fromEntries(KSM_ITEM_COUNTERS.map((c) => [c, read(join(dir, c))?.trim()])) as Record<
    (typeof KSM_ITEM_COUNTERS)[number],
    string | undefined
  >;
}

/** The KSM_ITEM_COUNTERS above 0 as `name value` (an unreadable one counts as 0): what is left to reap. */
export function countedKsmItems(
  read: (path: string) => string | undefined = readSysfs,
  dir: string = KSM_DIR,
): string[] {
  return Object.entries(ksmItemCounts(read, dir)).flatMap(([c, v]) => {
    const n = Number(v ?? '0');
    return n > 0 ? [`${c} ${n}`] : [];
  });
}

/** Whether this kernel has KSM (CONFIG_KSM) and sysfs shows it. */
export function ksmPresent(dir = KSM_DIR): boolean {
  return existsSync(dir);
}

/** A KSM file as a number (`pages_sharing`), NaN when it cannot be read. */
export function readKsmNumber(file: string, dir = KSM_DIR): number {
  const t = readSysfs(join(dir, file));
  return t === undefined ? Number.NaN : Number(t.trim());
}

/** pages_sharing and pages_shared now: what a merge summary compares. */
export function readSharing(dir = KSM_DIR): { readonly sharing: number; readonly shared: number } {
  return { sharing: readKsmNumber('pages_sharing', dir), shared: readKsmNumber('pages_shared', dir) };
}

/** Every readable file of the KSM directory, in name order, parsed by parseSysfsValue. */
export function readKsmSysfs(dir = KSM_DIR): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const name of ksmFiles(dir)) {
    const text = readSysfs(join(dir, name));
    // Write-only or vanished: nothing to show.
    if (text !== undefined) out[name] = parseSysfsValue(text);
  }
  return out;
}

/** The files of /sys/kernel/mm/ksm, sorted, so records list them in a stable order. */
export function ksmFiles(dir = KSM_DIR): string[] {
  return readdirSync(dir).sort();
}

/** Files the kernel lets the owner write (mode bit), not merely what root may open. */
export function writableKsmFiles(dir = KSM_DIR): string[] {
  return ksmFiles(dir).filter((f) => (statSync(join(dir, f)).mode & 0o200) !== 0);
}

/** Throws unless the directory is there and its `run` can be opened for writing. */
export function checkKsmWritable(dir = KSM_DIR): void {
  accessSync(join(dir, 'run'), fsConstants.W_OK);
}

/**
 * Why samepage cannot change the live KSM here (not Linux, not root, no KSM, a read-only
 * /sys), or undefined when it can.
 */
export function ksmUnusableReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!ksmPresent()) return `${KSM_DIR} is missing`;
  try {
    checkKsmWritable();
  } catch {
    return `${KSM_DIR} is not writable`;
  }
  return undefined;
}

/** Throws HostUnusable when this kernel has no KSM to read. */
export function requireKsm(): void {
  if (!ksmPresent())
    throw new HostUnusable(`${KSM_DIR} is missing: this kernel has no KSM (CONFIG_KSM), or sysfs is not mounted`);
}

/**
 * A note that ksmd is stopped (run is not 1), so marked memory merges nothing yet; else
 * undefined. `until` says what starts it, in the words of the command that gives the note.
 */
export function ksmStoppedNote(
  until = `\`echo 1 > ${KSM_DIR}/run\` (root), or use \`samepage kernel exec --run\`.`,
): string | undefined {
  const run = readSysfs(`${KSM_DIR}/run`)?.trim();
  if (run === undefined || run === '1') return undefined;
  return `KSM is stopped (${KSM_DIR}/run is ${run}): pages are marked mergeable but ksmd merges nothing until ${until}`;
}

/** The value to write back to restore a file: a selector file is restored by its word. */
export function restorableValue(text: string): string {
  return selectedWord(text);
}

/** One saved file: its path and the value that restores it. */
export interface SavedFile {
  readonly path: string;
  readonly value: string;
}

/** How save and restore reach sysfs; tests pass a fake that applies the kernel's rules. */
export interface SysfsIo {
  readonly read: (path: string) => string | undefined;
  /** 0, or -errno as the store returned it. */
  readonly write: (path: string, value: string) => number;
  /** Blocks the thread for `ms` (restoring also runs from a signal handler, so no await). */
  readonly sleepSync?: (ms: number) => void;
}

export const REAL_SYSFS: SysfsIo = {
  read: readSysfs,
  write: writeSysfs,
  sleepSync,
};

/**
 * How long EBUSY refusals are retried: a process just SIGKILLed still maps its KSM pages
 * until its exit_mmap has run, and max_page_sharing or merge_across_nodes refuse a change
 * (remove_all_stable_nodes fails) while any KSM page is mapped.
 */
const BUSY_RETRY_MS = 3000;
const BUSY_RETRY_STEP_MS = 20;

/** Reads every writable file of the KSM directory. */
export function saveKsm(dir = KSM_DIR, io: SysfsIo = REAL_SYSFS): SavedFile[] {
  return writableKsmFiles(dir).map((f) => {
    const path = join(dir, f);
    return { path, value: restorableValue(io.read(path) ?? '') };
  });
}

/**
 * The files whose store refuses a change (EBUSY) while any KSM page exists
 * (remove_all_stable_nodes in the store must succeed first).
 */
const NEED_UNMERGED = ['max_page_sharing', 'merge_across_nodes'];

/**
 * Puts saved values back, exactly. The order follows the kernel's stores:
 * - run=2 first, only when max_page_sharing or merge_across_nodes must change: it unmerges
 *   every process on the machine, which those two need (EBUSY otherwise) and nothing else
 *   does, so a restore of the other knobs leaves everyone's merged pages merged;
 * - the advisor off, unless it already is as saved: pages_to_scan refuses writes (EINVAL)
 *   while advisor_mode is scan-time;
 * - every other file whose value differs, each refusal retried once after the others, and
 *   an EBUSY for up to BUSY_RETRY_MS while processes just killed finish exiting;
 * - a saved scan-time advisor last: switching to it sets pages_to_scan to
 *   advisor_min_pages_to_scan, so that file briefly holds the saved pages_to_scan (the only
 *   way to give a scan-time advisor a chosen pages_to_scan), then its own saved value;
 * - run at the end, so ksmd restarts only on the restored knobs.
 * Returns what it could not restore, with the errno or the value left, so the caller can
 * say so; every saved file is read back to check.
 */
export function restoreKsm(saved: readonly SavedFile[], dir = KSM_DIR, io: SysfsIo = REAL_SYSFS): string[] {
  const value = new Map(saved.map((s) => [basename(s.path), s.value]));
  const now = (file: string): string | undefined => {
    const text = io.read(join(dir, file));
    return text === undefined ? undefined : restorableValue(text);
  };
  const problems = new Map<string, string>();
  const put = (file: string, v: string): number => {
    const r = io.write(join(dir, file), v);
    if (r !== 0) problems.set(file, `${join(dir, file)}=${v} (${describeErrno(r)})`);
    return r;
  };
  if (NEED_UNMERGED.some((file) => value.has(file) && now(file) !== value.get(file))) io.write(join(dir, 'run'), '2');

  const advisor = value.get('advisor_mode');
  const toScan = value.get('pages_to_scan');
  const advisorRestored = (): boolean =>
    now('advisor_mode') === advisor &&
    (advisor !== 'scan-time' || toScan === undefined || now('pages_to_scan') === toScan);
  if (advisor !== undefined && now('advisor_mode') !== 'none' && !advisorRestored()) put('advisor_mode', 'none');

  const refused: string[] = [];
  for (const [file, v] of value) {
    if (file !== 'run' && file !== 'advisor_mode' && now(file) !== v && put(file, v) !== 0) refused.push(file);
  }
  let busy: string[] = [];
  for (const file of refused)
    if (now(file) !== value.get(file) && put(file, value.get(file) ?? '') === -EBUSY) busy.push(file);
  for (
    let waited = 0;
    io.sleepSync !== undefined && busy.length > 0 && waited < BUSY_RETRY_MS;
    waited += BUSY_RETRY_STEP_MS
  ) {
    io.sleepSync(BUSY_RETRY_STEP_MS);
    io.write(join(dir, 'run'), '2');
    busy = busy.filter((file) => put(file, value.get(file) ?? '') === -EBUSY);
  }

  if (advisor !== undefined && !advisorRestored()) {
    const min = value.get('advisor_min_pages_to_scan');
    const viaMin = advisor === 'scan-time' && toScan !== undefined && min !== undefined;
    if (viaMin) put('advisor_min_pages_to_scan', toScan);
    put('advisor_mode', advisor);
    if (viaMin) put('advisor_min_pages_to_scan', min);
  }

  // The verdict is what the files hold, whatever a write on the way returned; read before
  // ksmd restarts, since a scan-time advisor moves pages_to_scan after each full scan.
  const verdict = (file: string, v: string): void => {
    const left = now(file);
    if (left === v) problems.delete(file);
    else if (!problems.has(file)) problems.set(file, `${join(dir, file)}=${v} (it holds ${left ?? 'nothing'})`);
  };
  for (const [file, v] of value) if (file !== 'run') verdict(file, v);
  const run = value.get('run');
  if (run !== undefined) {
    put('run', run);
    verdict('run', run);
  }
  return [...problems.values()];
}

/**
 * A KSM counter read many times a millisecond: the file stays open and each read is one
 * pread at offset 0 (sysfs builds the text anew on every read from the start).
 */
export class KsmCounter {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(32);

  constructor(file: string, dir = KSM_DIR) {
    this.#fd = openSync(join(dir, file), 'r');
  }

  read(): number {
    const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0);
    return Number(this.#buf.toString('latin1', 0, n).trim());
  }

  close(): void {
    closeSync(this.#fd);
  }
}
