/**
 * Who saves what: KSM's saving attributed to the processes that share its pages, exactly.
 *
 * Linux counts the saving globally (pages_sharing + ksm_zero_pages) and per process
 * (ksm_process_profit, from ksm_merging_pages). The per-process figure credits every mapper
 * of a KSM page with a whole page, so its sum over processes overcounts by one page per KSM
 * page (pages_shared). Here a KSM page with n mappings credits each mapping (n − 1)/n of a
 * page, so the credits of one KSM page add up to the n − 1 pages it frees.
 *
 * What n is: pages_sharing is Σ over KSM pages of (rmap_hlist_len − 1), the rmap_items on
 * each stable node less one, so n must count the mappings KSM has an rmap_item for, not the
 * frame's mapcount (/proc/kpagecount). They differ for a child forked from a process with
 * merged pages: its inherited mappings raise the mapcount at once, but ksmd attaches an
 * rmap_item for them only when it next scans the child (a new mm is queued just behind
 * ksmd's cursor, so up to a full scan later). Measured on Linux 6.18: a parent with 194
 * mappings of 2 KSM pages (pages_sharing 192) forks; Σ(kpagecount − 1) is 386 at once while
 * pages_sharing stays 192, and the child's ksm_merging_pages is 0; one full scan later both
 * are 386. So a process's mappings of KSM pages count only once ksmd has scanned them,
 * which shows in /proc/PID/ksm_stat: its ksm_merging_pages (its rmap_items on stable
 * nodes) is at least the mappings of shared KSM pages its pagemap shows. A process whose
 * ksm_merging_pages is 0 while it maps KSM pages is `unscanned`, and neither counts in n
 * nor is credited. Every dup of a stable_node chain (max_page_sharing) is a KSM page of its
 * own, with its own frame, so chains need nothing more. KSM zero pages (use_zero_pages)
 * free a whole page each and are credited whole, from each process's ksm_zero_pages.
 *
 * The identity: at a full-scan boundary where ksmd has visited every mapping since it last
 * changed, Σ over processes of the credited pages = pages_sharing + ksm_zero_pages, exactly
 * (the credits are exact fractions: apportion.ts). Between boundaries the kernel's counters
 * lag the page tables (a CoW break leaves its rmap_item on the stable node until ksmd
 * revisits it; an exited process's items stay until ksmd reaches its slot), and so can they
 * at a boundary: a page shared since fork that became KSM in place, through another of its
 * mappings, after ksmd visited this one gets its rmap_item only at the next visit (measured:
 * docs/attribution.md). The difference is reported as `residual_pages`, never spread over
 * the processes.
 *
 * The cost side: each process's rmap_items × sizeof(struct ksm_rmap_item), so a process's
 * attributed profit is its credited bytes less its rmap_items' bytes, and the profits add
 * up to general_profit at the same boundaries. ksmd's CPU time is apportioned by
 * rmap_items, the work ksmd does per pass being one visit per rmap_item.
 *
 * Pure: the live reader (src/host/ksm_attribution.ts) and the model
 * (src/backends/model/attribution.ts) build the same Observation, so a predicted host and a
 * live one show the same figures, series by series.
 */
import { ksmProfit, rmapItemBytes } from '../ksm/profit.ts';
import type { KsmStat } from '../lib/ksm_files.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { apportionBytes, type Shares, sharesFrom, sharesPages } from './apportion.ts';

/** A process and its counters of /proc/PID/ksm_stat. */
export interface ProcessKsmCounts
  extends Pick<KsmStat, 'ksm_rmap_items' | 'ksm_zero_pages' | 'ksm_merging_pages' | 'ksm_process_profit'> {
  readonly pid: number;
  readonly comm: string;
  /** Its cgroup v2 path ("/system.slice/foo.service"), "" when unknown. */
  readonly cgroup: string;
}

/** What is known of one process. */
export interface ProcessObservation extends ProcessKsmCounts {
  /**
   * Its mappings of KSM pages mapped more than once (mapcount 2 or more): one entry per
   * mapping (a KSM page mapped at several addresses appears as often), each the index of
   * the page in Observation.frames. A KSM page mapped once frees nothing and is credited
   * nothing, so readers need not look such pages up (pagemap flags them exclusive).
   * With frameMappings, an entry stands for that many mappings of its page instead of one.
   */
  readonly frameRefs: ArrayLike<number>;
  /**
   * The mappings of each frameRefs entry (default 1 each): the same observation in one
   * entry per KSM page a process maps, where a reader has counted them already (the live
   * reader does: a million mappings of a few thousand pages).
   */
  readonly frameMappings?: ArrayLike<number>;
}

/** The mappings of KSM pages `p` has: Σ frameMappings, or one per frameRefs entry. */
export function processMappings(p: ProcessObservation): number {
  const w = p.frameMappings;
  if (w === undefined) return p.frameRefs.length;
  let total = 0;
  for (let k = 0; k < p.frameRefs.length; k++) total += w[k]!;
  return total;
}

