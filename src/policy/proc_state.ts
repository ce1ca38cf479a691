/**
 * What the daemon knows of one selected process: its regions (the thesis's vma_nodes), the
 * ranges it marked MADV_MERGEABLE, the pages waiting to be marked, and why it may be
 * skipped. Virtual addresses are kept as virtual page numbers (vpn = address / 4096).
 */
import { mayHoldAnonymous } from '../lib/proc_maps.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { PlusKsmStat, PlusMapping } from './host.ts';
import type { Range } from './ranges.ts';

/**
 * A region: a run of adjacent mappings that differ only where the kernel split one VMA (our
 * own marks split VMAs; the region stays one). The thesis samples per VMA; a region is the
 * VMA as the program made it, so the daemon's own madvise does not restart its sampling.
 */
export class Region {
  readonly start: number;
  readonly end: number;
  /** Permissions, device, inode and path: what must stay the same for the region to be the same. */
  readonly key: string;
  coefficient: number;
  /** Given up: nothing merged once the coefficient was low; not sampled until it changes. */
  dropped = false;
  /** Rounds completed. */
  rounds = 0;
  /** This round saw a KSM page or confirmed a duplicate in the region. */
  found = false;
  /** Present anonymous pages this round's samples found. */
  anonSeen = 0;
  /** This round's sampled pages (vpns, rising) and how far the round has got. */
  samples: Float64Array | null = null;
  sampleIdx = 0;

  constructor(start: number, end: number, key: string, coefficient: number) {
    this.start = start;
    this.end = end;
    this.key = key;
    this.coefficient = coefficient;
  }

  pages(): number {
    return this.end - this.start;
  }
}

/** A range the daemon marked MADV_MERGEABLE, and what it has shown since. */
export interface MarkedRange {
  start: number;
  end: number;
  /** ksmd's full_scans when the range was (last) extended: its verdict waits demote_scans more. */
  markedAt: number;
  /** KSM pages and present pages seen in it at the last check (-1 before any). */
  merging: number;
  present: number;
  /** full_scans at the last check. */
  checkedAt: number;
  /** Checks that found KSM pages in a row: each doubles the wait before the next (up to 64x). */
  kept: number;
  readonly why: string;
}

export class ProcState {
  /** The policy's number for the process (the duplicate index refers to it). */
  readonly slot: number;
  readonly pid: number;
  readonly start: string;
  comm: string;
  /** Why it is selected: "name firefox", "pid 12", "cgroup /a.slice". */
  readonly why: string;
  regions: Region[] = [];
  /** Ranges marked by the daemon, sorted by start. */
  marked: MarkedRange[] = [];
  /** Pages to mark at the end of this batch (vpns, unsorted, may repeat). */
  pending: number[] = [];
  /** Ranges unmarked for merging nothing, and the round until which they are not marked again. */
  cooldown: Array<{ start: number; end: number; until: number }> = [];
  /** KSM's view at the last look (ksm_stat: at selection, every few rounds and before marking). */
  ksm: PlusKsmStat | undefined;
  /** KSM knew the process before the daemon marked anything: it madvised memory itself. */
  ownKsm = false;
  /** Ranges VM_MERGEABLE that the daemon did not mark (the program's madvise), in vpns. */
  foreign: Range[] = [];
  /** The round whose start last read the process's KSM view (ksm_stat, smaps). */
  ksmReadAt = 0;
  /** Why the process is left alone, and until which round (Infinity: for good). */
  skipped: { why: string; until: number } | undefined;
  /** Next region of the process's first round, sampled ahead of the round's cursor. */
  firstRegion = 0;
  /** Injections that reached the process, and their pauses in nanoseconds (the last few hundred). */
  injections = 0;
  readonly pausesNs: number[] = [];

  constructor(slot: number, pid: number, start: string, comm: string, why: string) {
    this.slot = slot;
    this.pid = pid;
    this.start = start;
    this.comm = comm;
    this.why = why;
  }

  /** The region holding `vpn`, or undefined. */
  regionAt(vpn: number): Region | undefined {
    let lo = 0;
    let hi = this.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.regions[mid]!.end <= vpn) lo = mid + 1;
      else hi = mid;
    }
    const r = this.regions[lo];
    return r !== undefined && r.start <= vpn ? r : undefined;
  }

  markedRanges(): Range[] {
    return this.marked.map((m) => [m.start, m.end] as const);
  }
}

/** Whether a mapping can hold anonymous pages KSM could merge and the daemon may read. */
export function samplable(m: PlusMapping): boolean {
  // Private only (KSM never merges shared memory); PROT_NONE reservations (Chromium's and
  // V8's cages of many GiB) hold nothing readable worth the pagemap walk.
  return mayHoldAnonymous(m) && m.perms !== '---p';
}

/** The regions of a process's mappings, as [start, end) vpns with their keys, in address order. */
export function regionsOf(maps: readonly PlusMapping[]): Array<{ start: number; end: number; key: string }> {
  const out: Array<{ start: number; end: number; key: string; fileEnd: number }> = [];
  for (const m of maps) {
    if (!samplable(m)) continue;
    const key = `${m.perms} ${m.dev} ${m.inode} ${m.path}`;
    const start = m.start / PAGE_SIZE;
    const end = m.end / PAGE_SIZE;
    const last = out.at(-1);
    const contiguousFile = m.inode === 0 || m.offset === last?.fileEnd;
    if (last !== undefined && last.end === start && last.key === key && contiguousFile) {
      last.end = end;
      last.fileEnd = m.offset + (m.end - m.start);
    } else {
      out.push({ start, end, key, fileEnd: m.offset + (m.end - m.start) });
    }
  }
  return out.map(({ start, end, key }) => ({ start, end, key }));
}
