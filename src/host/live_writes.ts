/**
 * The only way samepage changes the live machine: each function here first records in a
 * journal (journal.ts) what it is about to change and the value that undoes it, and only
 * then writes. `npm run lint` (scripts/lint-layers.mjs, JOURNALED) refuses an import of the
 * raw writers (writeSysfs, REAL_SYSFS, restoreKsm, setTaskCpus, injectSyscalls) anywhere
 * else outside tests, so no code path can change the machine without leaving that record.
 *
 * The owner of a journal (live_changes.ts) and a recoverer that has claimed a dead owner's
 * journal (recover.ts) both write through here, so a recovery killed half-way is itself
 * recoverable: its intermediate writes (run=2 while knobs are restored, say) are journaled
 * as values samepage wrote.
 */
import {
  type InjectAnswer,
  type InjectedCall,
  type InjectGuard,
  injectSyscalls,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  PR_SET_MEMORY_MERGE,
} from './inject.ts';
import type { JournalFile, MadviseEntry, SysfsEntry } from './journal.ts';
import { identify } from './journal.ts';
import { cpusAllowed, setTaskCpus } from './ksmd_affinity.ts';
import { REAL_SYSFS, restorableValue, restoreKsm, type SavedFile, type SysfsIo } from './ksm_sysfs.ts';
import { readProcessKsmStat } from './ksm_stat.ts';
import { readComm } from './procfs.ts';

/** How journaled writes reach the machine; tests pass a fake sysfs and their own hook. */
export interface LiveEnv {
  /** sysfs reads and writes; default the real /sys. */
  readonly io?: SysfsIo;
  /** The samepage-inject-syscall binary; default native/build's. */
  readonly injector?: string;
  /**
   * Told, after the journal is written and before the machine is, what is about to change:
   * the owner's test hook counts live changes here and may stop the process at one.
   */
  readonly beforeWrite?: (what: string) => void;
  /** The processes that use KSM now but this one, described; default findKsmUsers's (ksm_stat.ts). */
  readonly ksmUsers?: () => readonly string[];
}

/** The value a file will show after `value` is written: numbers without sign or zeros, a selector's word. */
export function shownValue(value: string): string {
  const n = /^\s*\+?(\d+)\s*$/.exec(value);
  return n?.[1] !== undefined ? BigInt(n[1]).toString() : restorableValue(value);
}

/** The journal's entry for a sysfs file, if any. */
export function sysfsEntry(file: JournalFile, path: string): SysfsEntry | undefined {
  return file.entries.find((e): e is SysfsEntry => e.kind === 'sysfs' && e.path === path);
}

/**
 * Records the current values of sysfs files as their originals, in one write of the
 * journal, before any of them changes (files already journaled keep their original).
 */
export function trackSysfs(file: JournalFile, paths: readonly string[], env: LiveEnv): void {
  const io = env.io ?? REAL_SYSFS;
  const fresh = paths.filter((p) => sysfsEntry(file, p) === undefined);
  file.add(
    fresh.flatMap((path) => {
      const text = io.read(path);
      // Unreadable (write-only, vanished): nothing samepage could put back, so nothing to record.
      return text === undefined ? [] : [{ kind: 'sysfs' as const, path, original: restorableValue(text), written: [] }];
    }),
  );
}

/** Writes one sysfs file: journaled first (its original, if new, and this value), then written; 0 or -errno. */
export function writeSysfsJournaled(file: JournalFile, path: string, value: string, env: LiveEnv): number {
  journalSysfsWrite(file, path, value, env);
  env.beforeWrite?.(`${path}=${value}`);
  return (env.io ?? REAL_SYSFS).write(path, value);
}

/**
 * Journals a value that will be written to a sysfs file (its original too, if new), without
 * writing it: for a writer that cannot journal itself (the thread that holds ksmd), so that
 * recovery knows the value as samepage's.
 */
