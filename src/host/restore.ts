/**
 * Undoing journaled changes: one rule, for the owner at its end and for a recoverer after
 * the owner died. What a thing holds now decides, entry by entry:
 *   - its original value: nothing to do (`unchanged`);
 *   - a value samepage wrote (the journal lists every one): the original is put back
 *     (`restored`, or `failed` with the reason, and the entry stays for a later try);
 *   - anything else: someone changed it after samepage did, and their value is left alone
 *     (`kept`), with a message saying so: samepage never restores over a person's change;
 *   - a process that has exited, or whose pid another process now has: nothing to undo
 *     (`gone`).
 * KSM's files go back in the kernel's order (restoreKsm: run=2 first only when
 * max_page_sharing or merge_across_nodes must change); process state first, then sysfs,
 * then ksmd's CPUs.
 */
import { dirname, join } from 'node:path';
import { describeErrno } from '../lib/errno.ts';
import { type InjectAnswer, MADV_UNMERGEABLE, PR_SET_MEMORY_MERGE, waitForInjection } from './inject.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { unmarkPieces } from '../policy/marking.ts';
import type { Range } from '../policy/ranges.ts';
import { LivePlusHost } from './plus_host.ts';
import type {
  JournalEntry,
  JournalFile,
  KsmdCpusEntry,
  KsmItemsEntry,
  MadviseEntry,
  MergeAnyEntry,
  SysfsEntry,
} from './journal.ts';
import { stillRunning } from './journal.ts';
import { cpusAllowed } from './ksmd_affinity.ts';
import { findKsmUsers, readProcessKsmStat } from './ksm_stat.ts';
import { countedKsmItems, KSM_DIR, readSysfs, restorableValue, SYS_MM } from './ksm_sysfs.ts';
import {
  injectJournaled,
  type LiveEnv,
  restoreKsmJournaled,
  setCpusJournaled,
  sysfsEntry,
  writeSysfsJournaled,
} from './live_writes.ts';
import { rangesWithFlag } from '../lib/proc_maps.ts';
import { readVmaFlags, sleepSync } from './procfs.ts';

export type RestoreResult = 'restored' | 'unchanged' | 'kept' | 'gone' | 'failed';

/** What became of one journal entry. */
export interface RestoreOutcome {
  readonly id: number;
  readonly kind: JournalEntry['kind'];
  /** What the entry is about: a path, "ksmd's CPUs", "MERGE_ANY of 123 (python3)"... */
  readonly target: string;
  readonly result: RestoreResult;
  /** What it held before this restore, and the original it should hold. */
  readonly found?: string;
  readonly original?: string;
  /** The outcome in words, for people. */
  readonly detail: string;
}

/** Where the sysfs files are (tests use a fake tree). */
export interface RestorePlaces {
  /** The KSM directory, restored in the kernel's order. */
  readonly ksmDir: string;
  /** Journal entries for files outside this directory are refused: a journal never makes samepage write elsewhere. */
  readonly sysRoot: string;
}

export const LIVE_PLACES: RestorePlaces = { ksmDir: KSM_DIR, sysRoot: SYS_MM };

/** The outcomes that leave nothing to do: their entries can go. */
export function settled(o: RestoreOutcome): boolean {
  return o.result !== 'failed';
}

/**
 * Undoes the entries `ids` of `file` (all by default) and drops every entry that is settled
 * (restored, unchanged, kept or gone); failed ones stay in the journal. Synchronous, so it
 * also serves exit and signal paths.
 */