/** The KSM pages the processes map, by index. */
export interface FrameTable {
  readonly count: number;
  /** Frame numbers, where known (for messages). */
  readonly pfn?: ArrayLike<number>;
  /** Each page's mapcount (/proc/kpagecount; the model's mapcount), where known. */
  readonly mapcount?: ArrayLike<number>;
}

/** The global counters of /sys/kernel/mm/ksm the identity is checked against. */
export interface KsmGlobals {
  readonly pages_shared: number;
  readonly pages_sharing: number;
  readonly ksm_zero_pages: number;
  readonly general_profit: number;
}

export interface Observation {
  readonly ksm: KsmGlobals;
  readonly frames: FrameTable;
  /** In the order ties are broken in (pid order on a live host, spawn order in a scenario). */
  readonly processes: readonly ProcessObservation[];
  /** ksmd's CPU time so far, in seconds, where known. */
  readonly ksmdCpuSeconds?: number;
}

/**
 * How a process's shared mappings of KSM pages (frameRefs) compare with its rmap_items on
 * stable nodes (ksm_merging_pages):
 *   - exact: no more mappings than items: every mapping counted. The items beyond the
 *     mappings are KSM pages it maps alone (which free nothing) or items ksmd has yet to
 *     drop after a CoW break or an unmap (which the residual shows);
 *   - unscanned: mappings but no such rmap_item yet (a child ksmd has not scanned since
 *     the fork): none counted;
 *   - partial: more mappings than items, but some (ksmd is scanning it now, or a page it
 *     shares since fork became KSM after ksmd's visit): all counted, as which of them have
 *     an rmap_item cannot be told from outside.
 */
export type MappingState = 'exact' | 'unscanned' | 'partial';

/** The figures of one row, a process or a group of them (ksm_* are ksm_stat's, summed). */
export interface AttributedFigures
  extends Pick<KsmStat, 'ksm_rmap_items' | 'ksm_zero_pages' | 'ksm_merging_pages' | 'ksm_process_profit'> {
  /** Mappings of KSM pages seen in the page tables. */
  readonly ksm_mappings: number;
  /** The credited mappings, exactly: `[n, mappings]`, n the KSM page's counted mappings. */
  readonly shares: Shares;
  /** Credited pages: Σ mappings·(n−1)/n plus its KSM zero pages (a double; `shares` is exact). */
  readonly saved_pages: number;
  /** The same in whole bytes, apportioned so that the rows add up exactly. */
  readonly saved_bytes: number;
  readonly rmap_bytes: number;
  /** saved_bytes − rmap_bytes. */
  readonly profit_bytes: number;
  /**
   * The row's share of ksmd's scanning work: its rmap_items over all of them (0 to 1), since
   * a full scan visits every rmap_item once. Times the rate of ksmd's CPU it is the row's
   * CPU rate; ksmd's CPU since boot times it would charge a process that joined a minute
   * ago with half of ksmd's life, so no per-row CPU total is given.
   */
  readonly ksmd_work_share: number;
}

/** One process's attribution (its ksm_process_profit is Linux's: a whole page per mapping). */
export interface ProcessAttribution extends ProcessKsmCounts, AttributedFigures {
  readonly state: MappingState;
}

export interface AttributionTotals {
  /** The kernel's counters. */
  readonly pages_shared: number;
  readonly pages_sharing: number;
  readonly ksm_zero_pages: number;
  readonly general_profit: number;
  /** KSM pages the processes map, and how many of those mappings counted. */
  readonly ksm_pages: number;
  readonly counted_mappings: number;
  /** Mappings of unscanned processes (not counted). */
  readonly unscanned_mappings: number;
  /**
   * Σ mapcount − the mappings seen: mappings of KSM pages by processes that were not read
   * (gone, or not readable); undefined when mapcounts are not known.
   */
  readonly unseen_mappings?: number;
  /** Σ credited pages (an integer: Σ over KSM pages of n − 1, plus every zero page). */
  readonly attributed_pages: number;
  /** pages_sharing + ksm_zero_pages − attributed_pages: 0 at a settled full-scan boundary. */
  readonly residual_pages: number;
  /** Σ saved_bytes = attributed_pages × PAGE_SIZE. */
  readonly attributed_bytes: number;
  /** Σ profit_bytes. */
  readonly attributed_profit_bytes: number;
  /** Σ ksm_process_profit: Linux's per-process figure summed, which overcounts. */
  readonly naive_profit_bytes: number;
  /** Σ (ksm_merging_pages + ksm_zero_pages): the pages the naive sum claims are saved. */
  readonly naive_saved_pages: number;
  readonly ksmd_cpu_seconds?: number;
}

export interface Attribution {
  readonly processes: readonly ProcessAttribution[];
  readonly totals: AttributionTotals;
}