export function journalSysfsWrite(file: JournalFile, path: string, value: string, env: LiveEnv): void {
  const shown = shownValue(value);
  const entry = sysfsEntry(file, path);
  if (entry === undefined) {
    const text = (env.io ?? REAL_SYSFS).read(path);
    file.add([{ kind: 'sysfs', path, original: text === undefined ? '' : restorableValue(text), written: [shown] }]);
  } else if (shown !== entry.original && !entry.written.includes(shown)) {
    file.update({ ...entry, written: [...entry.written, shown] });
  }
}

/**
 * restoreKsm (ksm_sysfs.ts: the kernel's order of KSM writes) with every write journaled,
 * including the intermediate ones (run=2, advisor_mode=none...). Returns its problems.
 */
export function restoreKsmJournaled(
  file: JournalFile,
  saved: readonly SavedFile[],
  dir: string,
  env: LiveEnv,
): string[] {
  const io = env.io ?? REAL_SYSFS;
  const journaled: SysfsIo = {
    read: io.read,
    write: (path, value) => writeSysfsJournaled(file, path, value, env),
    ...(io.sleepSync === undefined ? {} : { sleepSync: io.sleepSync }),
  };
  return restoreKsm(saved, dir, journaled);
}

/**
 * Sets a task's CPU list (ksmd's): journaled first (its CPUs now, if new, and `list`).
 * Returns the reason it could not, or undefined.
 */
export function setCpusJournaled(file: JournalFile, pid: number, list: string, env: LiveEnv): string | undefined {
  const entry = file.entries.find((e) => e.kind === 'ksmd_cpus' && e.pid === pid);
  if (entry === undefined) {
    const who = identify(pid);
    const now = cpusAllowed(pid);
    if (who === undefined || now === undefined) return `cannot read the CPUs of task ${pid} (/proc/${pid}/status)`;
    file.add([{ kind: 'ksmd_cpus', ...who, original: now, written: [list] }]);
  } else if (entry.kind === 'ksmd_cpus' && list !== entry.original && !entry.written.includes(list)) {
    file.update({ ...entry, written: [...entry.written, list] });
  }
  env.beforeWrite?.(`CPUs of task ${pid} = ${list}`);
  return setTaskCpus(pid, list);
}

/** What setMergeAnyJournaled did: the injector's answer, and the entry when MERGE_ANY was to change. */
export interface MergeAnyWrite {
  readonly answer: InjectAnswer;
  readonly entry?: number;
}

/**
 * Makes process `pid` call prctl(PR_SET_MEMORY_MERGE, value). When its MERGE_ANY is not
 * `value` already, the journal first records it (pid, start time, comm, the flag now).
 */
export function setMergeAnyJournaled(file: JournalFile, pid: number, value: boolean, env: LiveEnv): MergeAnyWrite {
  const who = identify(pid);
  const now = readProcessKsmStat(pid)?.ksm_merge_any;
  const entry =
    who === undefined || now === undefined || now === value
      ? undefined
      : file.add([{ kind: 'merge_any', ...who, comm: readComm(pid) ?? '?', original: now, written: value }])[0];
  return {
    answer: injectJournaled(pid, [{ call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: value ? 1 : 0 }], env),
    ...(entry === undefined ? {} : { entry }),
  };
}

/** [start, length] byte ranges less the parts that `minus` covers. */
export function subtractRanges(
  ranges: ReadonlyArray<readonly [number, number]>,
  minus: ReadonlyArray<readonly [number, number]>,
): Array<[number, number]> {
  let out: Array<[number, number]> = ranges.map(([s, l]) => [s, l]);
  for (const [ms, ml] of minus) {
    const me = ms + ml;
    out = out.flatMap(([s, l]): Array<[number, number]> => {
      const e = s + l;
      if (me <= s || ms >= e) return [[s, l]];
      const parts: Array<[number, number]> = [];
      if (ms > s) parts.push([s, ms - s]);
      if (me < e) parts.push([me, e - me]);
      return parts;
    });
  }
  return out;
}

/** Takes `ranges` out of madvise entry `id`; the entry goes when nothing is left in it. */
function forgetRanges(file: JournalFile, id: number, ranges: ReadonlyArray<readonly [number, number]>): void {
  const e = file.entry(id);
  if (e?.kind !== 'madvise' || ranges.length === 0) return;
  const left = subtractRanges(e.ranges, ranges);
  if (left.length === 0) file.remove([id]);
  else file.update({ ...e, ranges: left });
}