export function restoreEntries(
  file: JournalFile,
  env: LiveEnv,
  places: RestorePlaces = LIVE_PLACES,
  ids?: readonly number[],
): RestoreOutcome[] {
  const wanted = ids === undefined ? undefined : new Set(ids);
  const entries = file.entries.filter((e) => wanted === undefined || wanted.has(e.id));
  const before = new Set(file.entries.map((e) => e.id));
  const runPath = join(places.ksmDir, 'run');
  const reaping = entries.some((e) => e.kind === 'ksm_items');
  const outcomes: RestoreOutcome[] = [
    ...entries.filter((e): e is MergeAnyEntry => e.kind === 'merge_any').map((e) => restoreMergeAny(e, env)),
    ...entries.filter((e): e is MadviseEntry => e.kind === 'madvise').map((e) => restoreMadvise(e, env)),
    // Before the sysfs files: its run=2 is journaled, and run goes back with them.
    ...entries.filter((e): e is KsmItemsEntry => e.kind === 'ksm_items').map((e) => reapKsmItems(file, e, env, places)),
  ];
  outcomes.push(
    ...restoreSysfs(
      file,
      file.entries.filter(
        (e): e is SysfsEntry =>
          e.kind === 'sysfs' &&
          (wanted === undefined || wanted.has(e.id) || !before.has(e.id) || (reaping && e.path === runPath)),
      ),
      env,
      places,
    ),
    ...entries.filter((e): e is KsmdCpusEntry => e.kind === 'ksmd_cpus').map((e) => restoreCpus(file, e, env)),
  );
  // Entries the restore itself added (the run=2 of restoreKsm on a journal without `run`)
  // go too once their file is back at its original.
  const read = env.io?.read ?? readSysfs;
  const extra = file.entries.filter(
    (e) => !before.has(e.id) && e.kind === 'sysfs' && restorableValue(read(e.path) ?? '') === e.original,
  );
  file.remove([...outcomes.filter(settled).map((o) => o.id), ...extra.map((e) => e.id)]);
  return outcomes;
}

/** How long a reap waits for processes to stop using KSM: samepage's own, just killed, die within milliseconds. */
const KSM_USERS_WAIT_MS = 1000;

/**
 * What the processes samepage started left counted in KSM, reaped: run=2 (journaled; run goes
 * back with the sysfs files after this), once no process uses KSM, so that it unmerges
 * nobody's pages. Where some still do after KSM_USERS_WAIT_MS, ksmd reaps them when it
 * next runs, as Linux would.
 */
function reapKsmItems(file: JournalFile, e: KsmItemsEntry, env: LiveEnv, places: RestorePlaces): RestoreOutcome {
  const read = env.io?.read ?? readSysfs;
  const target = "KSM's items of samepage's processes";
  const counted = countedKsmItems(read, places.ksmDir);
  if (counted.length === 0) return outcome(e, target, 'unchanged', `${target}: none counted`);
  const users = env.ksmUsers ?? (() => findKsmUsers(new Set([process.pid])).map((u) => `${u.pid} (${u.comm})`));
  const sleep = env.io?.sleepSync ?? sleepSync;
  const deadline = performance.now() + KSM_USERS_WAIT_MS;
  let using = users();
  while (using.length > 0 && performance.now() < deadline) {
    sleep(10);
    using = users();
  }
  if (using.length > 0) {
    return outcome(
      e,
      target,
      'kept',
      `${target} (${counted.join(', ')}): not reaped, since ${using.join(', ')} use KSM and run=2 would unmerge their pages; ksmd reaps them when it next runs`,
    );
  }
  const r = writeSysfsJournaled(file, join(places.ksmDir, 'run'), '2', env);
  if (r !== 0)
    return outcome(e, target, 'failed', `${target} (${counted.join(', ')}): run=2 failed: ${describeErrno(r)}`);
  return outcome(e, target, 'restored', `${target} (${counted.join(', ')}) reaped with run=2`);
}

function outcome(
  e: JournalEntry,
  target: string,
  result: RestoreResult,
  detail: string,
  values: { found?: string | undefined; original?: string | undefined } = {},
): RestoreOutcome {
  return {
    id: e.id,
    kind: e.kind,
    target,
    result,
    ...(values.found === undefined ? {} : { found: values.found }),
    ...(values.original === undefined ? {} : { original: values.original }),
    detail,
  };
}

