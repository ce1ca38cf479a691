/**
 * Reading real processes through /proc: ksm_stat, liveness, memory and page tables.
 */
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { PAGE_SIZE } from '../../lib/sizes.ts';

/** The six fields of Linux 6.18's /proc/PID/ksm_stat, as text and as record values. */
export const KSM_STAT_FIELDS = [
  'ksm_rmap_items',
  'ksm_zero_pages',
  'ksm_merging_pages',
  'ksm_process_profit',
  'ksm_merge_any',
  'ksm_mergeable',
] as const;
export type KsmStatField = (typeof KSM_STAT_FIELDS)[number];

/** Field name to its text: `ksm_rmap_items 10` and `ksm_merge_any: yes` both parse. */
export function parseKsmStat(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):?\s+(\S+)\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out.set(m[1], m[2]);
  }
  return out;
}

/** The values of the named lines of /proc/vmstat (`name value`); a line missing is left out. */
export function readVmstat(fields: readonly string[]): Map<string, number> {
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

export function readKsmStat(pid: number): Map<string, string> | undefined {
  try {
    return parseKsmStat(readFileSync(`/proc/${pid}/ksm_stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The state letter of /proc/PID/stat, or undefined when the process is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The start time of a process (clock ticks since boot): with the pid, its identity. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the comm start at field 3 (state); starttime is field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Running, sleeping...: anything but gone or a zombie, whose mm has already been released. */
export function isAlive(pid: number): boolean {
  const s = processState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

export function readComm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function readExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** A process that KSM already knows about, found by scanning /proc/PID/ksm_stat. */
export interface KsmUser {
  readonly pid: number;
  readonly comm: string;
  readonly why: string;
}

/**
 * Every process except `exclude` that KSM is tracking or could be: it has rmap_items,
 * merged or zero pages, MERGE_ANY, or a mergeable VMA. The counters are global, so any
 * such process would spoil a run.
 */
export function findKsmUsers(exclude: ReadonlySet<number>): KsmUser[] {
  const users: KsmUser[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
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

/** Reads `length` bytes of another process's memory at `address` (a load by that process). */
export function readProcessMemory(pid: number, address: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, address + done);
      if (n === 0) throw new Error(`Short read of /proc/${pid}/mem at 0x${(address + done).toString(16)}`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

const PM_PRESENT = 1n << 63n;
const PM_PFN_MASK = (1n << 55n) - 1n;

/**
 * Pages of [address, address+length) that are present and map a real frame: the shared
 * zero page (`zeroPfn`) is not memory the process owns, so it does not count. Root sees
 * PFNs; without them (zeroPfn 0) every present page counts.
 */
export function countPresentPages(pid: number, address: number, length: number, zeroPfn: bigint): number {
  const pages = Math.ceil(length / PAGE_SIZE);
  if (pages === 0) return 0;
  const buf = Buffer.alloc(pages * 8);
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  try {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, (address / PAGE_SIZE) * 8 + done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  let count = 0;
  for (let i = 0; i < pages; i++) {
    const entry = buf.readBigUInt64LE(i * 8);
    if ((entry & PM_PRESENT) === 0n) continue;
    if (zeroPfn !== 0n && (entry & PM_PFN_MASK) === zeroPfn) continue;
    count++;
  }
  return count;
}