/** madvise's -ENOMEM: the range held a hole, the mapped parts were advised all the same (mm/madvise.c). */
const ENOMEM = 12;

/**
 * Makes process `pid` madvise(MADV_MERGEABLE) each range, journaled first: into entry `id`
 * when given (the ranges are added to it), else into a new entry. Returns the entry and the
 * injector's answer (one result per range). Ranges whose call did not run, or failed without
 * advising anything, leave the entry again, so that no restore ever unmarks what samepage did
 * not mark. `guard` is what the injector checks in the target first (inject.ts).
 */
export function madviseJournaled(
  file: JournalFile,
  pid: number,
  ranges: ReadonlyArray<readonly [number, number]>,
  env: LiveEnv,
  id?: number,
  guard?: InjectGuard,
): { entry: number | undefined; answer: InjectAnswer } {
  const existing = id === undefined ? undefined : file.entry(id);
  let entry: number | undefined;
  if (existing?.kind === 'madvise') {
    file.update({ ...existing, ranges: [...existing.ranges, ...ranges.map(([s, l]) => [s, l] as [number, number])] });
    entry = existing.id;
  } else {
    const who = identify(pid);
    if (who === undefined) return { entry: undefined, answer: { results: [], error: `process ${pid} is gone` } };
    entry = file.add([
      {
        kind: 'madvise',
        ...who,
        comm: readComm(pid) ?? '?',
        ranges: ranges.map(([s, l]) => [s, l] as [number, number]),
      } satisfies Omit<MadviseEntry, 'id'>,
    ])[0];
  }
  const calls = ranges.map(
    ([address, length]): InjectedCall => ({ call: 'madvise', address, length, advice: MADV_MERGEABLE }),
  );
  const answer = injectJournaled(pid, calls, env, guard);
  if (entry !== undefined) {
    const notMarked = ranges.filter((_, i) => {
      const r = answer.results[i]?.result;
      return r === undefined || (r !== 0 && r !== -ENOMEM);
    });
    forgetRanges(file, entry, notMarked);
    if (file.entry(entry) === undefined) entry = undefined;
  }
  return { entry, answer };
}

/**
 * Makes process `pid` madvise(MADV_UNMERGEABLE) ranges that samepage marked (journaled in
 * entry `id`), then takes from the entry those whose call ran (0, or -ENOMEM for a range
 * unmapped meanwhile). Unmarking first and forgetting after means a crash in between leaves
 * only an unmark to be repeated, which changes nothing.
 */
export function unmadviseJournaled(
  file: JournalFile,
  pid: number,
  ranges: ReadonlyArray<readonly [number, number]>,
  env: LiveEnv,
  id: number | undefined,
  guard?: InjectGuard,
): InjectAnswer {
  const calls = ranges.map(
    ([address, length]): InjectedCall => ({ call: 'madvise', address, length, advice: MADV_UNMERGEABLE }),
  );
  const answer = injectJournaled(pid, calls, env, guard);
  if (id !== undefined) {
    const done = ranges.filter((_, i) => {
      const r = answer.results[i]?.result;
      return r === 0 || r === -ENOMEM;
    });
    forgetRanges(file, id, done);
  }
  return answer;
}

/**
 * Injects calls that undo a journaled change (the entry exists already) or that change
 * nothing lasting; told to the hook like every live write.
 */
export function injectJournaled(
  pid: number,
  calls: readonly InjectedCall[],
  env: LiveEnv,
  guard?: InjectGuard,
): InjectAnswer {
  env.beforeWrite?.(
    `${calls.map((c) => (c.call === 'prctl' ? `prctl(${c.option}, ${c.arg})` : `madvise(0x${c.address.toString(16)}, ${c.length}, ${c.advice})`)).join(', ')} in process ${pid}`,
  );
  return injectSyscalls(pid, calls, env.injector, guard);
}
