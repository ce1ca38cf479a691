/**
 * The live KSM of this machine, read-only: every file of /sys/kernel/mm/ksm and the
 * /proc/PID/ksm_stat of every process KSM knows about. Reading never changes anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readComm } from './procfs.ts';

export const KSM_SYSFS_DIR = '/sys/kernel/mm/ksm';

/** One process's /proc/PID/ksm_stat (Linux 6.18: six fields), with its pid and comm. */
export interface KsmProcessStat {
  readonly pid: number;
  readonly comm: string;
  readonly ksm_rmap_items: number;
  readonly ksm_zero_pages: number;
  readonly ksm_merging_pages: number;
  readonly ksm_process_profit: number;
  readonly ksm_merge_any: boolean;
  readonly ksm_mergeable: boolean;
}

/** One reading of the machine. */
export interface KsmStatus {
  /** Wall-clock time of the reading, ISO 8601. */
  readonly time: string;
  /** Every file of /sys/kernel/mm/ksm: numbers as numbers, selector files as their selected word. */
  readonly ksm: Readonly<Record<string, number | string>>;
  /** Processes with any KSM activity, by ksm_process_profit descending (then pid). */
  readonly processes: readonly KsmProcessStat[];
}

/** What a sysfs file shows as a value: a number when it is one, else the word in brackets. */
export function parseKsmValue(text: string): number | string {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  const m = /\[([^\]]*)\]/.exec(t);
  return m?.[1] ?? t;
}

/** Every readable file of the KSM directory, in name order. */
export function readKsmSysfs(dir = KSM_SYSFS_DIR): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const name of readdirSync(dir).sort()) {
    try {
      out[name] = parseKsmValue(readFileSync(join(dir, name), 'utf8'));
    } catch {
      // Write-only or vanished: nothing to show.
    }
  }
  return out;
}

/** Parses the text of /proc/PID/ksm_stat (`ksm_rmap_items 10`, `ksm_merge_any: yes`). */
export function parseKsmStatText(pid: number, comm: string, text: string): KsmProcessStat {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):?\s+(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) fields.set(m[1], m[2]);
  }
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
 * Every process with KSM activity. A process that exits between listing /proc and reading
 * its files is skipped, as are kernel threads (no mm, nothing to show).
 */
export function readKsmProcesses(proc = '/proc'): KsmProcessStat[] {
  const out: KsmProcessStat[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let text: string;
    try {
      text = readFileSync(`${proc}/${entry}/ksm_stat`, 'utf8');
    } catch {
      continue; // vanished, or not ours to read
    }
    const comm = proc === '/proc' ? readComm(pid) : readCommAt(proc, entry);
    if (comm === undefined) continue; // vanished after the first read
    const s = parseKsmStatText(pid, comm, text);
    if (hasKsmActivity(s)) out.push(s);
  }
  return out.sort(byProfit);
}

function readCommAt(proc: string, entry: string): string | undefined {
  try {
    return readFileSync(`${proc}/${entry}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** One reading of sysfs and of every process, stamped with the wall clock. */
export function readKsmStatus(dir = KSM_SYSFS_DIR, proc = '/proc'): KsmStatus {
  return { time: new Date().toISOString(), ksm: readKsmSysfs(dir), processes: readKsmProcesses(proc) };
}
