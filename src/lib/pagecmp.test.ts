import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { comparePages, isZeroPage, pagesEqual } from './pagecmp.ts';

function naiveCompare(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  for (let i = 0; i < 4096; i++) {
    const x = a[aOff + i] as number;
    const y = b[bOff + i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * A page from a two-letter alphabet with a few edits, so pages equal for long prefixes, equal
 * exactly, or differing only in the JS prefix or only in the native part all come up.
 */
const page = fc
  .tuple(
    fc.constantFrom(0, 0x7f, 0x80, 0xff),
    fc.array(fc.tuple(fc.oneof(fc.nat(80), fc.nat(4095)), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff)), { maxLength: 3 }),
  )
  .map(([fill, edits]) => {
    const p = new Uint8Array(4096).fill(fill);
    for (const [at, v] of edits) p[at] = v;
    return p;
  });

/** Places a page at a page-unaligned offset inside a larger plain Uint8Array or Buffer. */
const placed = fc.tuple(page, fc.nat(100), fc.boolean()).map(([p, off, asBuffer]) => {
  const host = asBuffer ? Buffer.alloc(4096 + off + 7, 0x55) : new Uint8Array(4096 + off + 7).fill(0x55);
  host.set(p, off);
  return { host, off };
});

test('comparePages agrees with a byte loop in sign, for Buffers and plain Uint8Arrays', () => {
  fc.assert(
    fc.property(placed, placed, (a, b) => {
      const expected = naiveCompare(a.host, a.off, b.host, b.off);
      assert.equal(comparePages(a.host, a.off, b.host, b.off), expected);
      assert.equal(comparePages(b.host, b.off, a.host, a.off), 0 - expected); // not -expected: -0 !== 0
      assert.equal(pagesEqual(a.host, a.off, b.host, b.off), expected === 0);
    }),
    { numRuns: 1000, seed: 11 },
  );
});

test('comparePages compares bytes as unsigned, inside and after the JS prefix', () => {
  for (const at of [0, 63, 64, 4095]) {
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    a[at] = 0x80;
    b[at] = 0x7f;
    assert.equal(comparePages(a, 0, b, 0), 1, `at ${at}`);
    assert.equal(comparePages(b, 0, a, 0), -1, `at ${at}`);
  }
});

test('comparePages returns 0 for a page compared with itself', () => {
  const buf = new Uint8Array(8192).map((_, i) => (i * 7) & 255);
  assert.equal(comparePages(buf, 4096, buf, 4096), 0);
  assert.equal(pagesEqual(buf, 0, buf, 0), true);
});

test('comparePages rejects pages that run past the end of their array', () => {
  const buf = new Uint8Array(8192);
  assert.throws(() => comparePages(buf, 4097, buf, 0), RangeError);
  assert.throws(() => comparePages(buf, 0, buf, -1), RangeError);
  assert.throws(() => isZeroPage(buf, 8000), RangeError);
});

test('isZeroPage is true only when all 4096 bytes are zero', () => {
  fc.assert(
    fc.property(placed, (a) => {
      const expected = a.host.subarray(a.off, a.off + 4096).every((v) => v === 0);
      assert.equal(isZeroPage(a.host, a.off), expected);
    }),
    { numRuns: 500, seed: 12 },
  );
  const buf = new Uint8Array(3 * 4096);
  assert.equal(isZeroPage(buf, 4096), true);
  buf[4096 + 4095] = 1;
  assert.equal(isZeroPage(buf, 4096), false);
  assert.equal(isZeroPage(buf, 1), true);
});
