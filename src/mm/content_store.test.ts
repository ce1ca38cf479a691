/**
 * ContentStore: lazily stored pattern pages read, compare, hash and take writes exactly as
 * pages whose bytes were stored at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { comparePages } from '../lib/pagecmp.ts';
import { firstWordOf, wordGenerator } from '../lib/pattern_pages.ts';
import { fillPatternBytes, type Pattern } from '../lib/patterns.ts';
import { PageKernel } from '../lib/xxh64.ts';
import { ContentStore } from './content_store.ts';

function store(): { s: ContentStore; kernel: PageKernel } {
  const kernel = new PageKernel();
  return { s: new ContentStore({ checksum: (b, o) => kernel.checksumPage(b, o), compare: comparePages }), kernel };
}

function patternPage(p: Pattern, pageOffset: number): Uint8Array {
  const page = new Uint8Array(4096);
  fillPatternBytes(p, pageOffset, page, 0, 4096);
  return page;
}

function bytesOf(s: ContentStore, id: number): Uint8Array {
  return new Uint8Array(s.bufferOf(id).subarray(s.offsetOf(id), s.offsetOf(id) + 4096));
}

function lazy(s: ContentStore, p: Pattern, pageOffset: number): number {
  const gen = wordGenerator(p)!;
  return s.fromGenerated(s.generatorId(gen), firstWordOf(gen, pageOffset));
}

test('a lazy pattern page has the checksum of its bytes, and reads back as the pattern', () => {
  const { s, kernel } = store();
  const p: Pattern = { kind: 'random', seed: 9n };
  const ids = [0, 1, 77].map((n) => lazy(s, p, n * 4096));
  [0, 1, 77].forEach((n, i) => {
    const want = patternPage(p, n * 4096);
    assert.equal(s.checksum(ids[i]!), kernel.checksumPage(want, 0));
    assert.deepEqual(bytesOf(s, ids[i]!), want);
    // Reading it wrote its bytes: the checksum is unchanged.
    assert.equal(s.checksum(ids[i]!), kernel.checksumPage(want, 0));
  });
});

test('lazy pages compare in memcmp order like stored ones, also when their first 8 bytes tie', () => {
  const { s } = store();
  const head = new Uint8Array(4096);
  fc.assert(
    fc.property(fc.nat(4), fc.nat(4), fc.boolean(), (a, b, tie) => {
      const p: Pattern = { kind: 'word-index' };
      const x = lazy(s, p, a * 4096);
      // word-index pages differ in their first word; a stored page with the same first
      // 8 bytes as page b (and zeros after) makes the keys tie.
      let y: number;
      if (tie) {
        head.fill(0);
        fillPatternBytes(p, b * 4096, head, 0, 8);
        y = s.fromBytes(head, 0);
      } else {
        y = lazy(s, p, b * 4096);
      }
      const want = Math.sign(Buffer.compare(Buffer.from(bytesOf(s, x)), Buffer.from(bytesOf(s, y))));
      const fresh = [lazy(s, p, a * 4096), tie ? y : lazy(s, p, b * 4096)];
      assert.equal(s.compare(fresh[0]!, fresh[1]!), want);
      for (const id of [x, y, ...fresh]) if (s.refCount(id) > 0) s.release(id);
    }),
    { numRuns: 60, seed: 6 },
  );
});

test('a write into a lazy page keeps the bytes around it, and a shared lazy page is copied', () => {
  const { s, kernel } = store();
  const p: Pattern = { kind: 'random', seed: 2n };
  const want = patternPage(p, 5 * 4096);
  const src = new Uint8Array([1, 2, 3]);
  want.set(src, 100);
  const solo = s.write(lazy(s, p, 5 * 4096), 100, src, 0, 3);
  assert.deepEqual(bytesOf(s, solo), want);
  assert.equal(s.checksum(solo), kernel.checksumPage(want, 0));

  const shared = s.retain(lazy(s, p, 5 * 4096));
  const copy = s.write(shared, 100, src, 0, 3);
  assert.notEqual(copy, shared);
  assert.deepEqual(bytesOf(s, copy), want);
  assert.deepEqual(bytesOf(s, shared), patternPage(p, 5 * 4096));
});
