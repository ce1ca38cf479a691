/**
 * Which of a process's mappings can hold its KSM pages, for a reader that comes back every
 * few seconds (`samepage kernel export`). KSM merges only in VM_MERGEABLE mappings, and
 * Linux 6.18 shows that flag in one place: the `mg` of /proc/PID/smaps's VmFlags. Producing
 * smaps costs the kernel a walk of every page table of the process (about 20 ns per
 * resident page: 25-30 ms for 1 Mi pages, half of a scrape), while /proc/PID/maps, which
 * lists the same mappings without flags, costs microseconds. /proc/PID/ksm_stat and
 * smaps_rollup carry no per-mapping flag, nor does the PROCMAP_QUERY ioctl (readable,
 * writable, executable, shared only).
 *
 * So smaps is read again only when something that can change the answer changed since it
 * was last read:
 *   - /proc/PID/maps (a mapping made, unmapped, moved, split, merged or re-protected); or
 *   - the process's ksm_stat: rmap_items, merging and zero pages, MERGE_ANY, mergeable.
 *     Turning an existing mapping mergeable (madvise MADV_MERGEABLE over exactly its range)
 *     leaves maps alone, but KSM merges nothing in it before ksmd has scanned it, which
 *     adds rmap_items and, once it merges, merging pages; or
 *   - `maxAgeMs` passed (a bound for the one case the above misses: those counters changing
 *     by exactly as much elsewhere in the process between two readings).
 * Mappings turned unmergeable are unmerged by the kernel at once: reading them costs a
 * little, and their pages are not KSM pages, so the answer is the same.
 *
 * A mapping turned mergeable can hold KSM pages at once, though, without ksmd scanning it:
 * pages it shares with another process since a fork, which that process's ksmd merge turned
 * into KSM pages where they lay (try_to_merge_one_page makes a page mapped elsewhere too a
 * KSM page in place). The differential suite found it (a child's madvise after its parent's
 * merge): the child's figures left out a page it mapped. So a process whose smaps showed a
 * mapping that is not mergeable but holds KSM pages, or anonymous pages only some of which
 * another process maps too, has smaps read at every reading: it is the process where this
 * can happen (a forked one using KSM). What stays for `maxAgeMs` to bound: a private file
 * mapping's copied-on-write pages shared by a fork and merged by the other process, then
 * the whole mapping madvised.
 *
 * Which mergeable mappings are read: those smaps showed with anonymous pages, and, when the
 * answer is reused, also those that showed none but are accessible (pages may have been
 * faulted in since). An inaccessible one (PROT_NONE, a reservation: often gigabytes of
 * holes, 8 bytes each in pagemap) cannot gain pages while maps is unchanged.
 */
import { readFileSync } from 'node:fs';
import { parseSmapsFlags, type SmapsEntry, VM_MERGEABLE_CODE } from '../lib/proc_maps.ts';
import type { KsmProcessStat } from './ksm_stat.ts';

/** A range of virtual addresses [start, end). */
export interface AddressRange {
  readonly start: number;
  readonly end: number;
}

/** What smaps said of a process, and what it was read under. */
interface Known {
  readonly maps: string;
  readonly counters: string;
  readonly at: number;
  /** Mergeable mappings with anonymous pages. */
  readonly withPages: readonly AddressRange[];
  /** Mergeable mappings without, that could gain pages (accessible). */
  readonly empty: readonly AddressRange[];
  /** A mapping that is not mergeable may hold KSM pages: read smaps every time (file comment). */
  readonly latent: boolean;
}

/** The ranges to read of one process, and whether smaps was read for them. */
export interface MergeableRanges {
  readonly ranges: readonly AddressRange[];
  readonly smapsRead: boolean;
}

export interface MergeableVmasOptions {
  /** Read smaps again after this long even when nothing changed; default 5 minutes. */
  readonly maxAgeMs?: number;
  /** The clock (milliseconds); default performance.now. */
  readonly now?: () => number;
  /** A directory laid out as /proc (for tests); default /proc. */
  readonly proc?: string;
}

const DEFAULT_MAX_AGE_MS = 5 * 60_000;

/** The ksm_stat figures whose change sends the reader back to smaps. */
function countersOf(s: KsmProcessStat): string {
  return `${s.ksm_rmap_items} ${s.ksm_merging_pages} ${s.ksm_zero_pages} ${s.ksm_merge_any} ${s.ksm_mergeable}`;
}

/**
 * Whether a mapping that is not mergeable holds KSM pages, or may come to without this
 * process's ksmd scan: private, with KSM pages already, or all anonymous with some of them
 * mapped by another process too (a fork's; another process's merge can make them KSM pages).
 */
function mayHoldKsmPages(m: SmapsEntry): boolean {
  if (m.perms[3] !== 'p') return false;
  return m.ksmKb > 0 || (m.anonymousKb > 0 && m.anonymousKb === m.rssKb && m.sharedKb > 0);
}

/** The header lines of smaps's text: what /proc/PID/maps shows for the same mappings. */
function mapsLines(smaps: string): string {
  let out = '';
  for (const line of smaps.split('\n')) if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) out += `${line}\n`;
  return out;
}

/**
 * The mergeable ranges of processes, remembered between readings (see the file comment).
 * One per long-lived reader (the exporter's); a one-off reading makes its own.
 */
export class MergeableVmas {
  readonly #known = new Map<number, Known>();
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #proc: string;

  constructor(opts: MergeableVmasOptions = {}) {
    this.#maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#now = opts.now ?? (() => performance.now());
    this.#proc = opts.proc ?? '/proc';
  }

  /**
   * The ranges of `stat.pid` that can hold its KSM pages. Throws when the process cannot
   * be read (gone, or not ours).
   */
  ranges(stat: KsmProcessStat, opts: { forceSmaps?: boolean } = {}): MergeableRanges {
    const pid = stat.pid;
    const counters = countersOf(stat);
    const now = this.#now();
    const known = opts.forceSmaps === true ? undefined : this.#known.get(pid);
    if (
      known !== undefined &&
      !known.latent &&
      known.maps === readFileSync(`${this.#proc}/${pid}/maps`, 'utf8') &&
      known.counters === counters &&
      now - known.at <= this.#maxAgeMs
    )
      return { ranges: [...known.withPages, ...known.empty].sort((a, b) => a.start - b.start), smapsRead: false };
    const text = readFileSync(`${this.#proc}/${pid}/smaps`, 'utf8');
    const smaps = parseSmapsFlags(text);
    const withPages: AddressRange[] = [];
    const empty: AddressRange[] = [];
    let latent = false;
    for (const m of smaps) {
      if (!m.flags.has(VM_MERGEABLE_CODE)) {
        latent ||= mayHoldKsmPages(m);
        continue;
      }
      if (m.anonymousKb > 0) withPages.push({ start: m.start, end: m.end });
      else if (m.perms.slice(0, 3) !== '---') empty.push({ start: m.start, end: m.end });
    }
    // The key is the mappings smaps showed (its header lines are maps's lines): maps may
    // have changed between the two readings.
    this.#known.set(pid, { maps: mapsLines(text), counters, at: now, withPages, empty, latent });
    return { ranges: withPages, smapsRead: true };
  }

  /** Forgets processes not in `alive` (exited ones: their pids may come back as others). */
  keepOnly(alive: ReadonlySet<number>): void {
    for (const pid of this.#known.keys()) if (!alive.has(pid)) this.#known.delete(pid);
  }

  /** How many processes are remembered (for stats). */
  get size(): number {
    return this.#known.size;
  }
}
