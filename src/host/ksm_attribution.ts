/**
 * The live machine's KSM pages and who maps them, as an Observation for
 * src/attribution/attribute.ts (read-only; root, since frame numbers and /proc/kpage* are
 * root's). Per scrape:
 *   1. /sys/kernel/mm/ksm, and /proc/PID/ksm_stat of every process using KSM (or of the pids
 *      asked for), with each one's comm and cgroup;
 *   2. for each process registered with KSM (MMF_VM_MERGEABLE) or with merged pages: its
 *      smaps, for the mappings KSM may merge in (VmFlags `mg`) that hold anonymous pages,
 *      and their pagemap in bulk; every present private page mapped more than once (not
 *      PM_MMAP_EXCLUSIVE) is a candidate: a page mapped once frees nothing;
 *   3. the candidates' distinct frames (numbered by a hash table, lib/u32_index.ts), in
 *      ascending order (lib/radix_sort.ts), each looked up once in /proc/kpageflags
 *      (KPF_KSM) and, for KSM pages, /proc/kpagecount, in batched reads over runs of nearby
 *      frames (KpageFile);
 *   4. each process's mappings of KSM pages as indices into one table of KSM pages.
 * Pages come and go while this reads; what it reads is one pass, not an atomic snapshot,
 * and the attribution's residual says how far it is from the kernel's counters.
 */
import { closeSync, readFileSync } from 'node:fs';
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
  PM_PRESENT_HI,
  pagemapPfn,
  readPagemap,
} from './pagemap.ts';
import { parseSmapsFlags, VM_MERGEABLE_CODE } from '../lib/proc_maps.ts';
import { cpuSeconds, describeProcError, readCgroupPath } from './procfs.ts';

/** Pagemap entries per pread (512 KiB). */
const PAGEMAP_BATCH = 65536;

export interface LiveObservationOptions {
  /** Exactly these processes, in this order (the kernel backend's); default every KSM user, by pid. */
  readonly pids?: readonly number[];
  /** /sys/kernel/mm/ksm and the KSM users' ksm_stat, when the caller has just read them. */
  readonly read?: {
    readonly ksm: Readonly<Record<string, number | string>>;
    readonly processes: readonly KsmProcessStat[];
  };
  /** How /proc/kpageflags and kpagecount are read (bench/attribution.ts tunes it). */
  readonly batching?: KpageBatching;
  /** Processes that vanish or cannot be read. */
  readonly onWarning?: (message: string) => void;
}

