/**
 * Whole pages of the word patterns (patterns.ts: `random`, `page-mod`, `word-index`,
 * `neg-word-index`), as the page kernel (wasm/pagekernel.wat) generates them: each 64-bit
 * word of a region is a function of its word index alone, so a page is described by the
 * pattern and the index of its first word. The page kernel writes a page in a fraction of
 * the time fillPatternBytes takes (its 64-bit multiplies are native), which is what lets a
 * simulated machine be filled faster than memory can be touched; the bytes are the same
 * (pattern_pages.test.ts holds them to fillPatternBytes, which docs/scenario-format.md defines).
 */
import type { Pattern } from './patterns.ts';

/** gen_splitmix: splitmix64 of base + counter. */
export const GEN_SPLITMIX = 0;
/** gen_index: the word index, or its negation. */
export const GEN_INDEX = 1;
export const GEN_NEG_INDEX = 2;

const GAMMA = 0x9e3779b97f4a7c15n;
const M64 = (1n << 64n) - 1n;
/** Words in a 4 KiB page. */
const PAGE_WORDS = 512;

/** How the page kernel generates a word pattern's pages. */
export interface WordGenerator {
  /** GEN_SPLITMIX, GEN_INDEX or GEN_NEG_INDEX. */
  readonly op: number;
  /** splitmix64's seed + gamma (mod 2^64), as 32-bit halves; 0 for the index patterns. */
  readonly baseLo: number;
  readonly baseHi: number;
  /** The word counter wraps to 0 here (page-mod: 512 * N); 0 for never. */
  readonly wrap: number;
  /** Pages repeat with this period (page-mod's N); undefined when every page differs. */
  readonly pagePeriod: number | undefined;
}

/** The generator of a word pattern, or undefined for a pattern the page kernel does not make. */
export function wordGenerator(pattern: Pattern): WordGenerator | undefined {
  switch (pattern.kind) {
    case 'word-index':
      return { op: GEN_INDEX, baseLo: 0, baseHi: 0, wrap: 0, pagePeriod: undefined };
    case 'neg-word-index':
      return { op: GEN_NEG_INDEX, baseLo: 0, baseHi: 0, wrap: 0, pagePeriod: undefined };
    case 'random':
      return { op: GEN_SPLITMIX, ...splitmixBase(pattern.seed), wrap: 0, pagePeriod: undefined };
    case 'page-mod':
      if (!Number.isSafeInteger(pattern.period * PAGE_WORDS) || pattern.period < 1) return undefined;
      return {
        op: GEN_SPLITMIX,
        ...splitmixBase(pattern.seed),
        wrap: pattern.period * PAGE_WORDS,
        pagePeriod: pattern.period,
      };
    default:
      return undefined;
  }
}

function splitmixBase(seed: bigint): { baseLo: number; baseHi: number } {
  const base = (BigInt.asUintN(64, seed) + GAMMA) & M64;
  return { baseLo: Number(base & 0xffffffffn), baseHi: Number(base >> 32n) };
}

/**
 * The counter value of the first word of the page at region offset `pageOffset` (page
 * aligned): its word index, taken modulo the wrap.
 */
export function firstWordOf(gen: WordGenerator, pageOffset: number): number {
  const w = pageOffset / 8;
  return gen.wrap === 0 ? w : w % gen.wrap;
}
