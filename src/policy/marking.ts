/**
 * Which ranges to mark and which to give back. Marks: a process's pending duplicate pages
 * become as few ranges as merge_gap and max_ranges allow, inside one region each, leaving
 * out what KSM already considers and what was recently given back. Verdicts: once ksmd has
 * had demote_scans full scans over a range, a range with no KSM page is unmarked whole, and
 * one with some has its ends, and any stretch of at least SPLIT_GAP pages without a KSM
 * page, given back; pages KSM merged are never unmarked here (only when the user removes
 * the program, or at run=2 and at exit).
 */
import type { PlusKnobs } from './knobs.ts';
import { PAGE_KSM, PAGE_PRESENT, type PlusHost } from './host.ts';
import type { MarkedRange, ProcState } from './proc_state.ts';
import { coalescePages, joinRanges, type Range, subtractRanges, unionRanges } from './ranges.ts';

/** An unmerged stretch inside a range worth a VMA split to give back: 64 rmap_items cost 4 KiB. */
export const SPLIT_GAP = 64;
/** Rounds a given-back range is not marked again. */
export const COOLDOWN_ROUNDS = 5;
/** Pages looked up per pagemap read when a range is checked. */
const CHECK_CHUNK = 4096;
/**
 * What giving a page back costs the target, in units of a page KSM did not merge:
 * MADV_UNMERGEABLE runs break_ksm on every page of the range, and copies each KSM page back
 * into a page of the process's own. Measured (`node dist/bench/plus.js unmark`): 2.2-2.7 µs
 * a merged page, 0.11-0.16 µs a page that is not, besides about 0.1 ms an injection.
 */
export const UNMERGE_KSM_WEIGHT = 20;
/**
 * At most this many units in one injection, so that a target is held a bounded time while
 * a range with many merged pages is given back: the range is given back in pieces, one
 * injection each, the target running between them (docs/ksmplus-live.md, "Unmarks in
 * pieces"). 512 merged pages held a target 1.3 ms at p50 and 3.1 ms at the worst of 64
 * pieces on the busy 2-CPU machine; 1024 held it 5.7 ms at the worst.
 */
export const UNMARK_PIECE = 512 * UNMERGE_KSM_WEIGHT;

/** The ranges to mark for a process's pending pages (empties `pending`). */
export function planMarks(proc: ProcState, knobs: PlusKnobs, epoch: number): Range[] {
  if (proc.pending.length === 0) return [];
  const pages = [...new Set(proc.pending)].sort((a, b) => a - b);
  proc.pending = [];
  if (proc.ksm?.mergeAny === true) return [];
  proc.cooldown = proc.cooldown.filter((c) => c.until > epoch);
  const blocked = unionRanges(
    proc.foreign,
    proc.cooldown.map((c) => [c.start, c.end] as const),
  );
  const bounds = proc.regions.map((r) => [r.start, r.end] as const);
  const marked = proc.markedRanges();
  const fresh = coalescePages(
    pages.filter((p) => !isIn(marked, p) && !isIn(blocked, p)),
    knobs.merge_gap,
    bounds,
  );
  if (fresh.length === 0) return [];
  const joined = joinRanges(unionRanges(marked, fresh), knobs.merge_gap, knobs.max_ranges, bounds);
  // Only what is new, and never what the program marked itself (we must not unmark it later).
  return subtractRanges(subtractRanges(joined, marked), blocked);
}

function isIn(ranges: readonly Range[], vpn: number): boolean {
  for (const [s, e] of ranges) if (s <= vpn && vpn < e) return true;
  return false;
}

/** Records ranges that were marked: the process's marked set grows, joined ranges restart their verdict. */
export function recordMarked(proc: ProcState, done: readonly Range[], fullScans: number, why: string): void {
  const before = new Map(proc.marked.map((m) => [`${m.start}:${m.end}`, m]));
  const all = unionRanges(proc.markedRanges(), done);
  proc.marked = all.map(([start, end]): MarkedRange => {
    const kept = before.get(`${start}:${end}`);
    return kept ?? { start, end, markedAt: fullScans, merging: -1, present: -1, checkedAt: -1, kept: 0, why };
  });
}

/** Records ranges that were unmarked (given back, or at the user's request). */
export function recordUnmarked(proc: ProcState, done: readonly Range[]): void {
  const left = subtractRanges(proc.markedRanges(), done);
  const before = proc.marked;
  proc.marked = left.map(([start, end]): MarkedRange => {
    const from = before.find((m) => m.start <= start && end <= m.end);
    return from === undefined
      ? { start, end, markedAt: 0, merging: -1, present: -1, checkedAt: -1, kept: 0, why: 'kept' }
      : { ...from, start, end };
  });
}

