/**
 * /proc/PID/pagemap, /proc/kpageflags and /proc/kpagecount, decoded
 * (Documentation/admin-guide/mm/pagemap.rst): the one reader of these files.
 *
 * A pagemap entry is 64 bits per virtual page. Its flags sit in the high 32-bit word, so
 * they are tested there with 32-bit operations, and the frame number (bits 0-54) is put
 * together as a double: JavaScript's bitwise operators would cut it to 32 bits.
 *
 * /proc/kpageflags and /proc/kpagecount hold one 64-bit word per page frame, at offset
 * pfn * 8. Reading them one frame at a time costs a system call per frame (about a
 * microsecond); KpageFile reads many frames in few pread()s over runs of nearby frame
 * numbers, which is what a reader of a whole machine's frames needs (bench/attribution.ts
 * measures it).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { errorCode } from './procfs.ts';

/** Bit 63: the page is present in RAM. */
export const PM_PRESENT_HI = 1 << 31;
/** Bit 62: the page is swapped out. */
export const PM_SWAP_HI = 1 << 30;
/** Bit 61: a file page or shared anonymous memory. */
export const PM_FILE_HI = 1 << 29;
/** Bit 56: the page is mapped by this process only (and only once). */
export const PM_MMAP_EXCLUSIVE_HI = 1 << 24;
/** Bit 55: the PTE is soft-dirty. */
export const PM_SOFT_DIRTY_HI = 1 << 23;
/** Bits 32-54 of the frame number, in the high word (0 for every frame below 2^32: 16 TiB). */
export const PM_PFN_HI_MASK = 0x7fffff;

/** The per-frame files. */
export const KPAGEFLAGS = '/proc/kpageflags';
export const KPAGECOUNT = '/proc/kpagecount';

// /proc/kpageflags bits of include/uapi/linux/kernel-page-flags.h (all in the low word).

/** PG_referenced: the page was marked accessed (mark_page_accessed), not just its PTE young. */
export const KPF_REFERENCED = 1 << 2;
export const KPF_ANON = 1 << 12;
export const KPF_NOPAGE = 1 << 20;
export const KPF_KSM = 1 << 21;
export const KPF_THP = 1 << 22;
/** The shared zero page and the huge zero page. */
export const KPF_ZERO_PAGE = 1 << 24;

/** The frame number of a present entry given as its two 32-bit words (0 when hidden: not root). */
export function pagemapPfn(lo: number, hi: number): number {
  return (hi & PM_PFN_HI_MASK) * 2 ** 32 + lo;
}

/**
 * Reads the pagemap entries of pages [vpn, vpn + count) into `words` (two 32-bit words per
 * page, low first, from the start of the array); returns how many it got (fewer when the
 * mapping ends). `buf` must view the same memory as `words` and hold count * 8 bytes.
 */
export function readPagemap(fd: number, buf: Buffer, vpn: number, count: number): number {
  return Math.floor(readSync(fd, buf, 0, count * 8, vpn * 8) / 8);
}

/**
 * A reusable buffer for pagemap (or kpage*) entries: `bytes` and `words` view the same
 * memory, two 32-bit words per entry, low word first.
 */
export interface EntryBuffer {
  readonly bytes: Buffer;
  readonly words: Uint32Array;
  /** Entries it holds. */
  readonly entries: number;
}

/** A buffer of `entries` 64-bit entries on its own ArrayBuffer (so the 32-bit view is aligned). */
export function entryBuffer(entries: number): EntryBuffer {
  const bytes = Buffer.from(new ArrayBuffer(entries * 8));
  return { bytes, words: new Uint32Array(bytes.buffer), entries };
}

/**
 * Calls `visit(vpn, lo, hi)` for every pagemap entry of pages [startVpn, endVpn) of the
 * open pagemap `fd`, reading `buf.entries` entries per pread. Stops early, returning the
 * first page not read, when the range stops being mapped (the process unmapped it or
 * exited); returns endVpn otherwise.
 */
export function forEachPagemapEntry(
  fd: number,
  startVpn: number,
  endVpn: number,
  buf: EntryBuffer,
  visit: (vpn: number, lo: number, hi: number) => void,
): number {
  const words = buf.words;
  for (let vpn = startVpn; vpn < endVpn; ) {
    const got = readPagemap(fd, buf.bytes, vpn, Math.min(buf.entries, endVpn - vpn));
    if (got === 0) return vpn;
    for (let i = 0; i < got; i++) visit(vpn + i, words[2 * i]!, words[2 * i + 1]!);
    vpn += got;
  }
  return endVpn;
}

/** Opens /proc/PID/pagemap; the caller closes it. */
export function openPagemap(pid: number): number {
  return openSync(`/proc/${pid}/pagemap`, 'r');
}

/**
 * Pages of [address, address+length) that are present and map a real frame: a frame
 * `isZeroPage` calls the shared zero page is not memory the process owns, so it does not
 * count. Root sees frame numbers; without them the caller's predicate finds no zero page
 * and every present page counts.
 */