/** What a reading cost, for the benchmark and --json. */
export interface LiveReadStats {
  readonly processes: number;
  /** Processes whose page tables were read. */
  readonly scanned: number;
  readonly pagemapEntries: number;
  /** Present private pages in mergeable mappings: frames looked up. */
  readonly candidates: number;
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
 * Appends the frames of the present private pages mapped more than once of `pid`'s
 * mergeable mappings to `out`, as their indices in `frames`;
 * returns the pagemap entries read. Throws when the process cannot be read.
 */
function readCandidates(
  pid: number,
  frames: U32Index,
  out: U32List,
  buf: ReturnType<typeof entryBuffer>,
  big: number[],
): number {
  const smaps = parseSmapsFlags(readFileSync(`/proc/${pid}/smaps`, 'utf8'));
  // At most the anonymous pages smaps counted: room for them all at once.
  out.reserve(smaps.reduce((t, m) => t + (m.flags.has(VM_MERGEABLE_CODE) ? m.anonymousKb / 4 : 0), 0));
  const fd = openPagemap(pid);
  let entries = 0;
  try {
    for (const m of smaps) {
      // KSM pages are anonymous pages of mergeable mappings; smaps already counted them.
      if (m.anonymousKb === 0 || !m.flags.has(VM_MERGEABLE_CODE)) continue;
      const words = buf.words;
      const endVpn = m.end / PAGE_SIZE;
      for (let vpn = m.start / PAGE_SIZE; vpn < endVpn; ) {
        const got = readPagemap(fd, buf.bytes, vpn, Math.min(buf.entries, endVpn - vpn));
        if (got === 0) break; // unmapped meanwhile
        entries += got;
        vpn += got;
        for (let i = 0; i < got; i++) {
          const hi = words[2 * i + 1]!;
          // A page mapped once (exclusive) frees nothing, KSM page or not: not looked up.
          if ((hi & PM_PRESENT_HI) === 0 || (hi & (PM_FILE_HI | PM_MMAP_EXCLUSIVE_HI)) !== 0) continue;
          const pfn = pagemapPfn(words[2 * i]!, hi);
          if (pfn === 0) continue;
          if (pfn > 0xffffffff) big.push(pfn);
          else out.push(frames.indexOf(pfn));
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return entries;
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

/** One reading of the live machine (see the file comment). */
export function readLiveObservation(opts: LiveObservationOptions = {}): LiveObservation {
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
  const buf = entryBuffer(PAGEMAP_BATCH);
  // Each candidate page's frame, as an index into the distinct frames seen.
  const frames = new U32Index(4096);
  const pfns = new U32List();
  // Frames past 2^32 (hosts over 16 TiB) are not radix-sorted: such a reading is refused below.
  const big: number[] = [];
  const kept: { stat: KsmProcessStat; cgroup: string; from: number; to: number }[] = [];
  let scanned = 0;
  let entries = 0;
  for (const s of stats) {
    const from = pfns.n;
    if (s.ksm_merging_pages > 0 || s.ksm_mergeable) {
      try {
        entries += readCandidates(s.pid, frames, pfns, buf, big);
        scanned++;
      } catch (e) {
        warn(describeProcError(s.pid, 'its smaps and pagemap', e));
        pfns.n = from;
        continue;
      }
    }
    kept.push({ stat: s, cgroup: readCgroupPath(s.pid) ?? '', from, to: pfns.n });
  }
  lap('smaps+pagemap');
  if (big.length > 0)
    throw new Error(`Frame number ${big[0]} is past 2^32 (a host over 16 TiB): not supported by this reader`);

  // Each distinct frame once, ascending, then its flags and count.
  // The distinct frames in ascending order, for reads over runs of nearby frames.
  const n = pfns.n;
  const nd = frames.size;
  const seen = frames.keys();
  const order = radixOrder(seen, nd);
  const distinct = new Uint32Array(nd);
  for (let j = 0; j < nd; j++) distinct[j] = seen[order[j]!]!;
  lap('sort');
  const batching = opts.batching ?? DEFAULT_KPAGE_BATCHING;
  const cost: KpageReadStats = { reads: 0, entries: 0 };
  const flags = readKpage(KPAGEFLAGS, distinct, nd, batching, cost);
  // The KSM page index of each frame by its index in `frames`, -1 when it is not KSM.
  const ksmOf = new Int32Array(nd).fill(-1);
  let nk = 0;
  for (let j = 0; j < nd; j++) if ((flags[j]! & KPF_KSM) !== 0) ksmOf[order[j]!] = nk++;
  const ksmPfns = new Uint32Array(nk);
  for (let j = 0, k = 0; j < nd; j++) if ((flags[j]! & KPF_KSM) !== 0) ksmPfns[k++] = distinct[j]!;
  const mapcount = readKpage(KPAGECOUNT, ksmPfns, nk, batching, cost);
  lap('kpage');
  const refOf = pfns.a;
  const processes: ProcessObservation[] = kept.map(({ stat, cgroup, from, to }) => {
    let count = 0;
    for (let i = from; i < to; i++) if (ksmOf[refOf[i]!]! >= 0) count++;
    const frameRefs = new Int32Array(count);
    for (let i = from, k = 0; i < to; i++) {
      const f = ksmOf[refOf[i]!]!;
      if (f >= 0) frameRefs[k++] = f;
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
    };
  });
  lap('refs');
  const ksmd = findKsmdPid();
  const cpu = ksmd === undefined ? undefined : cpuSeconds(ksmd);
  return {
    time,
    ksm,
    frames: { count: nk, pfn: ksmPfns, mapcount },
    processes,
    ...(cpu === undefined ? {} : { ksmdCpuSeconds: cpu }),
    stats: {
      processes: kept.length,
      scanned,
      pagemapEntries: entries,
      candidates: n,
      distinctFrames: nd,
      kpageReads: cost.reads,
      kpageEntries: cost.entries,
      phaseMs,
    },
  };
}
