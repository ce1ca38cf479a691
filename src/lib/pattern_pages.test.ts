import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARENA_SLOTS, compilePageKernel, PageArena, SCRATCH_PAGE } from './page_arena.ts';
import { firstWordOf, wordGenerator } from './pattern_pages.ts';
import { fillPatternBytes, splitmix64, type Pattern } from './patterns.ts';

const M64 = (1n << 64n) - 1n;
const seed64 = fc.bigInt({ min: 0n, max: M64 });
const wordPattern: fc.Arbitrary<Pattern> = fc.oneof(
  fc.constant({ kind: 'word-index' as const }),
  fc.constant({ kind: 'neg-word-index' as const }),
  seed64.map((seed) => ({ kind: 'random' as const, seed })),
  fc
    .tuple(fc.integer({ min: 1, max: 9 }), seed64)
    .map(([period, seed]) => ({ kind: 'page-mod' as const, period, seed })),
);

/** The page the page kernel generates for region offset `pageOffset` (page aligned). */
function generated(arena: PageArena, pattern: Pattern, pageOffset: number): Uint8Array {
  const gen = wordGenerator(pattern)!;
  arena.generate(SCRATCH_PAGE, gen, firstWordOf(gen, pageOffset));
  return new Uint8Array(arena.bytes.subarray(SCRATCH_PAGE, SCRATCH_PAGE + 4096));
}

test('the page kernel generates the same pages as fillPatternBytes, at any page offset', () => {
  const arena = new PageArena(compilePageKernel());
  const page = fc.oneof(fc.nat(64), fc.integer({ min: 2 ** 23 - 8, max: 2 ** 23 + 8 }), fc.nat(2 ** 40));
  fc.assert(
    fc.property(wordPattern, page, (pattern, p) => {
      const want = new Uint8Array(4096);
      fillPatternBytes(pattern, p * 4096, want, 0, 4096);
      assert.deepEqual(generated(arena, pattern, p * 4096), want);
    }),
    { numRuns: 300, seed: 5 },
  );
});

test('the page kernel writes generated pages into slots too, and only there', () => {
  const arena = new PageArena(compilePageKernel());
  arena.reserve(3);
  const off = PageArena.offsetOf(2);
  arena.bytes.fill(0xa5, PageArena.offsetOf(1), PageArena.offsetOf(4));
  const gen = wordGenerator({ kind: 'random', seed: 3n })!;
  arena.generate(off, gen, 512 * 7);
  const view = new DataView(arena.bytes.buffer, arena.bytes.byteOffset + off, 4096);
  for (let j = 0; j < 512; j++) assert.equal(view.getBigUint64(j * 8, true), splitmix64(3n + BigInt(512 * 7 + j)));
  assert.ok(arena.bytes.subarray(PageArena.offsetOf(1), off).every((b) => b === 0xa5));
  assert.ok(arena.bytes.subarray(off + 4096, PageArena.offsetOf(4)).every((b) => b === 0xa5));
  assert.ok(ARENA_SLOTS > 3);
});

test('page-mod pages repeat with the period, and the counter wraps inside a page only at the period', () => {
  const arena = new PageArena(compilePageKernel());
  const p: Pattern = { kind: 'page-mod', period: 3, seed: 11n };
  assert.deepEqual(generated(arena, p, 4 * 4096), generated(arena, p, 4096));
  assert.notDeepEqual(generated(arena, p, 2 * 4096), generated(arena, p, 0));
  assert.equal(firstWordOf(wordGenerator(p)!, 5 * 4096), 2 * 512);
});

test('wordGenerator covers the word patterns only', () => {
  assert.equal(wordGenerator({ kind: 'zero' }), undefined);
  assert.equal(wordGenerator({ kind: 'byte', byte: 1 }), undefined);
  assert.equal(wordGenerator({ kind: 'byte-cycle' }), undefined);
  assert.equal(wordGenerator({ kind: 'text', text: 'a' }), undefined);
  assert.equal(wordGenerator({ kind: 'random', seed: 1n })?.pagePeriod, undefined);
  assert.equal(wordGenerator({ kind: 'page-mod', period: 4, seed: 1n })?.pagePeriod, 4);
});