export function countPresentPages(
  pid: number,
  address: number,
  length: number,
  isZeroPage: (pfn: number) => boolean,
): number {
  const pages = Math.ceil(length / PAGE_SIZE);
  if (pages === 0) return 0;
  const buf = Buffer.from(new ArrayBuffer(pages * 8));
  const words = new Uint32Array(buf.buffer);
  const fd = openPagemap(pid);
  let done = 0;
  try {
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, (address / PAGE_SIZE) * 8 + done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const got = Math.floor(done / 8);
  let count = 0;
  for (let i = 0; i < got; i++) {
    const lo = words[2 * i]!;
    const hi = words[2 * i + 1]!;
    if ((hi & PM_PRESENT_HI) === 0) continue;
    if (isZeroPage(pagemapPfn(lo, hi))) continue;
    count++;
  }
  return count;
}

/** How a KpageFile groups frames into reads: the defaults were measured in bench/attribution.ts. */
export interface KpageBatching {
  /** Frames read per pread at most (the buffer's size in entries). */
  readonly maxSpan: number;
  /**
   * The largest gap between two wanted frames that one read still spans: reading the frames
   * in between costs less than another system call up to about this many.
   */
  readonly maxGap: number;
}

export const DEFAULT_KPAGE_BATCHING: KpageBatching = { maxSpan: 16384, maxGap: 64 };

/** What batched reads cost: system calls, and entries read (wanted ones and those in gaps). */
export interface KpageReadStats {
  reads: number;
  entries: number;
}

/**
 * /proc/kpageflags or /proc/kpagecount (root only): one 64-bit word per page frame. Reads
 * the words of many frames at once, in few pread()s. Close it when done.
 */
export class KpageFile {
  readonly path: string;
  readonly #fd: number;
  readonly #buf: EntryBuffer;
  readonly #batching: KpageBatching;
  readonly stats: KpageReadStats = { reads: 0, entries: 0 };

  /** Opens `path`; throws (ENOENT, EACCES...) when it cannot. */
  constructor(path: string, batching: KpageBatching = DEFAULT_KPAGE_BATCHING) {
    if (!(batching.maxSpan >= 1 && batching.maxGap >= 1))
      throw new RangeError(`KpageFile batching must be at least 1 frame, got ${JSON.stringify(batching)}`);
    this.path = path;
    this.#batching = batching;
    this.#fd = openSync(path, 'r');
    this.#buf = entryBuffer(batching.maxSpan);
  }

  /**
   * The low 32-bit words of frames `pfns[0..count)` into `lo[0..count)` (and the high words
   * into `hi` when given). One pread covers a run of ascending frames whose gaps are at most
   * maxGap; frames in any other order are still read right, in more reads. Frames past the
   * end of the file read as 0.
   */
  read(pfns: ArrayLike<number>, count: number, lo: Uint32Array, hi?: Uint32Array): void {
    const { maxSpan, maxGap } = this.#batching;
    const words = this.#buf.words;
    let i = 0;
    while (i < count) {
      const first = pfns[i]!;
      let j = i + 1;
      while (j < count && pfns[j]! > pfns[j - 1]! && pfns[j]! - first < maxSpan && pfns[j]! - pfns[j - 1]! <= maxGap)
        j++;
      const span = pfns[j - 1]! - first + 1;
      const got = Math.floor(readSync(this.#fd, this.#buf.bytes, 0, span * 8, first * 8) / 8);
      this.stats.reads++;
      this.stats.entries += got;
      for (let k = i; k < j; k++) {
        const at = pfns[k]! - first;
        lo[k] = at < got ? words[2 * at]! : 0;
        if (hi !== undefined) hi[k] = at < got ? words[2 * at + 1]! : 0;
      }
      i = j;
    }
  }

  /** The low word of one frame's entry (0 past the end). */
  readOne(pfn: number): number {
    const lo = new Uint32Array(1);
    this.read([pfn], 1, lo);
    return lo[0]!;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * Which frames are the (huge) zero page, by /proc/kpageflags (root only), cached per frame.
 * Opened on first use; close it when done.
 */
export class ZeroPageFrames {
  readonly #warn: (message: string) => void;
  /** The open file; undefined before the first look, null when it could not be opened. */
  #flags: KpageFile | undefined | null;
  readonly #known = new Map<number, boolean>();
  #warnedHiddenPfn = false;

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  /** Whether frame `pfn` is the zero page; false (with one warning) when frames are hidden. */
  isZeroPage(pfn: number): boolean {
    if (pfn === 0) {
      // Without CAP_SYS_ADMIN pagemap shows no frame numbers: zero-page mappings look like
      // ordinary shared pages and are counted (as zero pages, so they are easy to spot).
      if (!this.#warnedHiddenPfn)
        this.#warn('Page frame numbers are hidden (not root): zero-page mappings cannot be told apart and are counted');
      this.#warnedHiddenPfn = true;
      return false;
    }
    const cached = this.#known.get(pfn);
    if (cached !== undefined) return cached;
    if (this.#flags === undefined) {
      try {
        this.#flags = new KpageFile(KPAGEFLAGS, { maxSpan: 1, maxGap: 1 });
      } catch (e) {
        this.#warn(`Cannot read ${KPAGEFLAGS} (${errorCode(e) ?? String(e)}): zero-page mappings are counted`);
        this.#flags = null;
      }
    }
    const zero = this.#flags !== null && (this.#flags.readOne(pfn) & KPF_ZERO_PAGE) !== 0;
    this.#known.set(pfn, zero);
    return zero;
  }

  close(): void {
    this.#flags?.close();
    this.#flags = null;
  }
}
