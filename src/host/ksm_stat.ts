/**
 * /proc/PID/ksm_stat of live processes: one parser for its six fields, readers that expect
 * the process to vanish, and the scan of /proc for processes KSM already knows about.
 */
import { readFileSync } from 'node:fs';
import type { KsmStat } from '../lib/ksm_files.ts';
import { listPids, readComm } from './procfs.ts';

/** One process's /proc/PID/ksm_stat (Linux 6.18: six fields), with its pid and comm. */
export interface KsmProcessStat extends KsmStat {
  readonly pid: number;
  readonly comm: string;
}

/**
 * The values of the named lines of /proc/vmstat (`name value`): the machine's KSM events
 * (cow_ksm, ksm_swpin_copy). A line missing is left out.
 */
export function readKsmVmstat(fields: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync('/proc/vmstat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ');
    if (name !== undefined && value !== undefined && fields.includes(name)) out.set(name, Number(value));
  }
  return out;
}

/** Field name to its text: `ksm_rmap_items 10` and `ksm_merge_any: yes` both parse. */
export function parseKsmStat(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):?\s+(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return out;
}

/** The typed reading of ksm_stat's text: counts as numbers (0 when absent), yes/no as booleans. */
export function parseKsmStatText(pid: number, comm: string, text: string): KsmProcessStat {
  const fields = parseKsmStat(text);
  const num = (name: string): number => {
    const v = Number(fields.get(name) ?? '0');
    return Number.isFinite(v) ? v : 0;
  };
  return {
    pid,
    comm,
    ksm_rmap_items: num('ksm_rmap_items'),
    ksm_zero_pages: num('ksm_zero_pages'),
    ksm_merging_pages: num('ksm_merging_pages'),
    ksm_process_profit: num('ksm_process_profit'),
    ksm_merge_any: fields.get('ksm_merge_any') === 'yes',
    ksm_mergeable: fields.get('ksm_mergeable') === 'yes',
  };
}

/** The text of a /proc/PID file under `proc`, or undefined if the process is gone or hidden. */
function readProcFile(pid: number, file: string, proc = '/proc'): string | undefined {
  try {
    return readFileSync(`${proc}/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** ksm_stat's fields as text, or undefined when the process is gone (or not ours to read). */
export function readKsmStat(pid: number): Map<string, string> | undefined {
  const text = readProcFile(pid, 'ksm_stat');
  return text === undefined ? undefined : parseKsmStat(text);
}

/** A process's ksm_stat with its comm, typed, or undefined when it is gone. */
export function readProcessKsmStat(pid: number): KsmProcessStat | undefined {
  const text = readProcFile(pid, 'ksm_stat');
  return text === undefined ? undefined : parseKsmStatText(pid, readComm(pid) ?? '?', text);
}

/** /proc/PID/ksm_merging_pages, trimmed, or undefined when the process is gone. */
export function readKsmMergingPages(pid: number): string | undefined {
  return readProcFile(pid, 'ksm_merging_pages')?.trim();
}

/** Any KSM activity: items, merged or zero pages, a profit, MERGE_ANY or a mergeable VMA. */
export function hasKsmActivity(s: KsmProcessStat): boolean {
  return (
    s.ksm_rmap_items !== 0 ||
    s.ksm_zero_pages !== 0 ||
    s.ksm_merging_pages !== 0 ||
    s.ksm_process_profit !== 0 ||
    s.ksm_merge_any ||
    s.ksm_mergeable
  );
}

/** Profit descending, then pid ascending, so equal rows keep a stable order. */
export function byProfit(a: KsmProcessStat, b: KsmProcessStat): number {
  return b.ksm_process_profit - a.ksm_process_profit || a.pid - b.pid;
}

/**
 * Every process with KSM activity, under `proc` (a directory laid out as /proc, for tests),
 * by profit. A process that exits between listing and reading is skipped, as are kernel
 * threads (no mm, nothing to show).
 */
export function readKsmProcesses(proc = '/proc'): KsmProcessStat[] {
  const out: KsmProcessStat[] = [];
  for (const pid of listPids(proc)) {
    const text = readProcFile(pid, 'ksm_stat', proc);
    if (text === undefined) continue; // vanished, or not ours to read
    const s = parseKsmStatText(pid, '', text);
    if (!hasKsmActivity(s)) continue; // most processes: their comm is not read
    const comm = readComm(pid, proc);
    if (comm === undefined) continue; // vanished after the first read
    out.push({ ...s, comm });
  }
  return out.sort(byProfit);
}

/** A process that KSM already knows about, and why it counts. */
export interface KsmUser {
  readonly pid: number;
  readonly comm: string;
  readonly why: string;
}

/**
 * Every process except `exclude` that KSM is tracking or could be: it has rmap_items,
 * merged or zero pages, MERGE_ANY, or a mergeable VMA. The counters are global, so any
 * such process would spoil a kernel run.
 */
export function findKsmUsers(exclude: ReadonlySet<number>): KsmUser[] {
  const users: KsmUser[] = [];
  for (const pid of listPids()) {
    if (exclude.has(pid)) continue;
    const stat = readKsmStat(pid);
    if (stat === undefined) continue;
    const reasons: string[] = [];
    for (const f of ['ksm_rmap_items', 'ksm_merging_pages', 'ksm_zero_pages'] as const) {
      const v = Number(stat.get(f) ?? '0');
      if (v > 0) reasons.push(`${f} ${v}`);
    }
    for (const f of ['ksm_merge_any', 'ksm_mergeable'] as const) {
      if (stat.get(f) === 'yes') reasons.push(`${f} yes`);
    }
    if (reasons.length > 0) users.push({ pid, comm: readComm(pid) ?? '?', why: reasons.join(', ') });
  }
  return users;
}
