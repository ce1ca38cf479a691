/**
 * The live /sys/kernel/mm/ksm: listing, reading, writing with the kernel's errno, and saving
 * and restoring the global knobs around a run.
 */
import { constants as fsConstants, accessSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

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
  const n = code === undefined ? undefined : (osConstants.errno as Record<string, number | undefined>)[code];
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

export function readSysfs(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
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

/** The value to write back to restore a file: a selector file is restored by its word. */
export function restorableValue(text: string): string {
  return selectedWord(text);
}

/** One saved file: its path and the value that restores it. */
export interface SavedFile {
  readonly path: string;
  readonly value: string;
}

/** Reads every writable file of the KSM directory. */
export function saveKsm(dir = KSM_DIR): SavedFile[] {
  return writableKsmFiles(dir).map((f) => {
    const path = join(dir, f);
    return { path, value: restorableValue(readFileSync(path, 'utf8')) };
  });
}

/**
 * Puts saved values back: run=2 first (it unmerges everything, which max_page_sharing and
 * merge_across_nodes need before they accept a change), then every other file whose value
 * differs, advisor_mode last among them (leaving `none` resets pages_to_scan), then run.
 * A file that refuses is retried once after the others. Returns the files it could not
 * restore, with their errno, so the caller can say so.
 */
export function restoreKsm(saved: readonly SavedFile[], dir = KSM_DIR): string[] {
  const runPath = join(dir, 'run');
  writeSysfs(runPath, '2');
  const isRun = (s: SavedFile): boolean => s.path === runPath;
  const isAdvisor = (s: SavedFile): boolean => s.path.endsWith('/advisor_mode');
  const order = [...saved.filter((s) => !isRun(s) && !isAdvisor(s)), ...saved.filter(isAdvisor)];
  const failed: Array<{ file: SavedFile; errno: number }> = [];
  const put = (s: SavedFile): number => {
    const now = readSysfs(s.path);
    if (now !== undefined && restorableValue(now) === s.value) return 0;
    return writeSysfs(s.path, s.value);
  };
  for (const s of order) {
    const r = put(s);
    if (r !== 0) failed.push({ file: s, errno: r });
  }
  const problems: string[] = [];
  for (const f of failed) {
    const r = put(f.file);
    if (r !== 0) problems.push(`${f.file.path}=${f.file.value} (errno ${-r})`);
  }
  const run = saved.find(isRun);
  if (run !== undefined) {
    const r = writeSysfs(runPath, run.value);
    if (r !== 0) problems.push(`${run.path}=${run.value} (errno ${-r})`);
  }
  return problems;
}
