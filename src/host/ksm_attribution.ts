/**
 * The live machine's KSM pages and who maps them, as an Observation for
 * src/attribution/attribute.ts (read-only; root, since frame numbers and /proc/kpage* are
 * root's). Per reading:
 *   1. /sys/kernel/mm/ksm, and /proc/PID/ksm_stat of every process using KSM (or of the pids
 *      asked for), with each one's comm and cgroup;
 *   2. for each process registered with KSM (MMF_VM_MERGEABLE) or with merged pages: the
 *      mappings KSM may merge in (mergeable_vmas.ts: smaps's `mg` flag, read again only when
 *      /proc/PID/maps or the process's KSM counters changed), and their pagemap in bulk;
 *      every present private page mapped more than once (not PM_MMAP_EXCLUSIVE) is a
 *      candidate: a page mapped once frees nothing. A process's candidates are counted per
 *      distinct frame as they are read (frames numbered by a hash table, lib/u32_index.ts),
 *      so what is kept is one entry per frame it maps, not one per page;
 *   3. the distinct frames, in ascending order (lib/radix_sort.ts), each looked up once in
 *      /proc/kpageflags (KPF_KSM) and, for KSM pages, /proc/kpagecount, in batched reads
 *      over runs of nearby frames (KpageFile);
 *   4. each process's KSM pages as indices into one table of KSM pages, with its mappings
 *      of each (Observation's frameMappings).
 * A LiveAttributionReader keeps its buffers and what smaps said between readings (the
 * exporter holds one); readLiveObservation() is one reading with a fresh one.
 * Pages come and go while this reads; what it reads is one pass, not an atomic snapshot,
 * and the attribution's residual says how far it is from the kernel's counters.
 */
import { closeSync } from 'node:fs';
import type { Observation, ProcessObservation } from '../attribution/attribute.ts';
import { radixOrder } from '../lib/radix_sort.ts';
import { U32Index } from '../lib/u32_index.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { findKsmdPid } from './ksmd_affinity.ts';
import { type KsmProcessStat, readKsmProcesses, readProcessKsmStat } from './ksm_stat.ts';
import { KSM_DIR, readKsmSysfs } from './ksm_sysfs.ts';
import {
  DEFAULT_KPAGE_BATCHING,
  entryBuffer,
  KPAGECOUNT,
  KPAGEFLAGS,
  type KpageBatching,
  KpageFile,
  type KpageReadStats,
  KPF_KSM,
  openPagemap,
  PM_FILE_HI,
  PM_MMAP_EXCLUSIVE_HI,
  PM_PFN_HI_MASK,
  PM_PRESENT_HI,
  pagemapPfn,
  readPagemap,
} from './pagemap.ts';
import { type AddressRange, MergeableVmas } from './mergeable_vmas.ts';
import { cpuSeconds, describeProcError, isKernelThread, readCgroupPath, readComm } from './procfs.ts';

/** Pagemap entries per pread (512 KiB). */
/** Pagemap entries per pread (512 KiB). */
const PAGEMAP_BATCH = 65536;

/** The pagemap flags (high word) that decide whether a page is a candidate. */
const CANDIDATE_BITS = PM_PRESENT_HI | PM_FILE_HI | PM_MMAP_EXCLUSIVE_HI;

/** What a reader keeps between readings. */
export interface LiveReaderOptions {
  /** How /proc/kpageflags and kpagecount are read (bench/attribution.ts tunes it). */
  readonly batching?: KpageBatching;
  /** Read every process's smaps at every reading (as a one-off reading does); default false. */
  readonly alwaysSmaps?: boolean;
  /** Read smaps again after this long even when nothing changed (mergeable_vmas.ts). */
  readonly smapsMaxAgeMs?: number;
}

/** What one reading is of. */
export interface LiveReadingOptions {
  /** Exactly these processes, in this order (the kernel backend's); default every KSM user, by pid. */
  readonly pids?: readonly number[];
  /** /sys/kernel/mm/ksm and the KSM users' ksm_stat, when the caller has just read them. */
  readonly read?: {
    readonly ksm: Readonly<Record<string, number | string>>;
    readonly processes: readonly KsmProcessStat[];
  };
  /** Processes that vanish or cannot be read. */
  readonly onWarning?: (message: string) => void;
}

