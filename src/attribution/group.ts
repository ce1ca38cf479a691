/**
 * The attribution of processes grouped: by cgroup (systemd units and containers are
 * cgroups), by comm (the program), or one row per process; and cut to the top N rows plus
 * one "other" row, so a host with thousands of processes gives a bounded number of series.
 * A group's shares are the sum of its processes' (exact), and the bytes of the rows shown
 * are apportioned among those rows, so they add up to the same total however they are cut.
 */
import { rmapItemBytes } from '../ksm/profit.ts';
import { addShares, apportionBytes, sharesPages } from './apportion.ts';
import type { AttributedFigures, Attribution, ProcessAttribution } from './attribute.ts';

export type GroupBy = 'process' | 'cgroup' | 'comm';

export const GROUP_BYS: readonly GroupBy[] = ['process', 'cgroup', 'comm'];

/** One row: a process, a cgroup, a comm, or the rest ("other"). */
export interface AttributionGroup extends AttributedFigures {
  /** The pid (as text), the cgroup path, the comm, or OTHER. */
  readonly key: string;
  /** For a process row: its pid and comm and cgroup; for a group, its processes' pids. */
  readonly pids: readonly number[];
  readonly comm?: string;
  readonly cgroup?: string;
  readonly processes: number;
}

/** The key of the row that gathers everything past the top N. */
export const OTHER = 'other';

function keyOf(p: ProcessAttribution, by: GroupBy): string {
  return by === 'process' ? String(p.pid) : by === 'cgroup' ? p.cgroup : p.comm;
}

/** Rows of processes summed; bytes are filled in by apportion() afterwards. */
function sum(key: string, ps: readonly ProcessAttribution[], single: boolean): AttributionGroup {
  const total = (f: (p: ProcessAttribution) => number): number => ps.reduce((t, p) => t + f(p), 0);
  const shares = addShares(ps.map((p) => p.shares));
  const zero = total((p) => p.ksm_zero_pages);
  const rmap = total((p) => p.ksm_rmap_items);
  const only = single ? ps[0] : undefined;
  return {
    key,
    pids: ps.map((p) => p.pid),
    ...(only === undefined ? {} : { comm: only.comm, cgroup: only.cgroup }),
    processes: ps.length,
    ksm_rmap_items: rmap,
    ksm_zero_pages: zero,
    ksm_merging_pages: total((p) => p.ksm_merging_pages),
    ksm_process_profit: total((p) => p.ksm_process_profit),
    ksm_mappings: total((p) => p.ksm_mappings),
    shares,
    saved_pages: sharesPages(shares) + zero,
    saved_bytes: 0,
    rmap_bytes: rmapItemBytes(rmap),
    profit_bytes: 0,
    ksmd_work_share: total((p) => p.ksmd_work_share),
  };
}

/** Fills in whole bytes, apportioned among exactly these rows. */
function apportion(rows: AttributionGroup[]): AttributionGroup[] {
  const bytes = apportionBytes(rows.map((r) => ({ shares: r.shares, wholePages: r.ksm_zero_pages })));
  return rows.map((r, i) => ({ ...r, saved_bytes: bytes[i]!, profit_bytes: bytes[i]! - r.rmap_bytes }));
}

/** Largest saving first; Array.prototype.sort is stable, so equal rows keep their order. */
function bySaving(a: AttributionGroup, b: AttributionGroup): number {
  return b.saved_pages - a.saved_pages || b.ksm_rmap_items - a.ksm_rmap_items;
}

export interface GroupOptions {
  /** Keep the first `top` rows by saving and sum the rest into one OTHER row; default all. */
  readonly top?: number;
}

/**
 * The rows of `a` grouped `by`, largest saving first (OTHER last), their bytes apportioned
 * among themselves. For `process` each row is one process (its key the pid), and its bytes
 * are those of `a` unless rows were cut; for `cgroup` and `comm` a row sums its processes.
 * Rows are apportioned in the order of their first process in `a`, which breaks ties.
 */
export function groupAttribution(a: Attribution, by: GroupBy, opts: GroupOptions = {}): AttributionGroup[] {
  const groups = new Map<string, ProcessAttribution[]>();
  for (const p of a.processes) {
    const k = keyOf(p, by);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [p]);
    else g.push(p);
  }
  const rows = [...groups].map(([k, ps]) => sum(k, ps, by === 'process'));
  const top = opts.top;
  if (top === undefined || rows.length <= top) return apportion(rows).sort(bySaving);
  const keep = new Set([...rows].sort(bySaving).slice(0, top));
  const rest = new Set(rows.filter((r) => !keep.has(r)).flatMap((r) => groups.get(r.key) ?? []));
  const other = sum(
    OTHER,
    a.processes.filter((p) => rest.has(p)),
    false,
  );
  const shown = apportion([...rows.filter((r) => keep.has(r)), other]);
  return [...shown.slice(0, -1).sort(bySaving), shown.at(-1)!];
}
