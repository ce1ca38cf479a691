/**
 * Fill patterns of scenario files (docs/scenario-format.md, "Patterns"): every byte of
 * a filled range is a function of its offset from the start of the region.
 */
export type Pattern =
  | { readonly kind: 'zero' }
  | { readonly kind: 'byte'; readonly byte: number }
  | { readonly kind: 'byte-cycle' }
  | { readonly kind: 'word-index' }
  | { readonly kind: 'neg-word-index' }
  | { readonly kind: 'random'; readonly seed: bigint }
  | { readonly kind: 'page-mod'; readonly period: number; readonly seed: bigint }
  | { readonly kind: 'text'; readonly text: string };

const PAGE = 4096;
const WORDS_PER_PAGE = PAGE / 8;
const TWO_POW_32 = 0x1_0000_0000;
const M64 = (1n << 64n) - 1n;
/** splitmix64's constants, as bigints and as 32-bit halves for the fast path. */
const GAMMA = 0x9e3779b97f4a7c15n;
const MUL1 = 0xbf58476d1ce4e5b9n;
const MUL2 = 0x94d049bb133111ebn;
const MUL1_HI = 0xbf58476d;
const MUL1_LO = 0x1ce4e5b9;
const MUL2_HI = 0x94d049bb;
const MUL2_LO = 0x133111eb;
/** Word patterns are stored through a Uint32Array view, which is host-endian. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Words generated per chunk when the destination is not 4-byte aligned. */
const SCRATCH_WORDS = 4096;

/** splitmix64 as docs/scenario-format.md states it, all arithmetic modulo 2^64 (the reference form). */
export function splitmix64(x: bigint): bigint {
  let z = (x + GAMMA) & M64;
  z = ((z ^ (z >> 30n)) * MUL1) & M64;
  z = ((z ^ (z >> 27n)) * MUL2) & M64;
  return z ^ (z >> 31n);
}

/**
 * Produces 64-bit words as 32-bit halves. `fill32` writes `count` words starting at word
 * index `first` into out[0..2*count) (low half first, i.e. little-endian); `at` leaves one
 * word in `lo`/`hi`. Each kind's loop is its own method so the hot loops stay monomorphic.
 */
interface WordSource {
  lo: number;
  hi: number;
  at(w: number): void;
  fill32(out: Uint32Array, first: number, count: number): void;
}

class WordIndexSource implements WordSource {
  lo = 0;
  hi = 0;
  at(w: number): void {
    this.lo = w >>> 0;
    this.hi = (w / TWO_POW_32) >>> 0;
  }
  fill32(out: Uint32Array, first: number, count: number): void {
    let lo = first >>> 0;
    let hi = (first / TWO_POW_32) >>> 0;
    for (let j = 0; j < count; j++) {
      out[2 * j] = lo;
      out[2 * j + 1] = hi;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
  }
}

/** Word w holds (2^64 - w) mod 2^64, the two's complement negation of w. */
class NegWordIndexSource implements WordSource {
  lo = 0;
  hi = 0;
  at(w: number): void {
    const lo = -(w >>> 0) >>> 0;
    this.lo = lo;
    this.hi = (~((w / TWO_POW_32) >>> 0) + (lo === 0 ? 1 : 0)) >>> 0;
  }
  fill32(out: Uint32Array, first: number, count: number): void {
    for (let j = 0; j < count; j++) {
      this.at(first + j);
      out[2 * j] = this.lo;
      out[2 * j + 1] = this.hi;
    }
  }
}

/** High 32 bits of the 64-bit product of two u32s, from 16-bit pieces (all exact doubles). */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
}

/**
 * splitmix64's mixing steps on z = hi:lo (the gamma already added), stored as out[at] = low
 * half, out[at + 1] = high half. A 64-bit product's low 64 bits are lo*bLo in full plus the
 * two cross products, which only reach the high half.
 */
function splitmixMixInto(lo: number, hi: number, out: Uint32Array, at: number): void {
  let l = (lo ^ ((lo >>> 30) | (hi << 2))) >>> 0;
  let h = (hi ^ (hi >>> 30)) >>> 0;
  let ph = (mulHi32(l, MUL1_LO) + Math.imul(h, MUL1_LO) + Math.imul(l, MUL1_HI)) >>> 0;
  l = Math.imul(l, MUL1_LO) >>> 0;
  h = ph;
  l = (l ^ ((l >>> 27) | (h << 5))) >>> 0;
  h = (h ^ (h >>> 27)) >>> 0;
  ph = (mulHi32(l, MUL2_LO) + Math.imul(h, MUL2_LO) + Math.imul(l, MUL2_HI)) >>> 0;
  l = Math.imul(l, MUL2_LO) >>> 0;
  h = ph;
  out[at] = l ^ ((l >>> 31) | (h << 1));
  out[at + 1] = h ^ (h >>> 31);
}