export interface LiveObservationOptions extends LiveReadingOptions {
  /** How /proc/kpageflags and kpagecount are read (bench/attribution.ts tunes it). */
  readonly batching?: KpageBatching;
}

/** What a reading cost, for the benchmark and --json. */
export interface LiveReadStats {
  readonly processes: number;
  /** Processes whose page tables were read. */
  readonly scanned: number;
  /** Processes whose smaps was read (the others' mergeable mappings were known). */
  readonly smapsRead: number;
  readonly pagemapEntries: number;
  /** Present private pages in mergeable mappings mapped more than once: candidates. */
  readonly candidates: number;
  /** Distinct frames of the candidates: frames looked up. */
  readonly distinctFrames: number;
  readonly kpageReads: number;
  readonly kpageEntries: number;
  /** Milliseconds per phase: ksm_stat, smaps+pagemap, sort, kpage, refs. */
  readonly phaseMs: Readonly<Record<string, number>>;
}

export interface LiveObservation extends Observation {
  /** Wall-clock time of the reading, ISO 8601. */
  readonly time: string;
  readonly stats: LiveReadStats;
}

/** A growing Uint32Array. */
class U32List {
  a = new Uint32Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) this.reserve(this.a.length);
    this.a[this.n++] = v;
  }
  /** Room for `more` further values. */
  reserve(more: number): void {
    if (this.n + more <= this.a.length) return;
    const b = new Uint32Array(Math.max(this.n + more, this.a.length * 2));
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
}

/**
 * One process's candidates counted per distinct frame: `frame` lists, once each, the
 * indices (in the reading's U32Index) of the frames it maps, `count` how many of its pages
 * map each. `stamp` tells which process last counted a frame, so the scratch arrays are
 * never cleared.
 */
class FrameTally {
  readonly frame = new U32List();
  readonly count = new U32List();
  #stamp = new Int32Array(4096).fill(-1);
  #tally = new Uint32Array(4096);
  #process = -1;
  #from = 0;

  clear(): void {
    this.frame.n = 0;
    this.count.n = 0;
  }

  /** Starts the next process; its entries begin at `frame.n`. */
  begin(): void {
    this.#process = (this.#process + 1) | 0;
    this.#from = this.frame.n;
  }