/** The sysfs entries: classified by what each file holds, then KSM's in the kernel's order, the others one by one. */
function restoreSysfs(
  file: JournalFile,
  entries: readonly SysfsEntry[],
  env: LiveEnv,
  places: RestorePlaces,
): RestoreOutcome[] {
  const read = env.io?.read ?? readSysfs;
  const now = (path: string): string | undefined => {
    const text = read(path);
    return text === undefined ? undefined : restorableValue(text);
  };
  const inKsm = (e: SysfsEntry): boolean => dirname(e.path) === places.ksmDir;
  const runPath = join(places.ksmDir, 'run');
  // A scan-time advisor that samepage switched on moves pages_to_scan by itself after each
  // full scan: that value is samepage's doing too, not a person's.
  const advisor = sysfsEntry(file, join(places.ksmDir, 'advisor_mode'));
  const advisorMoved = (e: SysfsEntry): boolean =>
    e.path === join(places.ksmDir, 'pages_to_scan') &&
    advisor !== undefined &&
    advisor.written.includes('scan-time') &&
    now(advisor.path) === 'scan-time';

  const done: RestoreOutcome[] = [];
  const todo: Array<{ e: SysfsEntry; found: string }> = [];
  const keep = new Set<string>();
  for (const e of entries) {
    const found = now(e.path);
    if (!e.path.startsWith(`${places.sysRoot}/`) || e.path.split('/').includes('..')) {
      done.push(outcome(e, e.path, 'failed', `${e.path}: not under ${places.sysRoot}; samepage writes nowhere else`));
    } else if (found === undefined) {
      done.push(outcome(e, e.path, 'gone', `${e.path}: no longer readable; nothing to restore`));
    } else if (found === e.original) {
      done.push(
        outcome(e, e.path, 'unchanged', `${e.path}: ${e.original}, as before`, { found, original: e.original }),
      );
    } else if (e.written.includes(found) || advisorMoved(e)) {
      todo.push({ e, found });
    } else {
      keep.add(e.path);
      done.push(
        outcome(
          e,
          e.path,
          'kept',
          `${e.path}: left at ${found}, which someone wrote after samepage (samepage wrote ${e.written.join(', ') || 'nothing yet'}; the original was ${e.original})`,
          { found, original: e.original },
        ),
      );
    }
  }

  const problems: string[] = [];
  const ksmTodo = todo.filter(({ e }) => inKsm(e));
  if (ksmTodo.some(({ e }) => e.path !== runPath)) {
    // Every KSM file not kept goes to restoreKsm, unchanged ones too: its order depends on
    // the advisor's and pages_to_scan's targets. `run` ends at its original, or where a
    // person left it, or where it is when samepage never wrote it.
    const saved = entries
      .filter((e) => inKsm(e) && !keep.has(e.path) && e.path !== runPath)
      .map((e) => ({ path: e.path, value: e.original }));
    const run = sysfsEntry(file, runPath);
    const runTarget = run !== undefined && !keep.has(runPath) ? run.original : now(runPath);
    if (runTarget !== undefined) saved.push({ path: runPath, value: runTarget });
    problems.push(...restoreKsmJournaled(file, saved, places.ksmDir, env));
  } else {
    for (const { e } of ksmTodo) {
      const r = writeSysfsJournaled(file, e.path, e.original, env);
      if (r !== 0) problems.push(`${e.path}=${e.original} (${describeErrno(r)})`);
    }
  }
  for (const { e } of todo.filter(({ e }) => !inKsm(e))) {
    const r = writeSysfsJournaled(file, e.path, e.original, env);
    if (r !== 0) problems.push(`${e.path}=${e.original} (${describeErrno(r)})`);
  }

  for (const { e, found } of todo) {
    const after = now(e.path);
    // restoreKsm's problems read `PATH=VALUE (EBUSY)` or `(it holds X)`: the errno is what adds to "still X".
    const errno = problems.find((p) => p.startsWith(`${e.path}=`))?.match(/\((?!it holds)[^)]*\)$/)?.[0];
    done.push(
      after === e.original
        ? outcome(e, e.path, 'restored', `${e.path}: ${found} -> ${e.original}`, { found, original: e.original })
        : outcome(
            e,
            e.path,
            'failed',
            `${e.path}: still ${after ?? 'unreadable'}, wanted ${e.original}${errno === undefined ? '' : ` ${errno}`}`,
            { found, original: e.original },
          ),
    );
  }
  return done.sort((a, b) => a.id - b.id);
}

function restoreCpus(file: JournalFile, e: KsmdCpusEntry, env: LiveEnv): RestoreOutcome {
  const target = `CPUs of ksmd (pid ${e.pid})`;
  if (!stillRunning(e)) return outcome(e, target, 'gone', `${target}: the thread is gone; nothing to restore`);
  const found = cpusAllowed(e.pid);
  const values = { found, original: e.original };
  if (found === e.original) return outcome(e, target, 'unchanged', `${target}: ${e.original}, as before`, values);
  if (found === undefined || !e.written.includes(found)) {
    return outcome(
      e,
      target,
      'kept',
      `${target}: left at ${found ?? '?'}, which someone set after samepage (samepage set ${e.written.join(', ')}; the original was ${e.original})`,
      values,
    );
  }
  const why = setCpusJournaled(file, e.pid, e.original, env);
  const after = cpusAllowed(e.pid);
  return after === e.original
    ? outcome(e, target, 'restored', `${target}: ${found} -> ${e.original}`, values)
    : outcome(
        e,
        target,
        'failed',
        `${target}: still ${after ?? '?'}, wanted ${e.original} (${why ?? 'no error'})`,
        values,
      );
}

