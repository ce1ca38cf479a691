import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { packageRoot } from './package_root.ts';
import { PageKernel } from './xxh64.ts';

// A straightforward BigInt transcription of the XXH64 specification, independent of the
// WebAssembly under test.
const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const round = (acc: bigint, lane: bigint): bigint => (rotl((acc + lane * P2) & M64, 31n) * P1) & M64;
const merge = (h: bigint, acc: bigint): bigint => ((h ^ round(0n, acc)) * P1 + P4) & M64;
function readLE(b: Uint8Array, at: number, n: number): bigint {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i] as number);
  return v;
}
function refXxh64(b: Uint8Array, seed = 0n): bigint {
  const len = b.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed;
    let v4 = (seed - P1) & M64;
    for (; p + 32 <= len; p += 32) {
      v1 = round(v1, readLE(b, p, 8));
      v2 = round(v2, readLE(b, p + 8, 8));
      v3 = round(v3, readLE(b, p + 16, 8));
      v4 = round(v4, readLE(b, p + 24, 8));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  for (; p + 8 <= len; p += 8) h = (rotl(h ^ round(0n, readLE(b, p, 8)), 27n) * P1 + P4) & M64;
  if (p + 4 <= len) {
    h = (rotl(h ^ ((readLE(b, p, 4) * P1) & M64), 23n) * P2 + P3) & M64;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(b[p] as number) * P5) & M64), 11n) * P1) & M64;
  h = ((h ^ (h >> 33n)) * P2) & M64;
  h = ((h ^ (h >> 29n)) * P3) & M64;
  return h ^ (h >> 32n);
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

test('PageKernel.xxh64 gives the published vectors for "", "a", "abc" and a zero page', () => {
  const k = new PageKernel();
  assert.equal(k.xxh64(new Uint8Array(0)), 0xef46db3751d8e999n);
  assert.equal(k.xxh64(ascii('a')), 0xd24ec4f1a98c6e5bn);
  assert.equal(k.xxh64(ascii('abc')), 0x44bc2cf5ad770999n);
  assert.equal(k.xxh64(new Uint8Array(4096)), 0xac869b6f32d8bbdbn);
  assert.equal(refXxh64(new Uint8Array(4096)), 0xac869b6f32d8bbdbn);
});

test('PageKernel.checksumPage of the zero page is 0x32d8bbdb', () => {
  const k = new PageKernel();
  assert.equal(k.checksumPage(new Uint8Array(3 * 4096), 4096), 0x32d8bbdb);
});

test('PageKernel.checksumPage is the low 32 bits of the reference XXH64 for random pages', () => {
  const k = new PageKernel();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4096, maxLength: 4096 }), fc.nat(3), (page, slot) => {
      const buf = new Uint8Array(4 * 4096);
      buf.set(page, slot * 4096);
      const got = k.checksumPage(buf, slot * 4096);
      assert.ok(got >= 0 && got <= 0xffffffff);
      assert.equal(BigInt(got), refXxh64(page) & 0xffffffffn);
    }),
    { numRuns: 200, seed: 42 },
  );
});

test('PageKernel.xxh64 matches the reference for any length (all tail paths) and seed', () => {
  const k = new PageKernel();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.bigInt({ min: 0n, max: M64 }), (bytes, seed) => {
      assert.equal(k.xxh64(bytes, seed), refXxh64(bytes, seed));
    }),
    { numRuns: 300, seed: 43 },
  );
});

test('PageKernel.xxh64 grows its memory for inputs larger than one wasm page', () => {
  const k = new PageKernel();
  const big = new Uint8Array(200_000).map((_, i) => (i * 31) & 255);
  assert.equal(k.xxh64(big, 7n), refXxh64(big, 7n));
  // And still hashes pages correctly afterwards.
  assert.equal(k.checksumPage(new Uint8Array(4096), 0), 0x32d8bbdb);
});

test('PageKernel.pagesEqual, comparePages and isZeroPage agree with a byte loop', () => {
  const k = new PageKernel();
  const naiveCmp = (a: Uint8Array, b: Uint8Array): number => {
    for (let i = 0; i < 4096; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
    return 0;
  };
  // Pages that differ in at most a couple of bytes, so equal prefixes of every length occur.
  const page = fc
    .tuple(
      fc.integer({ min: 0, max: 2 }),
      fc.array(fc.tuple(fc.nat(4095), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
    )
    .map(([fill, edits]) => {
      const p = new Uint8Array(4096).fill(fill);
      for (const [at, v] of edits) p[at] = v;
      return p;
    });
  fc.assert(
    fc.property(page, page, (a, b) => {
      const expected = naiveCmp(a, b);
      assert.equal(Math.sign(k.comparePages(a, 0, b, 0)), Math.sign(expected));
      assert.equal(k.pagesEqual(a, 0, b, 0), expected === 0);
      assert.equal(
        k.isZeroPage(a, 0),
        a.every((v) => v === 0),
      );
    }),
    { numRuns: 500, seed: 44 },
  );
});

test('PageKernel.comparePages treats bytes as unsigned', () => {
  const k = new PageKernel();
  const a = new Uint8Array(4096);
  const b = new Uint8Array(4096);
  a[4095] = 0x80;
  b[4095] = 0x7f;
  assert.ok(k.comparePages(a, 0, b, 0) > 0);
  assert.ok(k.comparePages(b, 0, a, 0) < 0);
});

/** Walks up from this file to the checkout root (the test also runs compiled from dist/). */
test('pagekernel-bytes.ts matches pagekernel.wat when wabt is available', async (t) => {
  const root = packageRoot(import.meta.dirname);
  const scriptUrl = pathToFileURL(join(root, 'scripts/build-wasm.mjs')).href;
  const build = (await import(scriptUrl)) as {
    loadWabt(): Promise<unknown>;
    compileWat(wabt: unknown, text: string): string;
    renderBytesModule(base64: string): string;
    WAT_PATH: string;
    BYTES_PATH: string;
  };
  const wabt = await build.loadWabt();
  if (wabt === undefined) {
    t.skip('wabt not installed: set WABT_MODULE=/path/to/node_modules/wabt to check the committed bytes');
    return;
  }
  const expected = build.renderBytesModule(build.compileWat(wabt, readFileSync(build.WAT_PATH, 'utf8')));
  assert.equal(readFileSync(build.BYTES_PATH, 'utf8'), expected, 'run scripts/build-wasm.mjs to regenerate');
});
