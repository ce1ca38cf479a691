import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fillPatternBytes, pagePeriod, splitmix64, type Pattern } from './patterns.ts';

const M64 = (1n << 64n) - 1n;

/** The table of docs/scenario-format.md, "Patterns", transcribed literally with BigInt: the byte at region offset i. */
function refByteAt(p: Pattern, i: number): number {
  const word = (v: bigint): number => Number((v >> BigInt((i % 8) * 8)) & 0xffn);
  const w = BigInt(Math.floor(i / 8));
  switch (p.kind) {
    case 'zero':
      return 0;
    case 'byte':
      return p.byte;
    case 'byte-cycle':
      return i % 256;
    case 'word-index':
      return word(w);
    case 'neg-word-index':
      return word(((1n << 64n) - w) & M64);
    case 'random':
      return word(refSplitmix64(p.seed + w));
    case 'page-mod': {
      const page = BigInt(Math.floor(i / 4096));
      const k = BigInt(Math.floor((i % 4096) / 8));
      return word(refSplitmix64(p.seed + (page % BigInt(p.period)) * 512n + k));
    }
    case 'text': {
      const bytes = new TextEncoder().encode(p.text);
      return bytes[i % bytes.length] as number;
    }
  }
}

function refSplitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

const seed64 = fc.bigInt({ min: 0n, max: M64 });
const anyPattern: fc.Arbitrary<Pattern> = fc.oneof(
  fc.constant({ kind: 'zero' as const }),
  fc.integer({ min: 0, max: 255 }).map((byte) => ({ kind: 'byte' as const, byte })),
  fc.constant({ kind: 'byte-cycle' as const }),
  fc.constant({ kind: 'word-index' as const }),
  fc.constant({ kind: 'neg-word-index' as const }),
  seed64.map((seed) => ({ kind: 'random' as const, seed })),
  fc
    .tuple(fc.integer({ min: 1, max: 5 }), seed64)
    .map(([period, seed]) => ({ kind: 'page-mod' as const, period, seed })),
  fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }).map((text) => ({ kind: 'text' as const, text })),
);

test('splitmix64 gives the well-known outputs of a splitmix64 generator seeded with 0', () => {
  // A generator with state s returns splitmix64(s) and adds the gamma, so its outputs are
  // splitmix64(0), splitmix64(gamma), splitmix64(2 * gamma).
  assert.equal(splitmix64(0n), 0xe220a8397b1dcdafn);
  assert.equal(splitmix64(0x9e3779b97f4a7c15n), 0x6e789e6aa1b965f4n);
  assert.equal(splitmix64((2n * 0x9e3779b97f4a7c15n) & M64), 0x06c45d188009454fn);
});

test('splitmix64 matches the reference formula and wraps its input modulo 2^64', () => {
  fc.assert(
    fc.property(seed64, (x) => {
      assert.equal(splitmix64(x), refSplitmix64(x));
      assert.equal(splitmix64(x + (1n << 64n)), splitmix64(x));
    }),
    { numRuns: 300, seed: 1 },
  );
});

test('fillPatternBytes: byte-cycle pages are 0..255 repeated', () => {
  const dst = new Uint8Array(8192);
  fillPatternBytes({ kind: 'byte-cycle' }, 4096, dst, 0, 8192);
  for (let i = 0; i < 8192; i++) assert.equal(dst[i], i % 256);
});

test('fillPatternBytes: word-index word w holds w, neg-word-index holds 2^64 - w', () => {
  const dst = new Uint8Array(4096);
  const view = new DataView(dst.buffer);
  fillPatternBytes({ kind: 'word-index' }, 0, dst, 0, 4096);
  for (let w = 0; w < 512; w++) assert.equal(view.getBigUint64(w * 8, true), BigInt(w));
  fillPatternBytes({ kind: 'neg-word-index' }, 0, dst, 0, 4096);
  assert.equal(view.getBigUint64(0, true), 0n);
  for (let w = 1; w < 512; w++) assert.equal(view.getBigUint64(w * 8, true), (1n << 64n) - BigInt(w));
  // Word indices past 2^32 (region offsets past 32 GiB) carry into the high half.
  const far = 2 ** 35 - 16;
  fillPatternBytes({ kind: 'word-index' }, far, dst, 0, 32);
  for (let j = 0; j < 4; j++) assert.equal(view.getBigUint64(j * 8, true), BigInt(far / 8 + j));
});

test('fillPatternBytes: random and page-mod words are splitmix64 of seed plus counter', () => {
  const dst = new Uint8Array(3 * 4096);
  const view = new DataView(dst.buffer);
  fillPatternBytes({ kind: 'random', seed: 7n }, 0, dst, 0, 64);
  for (let w = 0; w < 8; w++) assert.equal(view.getBigUint64(w * 8, true), splitmix64(7n + BigInt(w)));
  fillPatternBytes({ kind: 'page-mod', period: 2, seed: 5n }, 0, dst, 0, 3 * 4096);
  assert.equal(view.getBigUint64(4096 + 8, true), splitmix64(5n + 512n + 1n));
  assert.equal(view.getBigUint64(2 * 4096 + 8, true), splitmix64(5n + 1n));
  assert.deepEqual(dst.subarray(0, 4096), dst.subarray(2 * 4096));
});