/** How a process's mappings stand (see MappingState). */
export function mappingState(ksmMappings: number, mergingPages: number): MappingState {
  if (ksmMappings <= mergingPages) return 'exact';
  return mergingPages === 0 ? 'unscanned' : 'partial';
}

/** Attributes the saving of one observation (see the file comment). */
export function attribute(obs: Observation): Attribution {
  const nFrames = obs.frames.count;
  const mappings = obs.processes.map(processMappings);
  const states = obs.processes.map((p, i) => mappingState(mappings[i]!, p.ksm_merging_pages));
  // n per KSM page: the counted mappings.
  const n = new Int32Array(nFrames);
  let counted = 0;
  let unscanned = 0;
  let seen = 0;
  for (const [i, p] of obs.processes.entries()) {
    const refs = p.frameRefs;
    seen += mappings[i]!;
    if (states[i] === 'unscanned') {
      unscanned += mappings[i]!;
      continue;
    }
    counted += mappings[i]!;
    const w = p.frameMappings;
    if (w === undefined) for (let k = 0; k < refs.length; k++) n[refs[k]!]!++;
    else for (let k = 0; k < refs.length; k++) n[refs[k]!]! += w[k]!;
  }
  let sharingPages = 0;
  for (let f = 0; f < nFrames; f++) if (n[f]! > 1) sharingPages += n[f]! - 1;
  let zeroPages = 0;
  let rmapItems = 0;
  for (const p of obs.processes) {
    zeroPages += p.ksm_zero_pages;
    rmapItems += p.ksm_rmap_items;
  }
  // Each process's mappings counted per KSM page first (typed arrays: a million mappings
  // are common), then per n: `mark` says which process last touched a page.
  const perPage = new Int32Array(nFrames);
  const mark = new Int32Array(nFrames).fill(-1);
  const touched = new Int32Array(nFrames);
  const shares = obs.processes.map((p, i) => {
    if (states[i] === 'unscanned') return [] as Shares;
    const refs = p.frameRefs;
    const w = p.frameMappings;
    let nt = 0;
    for (let k = 0; k < refs.length; k++) {
      const f = refs[k]!;
      if (mark[f] !== i) {
        mark[f] = i;
        perPage[f] = 0;
        touched[nt++] = f;
      }
      perPage[f]! += w === undefined ? 1 : w[k]!;
    }
    const counts = new Map<number, number>();
    for (let k = 0; k < nt; k++) {
      const f = touched[k]!;
      counts.set(n[f]!, (counts.get(n[f]!) ?? 0) + perPage[f]!);
    }
    return sharesFrom(counts);
  });
  const bytes = apportionBytes(obs.processes.map((p, i) => ({ shares: shares[i]!, wholePages: p.ksm_zero_pages })));
  const cpu = obs.ksmdCpuSeconds;
  const processes = obs.processes.map((p, i): ProcessAttribution => {
    const rmapBytes = rmapItemBytes(p.ksm_rmap_items);
    const { frameRefs: _refs, frameMappings: _mappings, ...counts } = p;
    return {
      ...counts,
      ksm_mappings: mappings[i]!,
      state: states[i]!,
      shares: shares[i]!,
      saved_pages: sharesPages(shares[i]!) + p.ksm_zero_pages,
      saved_bytes: bytes[i]!,
      rmap_bytes: rmapBytes,
      profit_bytes: bytes[i]! - rmapBytes,
      ksmd_work_share: rmapItems === 0 ? 0 : p.ksm_rmap_items / rmapItems,
    };
  });
  let mapcount: number | undefined;
  const mc = obs.frames.mapcount;
  if (mc !== undefined) {
    mapcount = 0;
    for (let f = 0; f < nFrames; f++) mapcount += mc[f]!;
  }
  const attributed = sharingPages + zeroPages;
  const totals: AttributionTotals = {
    pages_shared: obs.ksm.pages_shared,
    pages_sharing: obs.ksm.pages_sharing,
    ksm_zero_pages: obs.ksm.ksm_zero_pages,
    general_profit: obs.ksm.general_profit,
    ksm_pages: nFrames,
    counted_mappings: counted,
    unscanned_mappings: unscanned,
    ...(mapcount === undefined ? {} : { unseen_mappings: mapcount - seen }),
    attributed_pages: attributed,
    residual_pages: obs.ksm.pages_sharing + obs.ksm.ksm_zero_pages - attributed,
    attributed_bytes: attributed * PAGE_SIZE,
    attributed_profit_bytes: ksmProfit(attributed, rmapItems),
    naive_profit_bytes: obs.processes.reduce((t, p) => t + p.ksm_process_profit, 0),
    naive_saved_pages: obs.processes.reduce((t, p) => t + p.ksm_merging_pages + p.ksm_zero_pages, 0),
    ...(cpu === undefined ? {} : { ksmd_cpu_seconds: cpu }),
  };
  return { processes, totals };
}