const yesNo = (b: boolean | undefined): string => (b === undefined ? '?' : b ? 'yes' : 'no');

function restoreMergeAny(e: MergeAnyEntry, env: LiveEnv): RestoreOutcome {
  const target = `MERGE_ANY of process ${e.pid} (${e.comm})`;
  if (!stillRunning(e)) return outcome(e, target, 'gone', `${target}: the process has exited; nothing to undo`);
  waitForInjection(e.pid);
  const found = readProcessKsmStat(e.pid)?.ksm_merge_any;
  const values = { found: yesNo(found), original: yesNo(e.original) };
  if (found === e.original)
    return outcome(e, target, 'unchanged', `${target}: ${yesNo(e.original)}, as before`, values);
  if (found === undefined)
    return outcome(e, target, 'gone', `${target}: ksm_stat is unreadable; the process is exiting`);
  const answer = injectJournaled(e.pid, [{ call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: e.original ? 1 : 0 }], env);
  const after = readProcessKsmStat(e.pid)?.ksm_merge_any;
  if (after === e.original)
    return outcome(e, target, 'restored', `${target}: ${yesNo(found)} -> ${yesNo(e.original)}`, values);
  const why = answer.error ?? `prctl returned ${answer.results[0]?.result ?? '?'}`;
  return outcome(e, target, 'failed', `${target}: still ${yesNo(after)}, wanted ${yesNo(e.original)} (${why})`, values);
}

/** The parts of an entry's ranges that are still VM_MERGEABLE, from /proc/PID/smaps. */
function stillMergeable(e: MadviseEntry): Array<{ start: number; length: number }> | undefined {
  const vmas = readVmaFlags(e.pid);
  return vmas === undefined
    ? undefined
    : e.ranges.flatMap(([start, length]) => rangesWithFlag(vmas, start, length, 'mg'));
}

function restoreMadvise(e: MadviseEntry, env: LiveEnv): RestoreOutcome {
  const target = `${e.ranges.length} madvised range${e.ranges.length === 1 ? '' : 's'} of process ${e.pid} (${e.comm})`;
  if (!stillRunning(e)) return outcome(e, target, 'gone', `${target}: the process has exited; nothing to undo`);
  // A mark still in flight (its owner died during the injection) is judged once it is made.
  waitForInjection(e.pid);
  const stat = readProcessKsmStat(e.pid);
  if (stat?.ksm_merge_any === true) {
    return outcome(
      e,
      target,
      'kept',
      `${target}: left mergeable: the process has MERGE_ANY set now, which makes all its memory mergeable`,
    );
  }
  const parts = stillMergeable(e);
  if (parts === undefined) return outcome(e, target, 'gone', `${target}: smaps is unreadable; the process is exiting`);
  if (parts.length === 0) return outcome(e, target, 'unchanged', `${target}: none is mergeable any more`);
  const bytes = parts.reduce((n, p) => n + p.length, 0);
  // In pieces of boundedly many merged pages, one injection each, as the KSM+ daemon gives
  // ranges back: an unmark copies every merged page while it holds the process.
  const host = new LivePlusHost(() => false);
  const scratch = { vpns: new Float64Array(4096), state: new Uint8Array(4096), pfn: new Float64Array(4096) };
  const pages = parts.map((p): Range => [p.start / PAGE_SIZE, (p.start + p.length) / PAGE_SIZE]);
  const pieces = unmarkPieces(host, e.pid, pages, scratch);
  host.close();
  let answer: InjectAnswer = { results: [] };
  for (const piece of pieces) {
    answer = injectJournaled(
      e.pid,
      piece.map(([s, end]) => ({
        call: 'madvise',
        address: s * PAGE_SIZE,
        length: (end - s) * PAGE_SIZE,
        advice: MADV_UNMERGEABLE,
      })),
      env,
    );
    if (answer.error !== undefined) break;
  }
  const left = stillMergeable(e) ?? [];
  if (left.length === 0) return outcome(e, target, 'restored', `${target}: MADV_UNMERGEABLE on ${bytes} bytes`);
  const failed = answer.results.find((r) => r.result !== 0);
  const why = answer.error ?? (failed === undefined ? 'no error' : `madvise returned ${failed.result}`);
  return outcome(e, target, 'failed', `${target}: ${left.length} part(s) still mergeable (${why})`);
}