test('fillPatternBytes matches the BigInt reference for any pattern, offset and length', () => {
  const offset = fc.oneof(fc.nat(20000), fc.integer({ min: 2 ** 35 - 5000, max: 2 ** 35 + 5000 }), fc.nat(2 ** 45));
  fc.assert(
    fc.property(anyPattern, offset, fc.nat(300), fc.nat(7), (pattern, regionOffset, length, dstOffset) => {
      const dst = new Uint8Array(dstOffset + length + 3).fill(0xa5);
      fillPatternBytes(pattern, regionOffset, dst, dstOffset, length);
      for (let j = 0; j < length; j++)
        assert.equal(dst[dstOffset + j], refByteAt(pattern, regionOffset + j), `byte ${j}`);
      // Nothing outside the range is touched.
      for (let j = 0; j < dstOffset; j++) assert.equal(dst[j], 0xa5);
      for (let j = dstOffset + length; j < dst.length; j++) assert.equal(dst[j], 0xa5);
    }),
    { numRuns: 400, seed: 2 },
  );
});

test('fillPatternBytes of any sub-range equals that slice of a whole-region fill, aligned or not', () => {
  const region = 5 * 4096;
  fc.assert(
    fc.property(anyPattern, fc.nat(region), fc.nat(region), fc.nat(9), (pattern, a, b, hostShift) => {
      const whole = new Uint8Array(region);
      fillPatternBytes(pattern, 0, whole, 0, region);
      const start = Math.min(a, b);
      const end = Math.max(a, b);
      // dst is a view at an odd byte offset of its buffer, to exercise the unaligned path.
      const host = new ArrayBuffer(end - start + 32);
      const dst = new Uint8Array(host, hostShift, end - start + 16);
      fillPatternBytes(pattern, start, dst, 3, end - start);
      assert.deepEqual(dst.subarray(3, 3 + end - start), whole.subarray(start, end));
    }),
    { numRuns: 200, seed: 3 },
  );
});

test('fillPatternBytes rejects bad ranges and bad patterns', () => {
  const dst = new Uint8Array(16);
  assert.throws(() => fillPatternBytes({ kind: 'zero' }, 0, dst, 8, 9), RangeError);
  assert.throws(() => fillPatternBytes({ kind: 'zero' }, -1, dst, 0, 1), RangeError);
  assert.throws(() => fillPatternBytes({ kind: 'zero' }, 0.5, dst, 0, 1), RangeError);
  assert.throws(() => fillPatternBytes({ kind: 'byte', byte: 256 }, 0, dst, 0, 1), RangeError);
  assert.throws(() => fillPatternBytes({ kind: 'text', text: '' }, 0, dst, 0, 1), RangeError);
  assert.throws(() => fillPatternBytes({ kind: 'page-mod', period: 0, seed: 1n }, 0, dst, 0, 1), RangeError);
});

test('pagePeriod gives the documented periods', () => {
  assert.equal(pagePeriod({ kind: 'zero' }), 1);
  assert.equal(pagePeriod({ kind: 'byte', byte: 9 }), 1);
  assert.equal(pagePeriod({ kind: 'byte-cycle' }), 1);
  assert.equal(pagePeriod({ kind: 'word-index' }), undefined);
  assert.equal(pagePeriod({ kind: 'neg-word-index' }), undefined);
  assert.equal(pagePeriod({ kind: 'random', seed: 1n }), undefined);
  assert.equal(pagePeriod({ kind: 'page-mod', period: 7, seed: 1n }), 7);
  assert.equal(pagePeriod({ kind: 'text', text: 'abc' }), 3);
  assert.equal(pagePeriod({ kind: 'text', text: 'abcd' }), 1);
  assert.equal(pagePeriod({ kind: 'text', text: 'x'.repeat(6000) }), 1); // primitive period 1
  assert.equal(pagePeriod({ kind: 'text', text: `${'ab'.repeat(3000)}c` }), 6001);
  assert.equal(pagePeriod({ kind: 'text', text: 'é' }), 1); // 2 UTF-8 bytes
  assert.equal(pagePeriod({ kind: 'text', text: 'abab' }), 1);
  assert.equal(pagePeriod({ kind: 'text', text: 'abcabc' }), 3);
});

test('pagePeriod P: page p and page p + P are equal, and no smaller shift works', () => {
  const small: fc.Arbitrary<Pattern> = fc.oneof(
    fc
      .tuple(fc.integer({ min: 1, max: 4 }), seed64)
      .map(([period, seed]) => ({ kind: 'page-mod' as const, period, seed })),
    fc
      .string({ minLength: 1, maxLength: 6, unit: fc.constantFrom('a', 'b', 'é') })
      .map((text) => ({ kind: 'text' as const, text })),
    fc.constant({ kind: 'byte-cycle' as const }),
  );
  fc.assert(
    fc.property(small, (pattern) => {
      const period = pagePeriod(pattern) as number;
      const pages = 2 * period + 1;
      const buf = new Uint8Array(pages * 4096);
      fillPatternBytes(pattern, 0, buf, 0, buf.length);
      const page = (p: number): Uint8Array => buf.subarray(p * 4096, (p + 1) * 4096);
      for (let p = 0; p + period < pages; p++) assert.deepEqual(page(p), page(p + period));
      for (let d = 1; d < period; d++) {
        let differs = false;
        for (let p = 0; p + d < pages && !differs; p++) differs = Buffer.compare(page(p), page(p + d)) !== 0;
        assert.ok(differs, `shift ${d} < period ${period} also repeats`);
      }
    }),
    { numRuns: 100, seed: 4 },
  );
});
