/**
 * /proc/PID/pagemap and /proc/kpageflags, decoded (Documentation/admin-guide/mm/pagemap.rst).
 * A pagemap entry is 64 bits per virtual page. Its flags sit in the high 32-bit word, so
 * they are tested there with 32-bit operations, and the frame number (bits 0-54) is put
 * together as a double: JavaScript's bitwise operators would cut it to 32 bits.
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
/** Bit 56: the page is mapped by this process only. */
export const PM_MMAP_EXCLUSIVE_HI = 1 << 24;
/** Bits 32-54 of the frame number, in the high word. */
const PM_PFN_HI_MASK = 0x7fffff;

/** /proc/kpageflags bit KPF_ZERO_PAGE: the shared zero page and the huge zero page. */
const KPF_ZERO_PAGE = 1 << 24;

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

/** Opens /proc/PID/pagemap; the caller closes it. */
export function openPagemap(pid: number): number {
  return openSync(`/proc/${pid}/pagemap`, 'r');
}

/**
 * Pages of [address, address+length) that are present and map a real frame: the shared
 * zero page (`zeroPfn`) is not memory the process owns, so it does not count. Root sees
 * frame numbers; without them (zeroPfn 0) every present page counts.
 */
export function countPresentPages(pid: number, address: number, length: number, zeroPfn: number): number {
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
    if (zeroPfn !== 0 && pagemapPfn(lo, hi) === zeroPfn) continue;
    count++;
  }
  return count;
}

/**
 * Which frames are the (huge) zero page, by /proc/kpageflags (root only), cached per frame.
 * Opened on first use; close it when done.
 */
export class ZeroPageFrames {
  readonly #warn: (message: string) => void;
  /** The open descriptor; undefined before the first look, null when it could not be opened. */
  #fd: number | undefined | null;
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
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync('/proc/kpageflags', 'r');
      } catch (e) {
        this.#warn(`Cannot read /proc/kpageflags (${errorCode(e) ?? String(e)}): zero-page mappings are counted`);
        this.#fd = null;
      }
    }
    let zero = false;
    if (typeof this.#fd === 'number') {
      const word = Buffer.alloc(8);
      if (readSync(this.#fd, word, 0, 8, pfn * 8) === 8) zero = (word.readUInt32LE(0) & KPF_ZERO_PAGE) !== 0;
    }
    this.#known.set(pfn, zero);
    return zero;
  }

  close(): void {
    if (typeof this.#fd === 'number') closeSync(this.#fd);
    this.#fd = null;
  }
}