/**
 * `ranges` of process `pid` cut into pieces of at most UNMARK_PIECE units each (a KSM page
 * UNMERGE_KSM_WEIGHT, any other page 1), in order: one injection per piece. Small ranges
 * share a piece. A process whose pages cannot be looked up (it is exiting) gets its ranges
 * in pieces of UNMARK_PIECE / UNMERGE_KSM_WEIGHT pages, as if every page were merged.
 */
export function unmarkPieces(
  host: PlusHost,
  pid: number,
  ranges: readonly Range[],
  scratch: { vpns: Float64Array; state: Uint8Array; pfn: Float64Array },
): Range[][] {
  const pieces: Range[][] = [];
  let piece: Range[] = [];
  let used = 0;
  for (const [s, e] of ranges) {
    let from = s;
    for (let at = s; at < e; at += CHECK_CHUNK) {
      const n = Math.min(CHECK_CHUNK, e - at);
      for (let i = 0; i < n; i++) scratch.vpns[i] = at + i;
      const known = host.pages(pid, scratch.vpns, n, scratch.state, scratch.pfn);
      for (let i = 0; i < n; i++) {
        const cost = !known || (scratch.state[i]! & PAGE_KSM) !== 0 ? UNMERGE_KSM_WEIGHT : 1;
        if (used > 0 && used + cost > UNMARK_PIECE) {
          if (at + i > from) piece.push([from, at + i]);
          pieces.push(piece);
          piece = [];
          used = 0;
          from = at + i;
        }
        used += cost;
      }
    }
    if (e > from) piece.push([from, e]);
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

/** What a verdict decided for one range. */
export interface Verdict {
  readonly range: MarkedRange;
  /** Parts to unmark: the whole range, or its unmerged ends and long unmerged stretches. */
  readonly giveBack: Range[];
  readonly why: string;
}

/**
 * Looks at every range of `proc` whose verdict is due (demote_scans full scans of ksmd since
 * it was marked or last checked): counts its present and KSM pages, and says what to give
 * back. Returns the verdicts with something to give back, and the pages looked up.
 */
export function checkRanges(
  host: PlusHost,
  proc: ProcState,
  knobs: PlusKnobs,
  fullScans: number,
  scratch: { vpns: Float64Array; state: Uint8Array; pfn: Float64Array },
): { verdicts: Verdict[]; looked: number; alive: boolean } {
  const verdicts: Verdict[] = [];
  let looked = 0;
  for (const m of proc.marked) {
    // A range that showed KSM pages is looked at less and less often (2, 4... 64 times the
    // wait): its pagemap and kpageflags cost a read per page, and trimming it rarely pays.
    if (fullScans - Math.max(m.markedAt, m.checkedAt) < knobs.demote_scans * 2 ** Math.min(m.kept, 6)) continue;
    const ksmRuns: Array<[number, number]> = [];
    let present = 0;
    let merging = 0;
    for (let at = m.start; at < m.end; at += CHECK_CHUNK) {
      const n = Math.min(CHECK_CHUNK, m.end - at);
      for (let i = 0; i < n; i++) scratch.vpns[i] = at + i;
      if (!host.pages(proc.pid, scratch.vpns, n, scratch.state, scratch.pfn)) return { verdicts, looked, alive: false };
      looked += n;
      for (let i = 0; i < n; i++) {
        const s = scratch.state[i]!;
        if ((s & PAGE_PRESENT) !== 0) present++;
        if ((s & PAGE_KSM) === 0) continue;
        merging++;
        const last = ksmRuns.at(-1);
        if (last !== undefined && last[1] === at + i) last[1]++;
        else ksmRuns.push([at + i, at + i + 1]);
      }
    }
    m.present = present;
    m.merging = merging;
    m.checkedAt = fullScans;
    m.kept = merging > 0 ? m.kept + 1 : 0;
    const age = fullScans - m.markedAt;
    if (merging === 0) {
      verdicts.push({
        range: m,
        giveBack: [[m.start, m.end]],
        why: `merged nothing in ${age} ksmd full scan${age === 1 ? '' : 's'}`,
      });
      continue;
    }
    // Keep each KSM run and the short stretches between them; give back the rest.
    const keep = joinRanges(ksmRuns, SPLIT_GAP - 1, Number.POSITIVE_INFINITY, [[m.start, m.end]]);
    const giveBack = subtractRanges([[m.start, m.end]], keep);
    if (giveBack.length > 0) {
      const pages = giveBack.reduce((n, [s, e]) => n + e - s, 0);
      verdicts.push({
        range: m,
        giveBack,
        why: `trim: ${pages} page${pages === 1 ? '' : 's'} without a KSM page after ${age} ksmd full scans`,
      });
    }
  }
  return { verdicts, looked, alive: true };
}