/**
 * Word w holds splitmix64(seed + c(w)), where c(w) = w for `random` and, for `page-mod`, the
 * word's index within its page plus 512 * (page mod N), which is w taken modulo 512 * N.
 * Computed on 32-bit halves: BigInt in this loop would be far slower.
 */
class SplitmixSource implements WordSource {
  lo = 0;
  hi = 0;
  /** seed + GAMMA mod 2^64, so a word needs one 64-bit add before mixing. */
  readonly #baseLo: number;
  readonly #baseHi: number;
  /** The counter wraps to 0 here: 512 * N for page-mod, Infinity for random. */
  readonly #wrap: number;
  readonly #one = new Uint32Array(2);

  constructor(seed: bigint, wrap: number) {
    const base = (BigInt.asUintN(64, seed) + GAMMA) & M64;
    this.#baseLo = Number(base & 0xffffffffn);
    this.#baseHi = Number(base >> 32n);
    this.#wrap = wrap;
  }

  at(w: number): void {
    this.fill32(this.#one, w, 1);
    this.lo = this.#one[0] as number;
    this.hi = this.#one[1] as number;
  }

  fill32(out: Uint32Array, first: number, count: number): void {
    const wrap = this.#wrap;
    const baseLo = this.#baseLo;
    const baseHi = this.#baseHi;
    let c = first % wrap;
    for (let j = 0; j < count; j++) {
      // z = base + c, a 64-bit add with carry; c < 2^53.
      const sumLo = baseLo + (c >>> 0);
      splitmixMixInto(sumLo >>> 0, baseHi + ((c / TWO_POW_32) >>> 0) + (sumLo >= TWO_POW_32 ? 1 : 0), out, 2 * j);
      c += 1;
      if (c === wrap) c = 0;
    }
  }
}

function checkPattern(pattern: Pattern): void {
  switch (pattern.kind) {
    case 'byte':
      if (!Number.isInteger(pattern.byte) || pattern.byte < 0 || pattern.byte > 255) {
        throw new RangeError(`byte pattern needs an integer in 0..255, got ${pattern.byte}`);
      }
      return;
    case 'page-mod':
      if (
        !Number.isSafeInteger(pattern.period) ||
        pattern.period < 1 ||
        pattern.period * WORDS_PER_PAGE > Number.MAX_SAFE_INTEGER
      ) {
        throw new RangeError(`page-mod pattern needs a positive integer period, got ${pattern.period}`);
      }
      return;
    case 'text':
      if (pattern.text.length === 0) throw new RangeError('text pattern needs a non-empty text');
      return;
    default:
      return;
  }
}

function isNonNegInt(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Writes the bytes the pattern defines for region offsets [regionOffset, regionOffset + length)
 * into dst[dstOffset, dstOffset + length). The range may start and end inside a 64-bit word.
 */
export function fillPatternBytes(
  pattern: Pattern,
  regionOffset: number,
  dst: Uint8Array,
  dstOffset: number,
  length: number,
): void {
  if (
    !isNonNegInt(regionOffset) ||
    !isNonNegInt(dstOffset) ||
    !isNonNegInt(length) ||
    dstOffset + length > dst.length
  ) {
    throw new RangeError(
      `fillPatternBytes: bad range (region offset ${regionOffset}, dst offset ${dstOffset}, length ${length}, dst ${dst.length} bytes)`,
    );
  }
  checkPattern(pattern);
  if (length === 0) return;
  switch (pattern.kind) {
    case 'zero':
      dst.fill(0, dstOffset, dstOffset + length);
      return;
    case 'byte':
      dst.fill(pattern.byte, dstOffset, dstOffset + length);
      return;
    case 'byte-cycle': {
      const first = Math.min(length, 256);
      for (let j = 0; j < first; j++) dst[dstOffset + j] = (regionOffset + j) & 0xff;
      repeatPrefix(dst, dstOffset, first, length);
      return;
    }
    case 'text': {
      const bytes = new TextEncoder().encode(pattern.text);
      const first = Math.min(length, bytes.length);
      for (let j = 0; j < first; j++) dst[dstOffset + j] = bytes[(regionOffset + j) % bytes.length] as number;
      repeatPrefix(dst, dstOffset, first, length);
      return;
    }
    case 'word-index':
      fillWords(new WordIndexSource(), regionOffset, dst, dstOffset, length);
      return;
    case 'neg-word-index':
      fillWords(new NegWordIndexSource(), regionOffset, dst, dstOffset, length);
      return;
    case 'random':
      fillWords(new SplitmixSource(pattern.seed, Infinity), regionOffset, dst, dstOffset, length);
      return;
    case 'page-mod':
      fillWords(
        new SplitmixSource(pattern.seed, pattern.period * WORDS_PER_PAGE),
        regionOffset,
        dst,
        dstOffset,
        length,
      );
      return;
  }
}

/**
 * Extends a periodic fill: dst[off, off + period) is written and `period` is a whole number of
 * periods (or all of `length`), so copying what is written doubles it each step.
 */
function repeatPrefix(dst: Uint8Array, off: number, period: number, length: number): void {
  let filled = period;
  while (filled < length) {
    const n = Math.min(filled, length - filled);
    dst.copyWithin(off + filled, off, off + n);
    filled += n;
  }
}

/** Writes bytes [from, to) of the current word of `src` (`src.at` already called) at dst[pos]. */
function writeWordBytes(src: WordSource, from: number, to: number, dst: Uint8Array, pos: number): void {
  for (let b = from; b < to; b++) {
    const half = b < 4 ? src.lo : src.hi;
    dst[pos + b - from] = (half >>> ((b & 3) * 8)) & 0xff;
  }
}

function fillWords(src: WordSource, regionOffset: number, dst: Uint8Array, dstOffset: number, length: number): void {
  const end = regionOffset + length;
  let off = regionOffset;
  let pos = dstOffset;
  // Head: the range starts inside a word.
  const headSkip = off % 8;
  if (headSkip !== 0) {
    const w = (off - headSkip) / 8;
    const to = Math.min(8, end - w * 8);
    src.at(w);
    writeWordBytes(src, headSkip, to, dst, pos);
    pos += to - headSkip;
    off += to - headSkip;
  }
  // Whole words.
  const whole = Math.floor((end - off) / 8);
  if (whole > 0) {
    const first = off / 8;
    if (LITTLE_ENDIAN_HOST && (dst.byteOffset + pos) % 4 === 0) {
      src.fill32(new Uint32Array(dst.buffer, dst.byteOffset + pos, whole * 2), first, whole);
    } else {
      const scratch = new Uint32Array(Math.min(whole, SCRATCH_WORDS) * 2);
      const scratchBytes = new Uint8Array(scratch.buffer);
      for (let done = 0; done < whole; ) {
        const n = Math.min(whole - done, SCRATCH_WORDS);
        src.fill32(scratch, first + done, n);
        if (LITTLE_ENDIAN_HOST) {
          dst.set(scratchBytes.subarray(0, n * 8), pos + done * 8);
        } else {
          for (let j = 0; j < n; j++) {
            src.lo = scratch[2 * j] as number;
            src.hi = scratch[2 * j + 1] as number;
            writeWordBytes(src, 0, 8, dst, pos + (done + j) * 8);
          }
        }
        done += n;
      }
    }
    pos += whole * 8;
    off += whole * 8;
  }
  // Tail: the range ends inside a word.
  if (off < end) {
    src.at(off / 8);
    writeWordBytes(src, 0, end - off, dst, pos);
  }
}

/**
 * The smallest P (in pages) such that, for page-aligned pages, page p and page p + P of a
 * region always hold the same bytes; undefined when no page repeats. Callers generate each
 * distinct page once.
 */
export function pagePeriod(pattern: Pattern): number | undefined {
  checkPattern(pattern);
  switch (pattern.kind) {
    case 'zero':
    case 'byte':
    case 'byte-cycle': // 4096 is a multiple of 256
      return 1;
    case 'text': {
      // The byte stream repeats every q bytes, q the text's primitive period (q = len unless
      // the text is itself a repetition, like "abab"), so pages repeat every
      // lcm(q, 4096) / 4096 = q / gcd(q, 4096) pages.
      const q = primitivePeriod(new TextEncoder().encode(pattern.text));
      let g = q;
      let b = PAGE;
      while (b !== 0) [g, b] = [b, g % b];
      return q / g;
    }
    case 'page-mod':
      return pattern.period;
    case 'word-index':
    case 'neg-word-index':
    case 'random':
      return undefined;
  }
}

/** The smallest q dividing bytes.length such that bytes is q repeated copies of its prefix. */
function primitivePeriod(bytes: Uint8Array): number {
  const len = bytes.length;
  outer: for (let q = 1; q < len; q++) {
    if (len % q !== 0) continue;
    for (let i = q; i < len; i++) if (bytes[i] !== bytes[i - q]) continue outer;
    return q;
  }
  return len;
}