  add(index: number): void {
    if (index >= this.#stamp.length) this.#grow(index);
    if (this.#stamp[index] !== this.#process) {
      this.#stamp[index] = this.#process;
      this.#tally[index] = 0;
      this.frame.push(index);
    }
    this.#tally[index]!++;
  }

  /** Ends the process: its counts, in the order of its frames. */
  end(): void {
    const f = this.frame.a;
    this.count.reserve(this.frame.n - this.count.n);
    for (let k = this.#from; k < this.frame.n; k++) this.count.push(this.#tally[f[k]!]!);
  }

  /** Drops what the current process added (it could not be read to the end). */
  abandon(): void {
    this.frame.n = this.#from;
    this.count.n = this.#from;
  }

  #grow(index: number): void {
    let n = this.#stamp.length;
    while (n <= index) n *= 2;
    const stamp = new Int32Array(n).fill(-1);
    stamp.set(this.#stamp);
    const tally = new Uint32Array(n);
    tally.set(this.#tally);
    this.#stamp = stamp;
    this.#tally = tally;
  }
}

function globals(ksm: Readonly<Record<string, number | string>>): Observation['ksm'] {
  const num = (k: string): number => (typeof ksm[k] === 'number' ? ksm[k] : 0);
  return {
    pages_shared: num('pages_shared'),
    pages_sharing: num('pages_sharing'),
    ksm_zero_pages: num('ksm_zero_pages'),
    general_profit: num('general_profit'),
  };
}

/**
 * Tallies the frames of the present private pages mapped more than once in `ranges` of
 * `pid` (their indices in `frames`) into `tally`; returns the pagemap entries read and the
 * candidates found. Throws when the process cannot be read.
 */
function readCandidates(
  pid: number,
  ranges: readonly AddressRange[],
  frames: U32Index,
  tally: FrameTally,
  buf: ReturnType<typeof entryBuffer>,
  big: number[],
): { entries: number; candidates: number } {
  const fd = openPagemap(pid);
  let entries = 0;
  let candidates = 0;
  try {
    for (const r of ranges) {
      const words = buf.words;
      const endVpn = r.end / PAGE_SIZE;
      for (let vpn = r.start / PAGE_SIZE; vpn < endVpn; ) {
        const got = readPagemap(fd, buf.bytes, vpn, Math.min(buf.entries, endVpn - vpn));
        if (got === 0) break; // unmapped meanwhile
        entries += got;
        vpn += got;
        // The hot loop of a scrape (a million entries): 32-bit operations only.
        for (let i = 0; i < got; i++) {
          const hi = words[2 * i + 1]!;
          // Present, and neither a file page nor mapped once (exclusive): a page mapped once
          // frees nothing, KSM page or not, so it is not looked up.
          if ((hi & CANDIDATE_BITS) !== PM_PRESENT_HI) continue;
          const lo = words[2 * i]!;
          if ((hi & PM_PFN_HI_MASK) !== 0) {
            big.push(pagemapPfn(lo, hi));
            continue;
          }
          if (lo === 0) continue; // frame numbers hidden (not root)
          candidates++;
          tally.add(frames.indexOf(lo));
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return { entries, candidates };
}

/** The low words of `path`'s entries for frames pfns[0..n) (ascending), adding the cost to `cost`. */
function readKpage(
  path: string,
  pfns: Uint32Array,
  n: number,
  batching: KpageBatching,
  cost: KpageReadStats,
): Uint32Array {
  const out = new Uint32Array(n);
  const file = new KpageFile(path, batching);
  try {
    file.read(pfns, n, out);
  } finally {
    file.close();
  }
  cost.reads += file.stats.reads;
  cost.entries += file.stats.entries;
  return out;
}

/** The processes to read: those asked for, or every one KSM knows about, by pid. */
function processesToRead(pids: readonly number[] | undefined): KsmProcessStat[] {
  if (pids === undefined) return readKsmProcesses().sort((a, b) => a.pid - b.pid);
  return pids.map(readProcessKsmStat).filter((s): s is KsmProcessStat => s !== undefined);
}

/**
 * Reads the live machine again and again (see the file comment), keeping its buffers, the
 * mergeable mappings smaps showed, and ksmd's pid between readings.
 */
export class LiveAttributionReader {
  readonly #batching: KpageBatching;
  readonly #alwaysSmaps: boolean;
  readonly #vmas: MergeableVmas;
  readonly #buf = entryBuffer(PAGEMAP_BATCH);
  readonly #tally = new FrameTally();
  #expectedFrames = 4096;
  #ksmd: number | undefined;

  constructor(opts: LiveReaderOptions = {}) {
    this.#batching = opts.batching ?? DEFAULT_KPAGE_BATCHING;
    this.#alwaysSmaps = opts.alwaysSmaps ?? false;
    this.#vmas = new MergeableVmas(opts.smapsMaxAgeMs === undefined ? {} : { maxAgeMs: opts.smapsMaxAgeMs });
  }

  /** One reading of the live machine. */
  read(opts: LiveReadingOptions = {}): LiveObservation {
    const warn = opts.onWarning ?? (() => undefined);
    const time = new Date().toISOString();
    const phaseMs: Record<string, number> = {};
    let t = performance.now();
    const lap = (phase: string): void => {
      const now = performance.now();
      phaseMs[phase] = now - t;
      t = now;
    };
    const ksm = globals(opts.read?.ksm ?? readKsmSysfs(KSM_DIR));
    const stats =
      opts.read !== undefined && opts.pids === undefined
        ? [...opts.read.processes].sort((a, b) => a.pid - b.pid)
        : processesToRead(opts.pids);
    lap('ksm_stat');
    // Each candidate page's frame, as an index into the distinct frames seen.
    const frames = new U32Index(this.#expectedFrames);
    const tally = this.#tally;
    tally.clear();
    // Frames past 2^32 (hosts over 16 TiB) are not radix-sorted: such a reading is refused below.
    const big: number[] = [];
    const kept: { stat: KsmProcessStat; cgroup: string; from: number; to: number }[] = [];
    let scanned = 0;
    let smapsRead = 0;
    let entries = 0;
    let candidates = 0;
    for (const s of stats) {
      const from = tally.frame.n;
      tally.begin();
      if (s.ksm_merging_pages > 0 || s.ksm_mergeable) {
        try {
          const r = this.#vmas.ranges(s, { forceSmaps: this.#alwaysSmaps });
          if (r.smapsRead) smapsRead++;
          const got = readCandidates(s.pid, r.ranges, frames, tally, this.#buf, big);
          entries += got.entries;
          candidates += got.candidates;
          scanned++;
        } catch (e) {
          warn(describeProcError(s.pid, 'its smaps and pagemap', e));
          tally.abandon();
          continue;
        }
      }
      tally.end();
      kept.push({ stat: s, cgroup: readCgroupPath(s.pid) ?? '', from, to: tally.frame.n });
    }
    if (opts.pids === undefined) this.#vmas.keepOnly(new Set(stats.map((s) => s.pid)));
    lap('smaps+pagemap');
    if (big.length > 0)
      throw new Error(`Frame number ${big[0]} is past 2^32 (a host over 16 TiB): not supported by this reader`);

    // The distinct frames in ascending order, for reads over runs of nearby frames.
    const nd = frames.size;
    this.#expectedFrames = Math.max(4096, nd);
    const seen = frames.keys();
    const order = radixOrder(seen, nd);
    const distinct = new Uint32Array(nd);
    for (let j = 0; j < nd; j++) distinct[j] = seen[order[j]!]!;
    lap('sort');
    const cost: KpageReadStats = { reads: 0, entries: 0 };
    const flags = readKpage(KPAGEFLAGS, distinct, nd, this.#batching, cost);
    // The KSM page index of each frame by its index in `frames`, -1 when it is not KSM.
    const ksmOf = new Int32Array(nd).fill(-1);
    let nk = 0;
    for (let j = 0; j < nd; j++) if ((flags[j]! & KPF_KSM) !== 0) ksmOf[order[j]!] = nk++;
    const ksmPfns = new Uint32Array(nk);
    for (let j = 0, k = 0; j < nd; j++) if ((flags[j]! & KPF_KSM) !== 0) ksmPfns[k++] = distinct[j]!;
    const mapcount = readKpage(KPAGECOUNT, ksmPfns, nk, this.#batching, cost);
    lap('kpage');
    const frameOf = tally.frame.a;
    const countOf = tally.count.a;
    const processes: ProcessObservation[] = kept.map(({ stat, cgroup, from, to }) => {
      let count = 0;
      for (let k = from; k < to; k++) if (ksmOf[frameOf[k]!]! >= 0) count++;
      const frameRefs = new Int32Array(count);
      const frameMappings = new Uint32Array(count);
      for (let k = from, j = 0; k < to; k++) {
        const f = ksmOf[frameOf[k]!]!;
        if (f < 0) continue;
        frameRefs[j] = f;
        frameMappings[j++] = countOf[k]!;
      }
      return {
        pid: stat.pid,
        comm: stat.comm,
        cgroup,
        ksm_rmap_items: stat.ksm_rmap_items,
        ksm_zero_pages: stat.ksm_zero_pages,
        ksm_merging_pages: stat.ksm_merging_pages,
        ksm_process_profit: stat.ksm_process_profit,
        frameRefs,
        frameMappings,
      };
    });
    lap('refs');
    const cpu = this.#ksmdCpuSeconds();
    return {
      time,
      ksm,
      frames: { count: nk, pfn: ksmPfns, mapcount },
      processes,
      ...(cpu === undefined ? {} : { ksmdCpuSeconds: cpu }),
      stats: {
        processes: kept.length,
        scanned,
        smapsRead,
        pagemapEntries: entries,
        candidates,
        distinctFrames: nd,
        kpageReads: cost.reads,
        kpageEntries: cost.entries,
        phaseMs,
      },
    };
  }

  /** ksmd's CPU time; its pid is looked for in /proc once, and again only if it changed. */
  #ksmdCpuSeconds(): number | undefined {
    if (this.#ksmd === undefined || readComm(this.#ksmd) !== 'ksmd' || !isKernelThread(this.#ksmd))
      this.#ksmd = findKsmdPid();
    return this.#ksmd === undefined ? undefined : cpuSeconds(this.#ksmd);
  }
}

/** One reading of the live machine with a fresh reader (every smaps read). */
export function readLiveObservation(opts: LiveObservationOptions = {}): LiveObservation {
  const { batching, ...reading } = opts;
  return new LiveAttributionReader({ alwaysSmaps: true, ...(batching === undefined ? {} : { batching }) }).read(
    reading,
  );
}
