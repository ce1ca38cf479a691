import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PAGE_SHIFT, PAGE_SIZE, formatBytes, parseSize } from './sizes.ts';

test('PAGE_SIZE is 1 << PAGE_SHIFT', () => {
  assert.equal(PAGE_SIZE, 1 << PAGE_SHIFT);
});

test('parseSize accepts plain integers and KiB/MiB/GiB suffixes', () => {
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('64KiB'), 64 * 1024);
  assert.equal(parseSize('20 MiB'), 20 * 1024 * 1024);
  assert.equal(parseSize(' 1GiB '), 1024 ** 3);
  assert.equal(parseSize('64GiB'), 64 * 1024 ** 3);
  assert.equal(parseSize('007'), 7);
});

test('parseSize refuses negatives, fractions, other suffixes and junk with a message', () => {
  for (const bad of [
    -1,
    '-1',
    '-4KiB',
    1.5,
    '1.5GiB',
    '1e3',
    '4KB',
    '4k',
    '4 kib',
    '1TiB',
    'GiB',
    '',
    ' ',
    '0x1000',
    '+5',
    NaN,
    Infinity,
    '4 KiB B',
  ]) {
    const r = parseSize(bad);
    assert.equal(typeof r, 'string', `${String(bad)} gave ${String(r)}`);
    assert.match(r as string, /^Invalid size /);
  }
  assert.match(parseSize(-1) as string, /negative/);
  assert.match(parseSize('-1') as string, /negative/);
  assert.match(parseSize('1.5GiB') as string, /whole number/);
});

test('parseSize refuses values past 2^53', () => {
  assert.match(parseSize('9007199254740993') as string, /too large/);
  assert.match(parseSize('9999999GiB') as string, /too large/);
  assert.match(parseSize(2 ** 60) as string, /too large/);
});

test('parseSize of a formatted multiple of 1 MiB round-trips through the suffix', () => {
  fc.assert(
    fc.property(fc.nat(1 << 20), (mib) => {
      assert.equal(parseSize(`${mib}MiB`), mib * 1024 * 1024);
      assert.equal(parseSize(String(mib)), mib);
    }),
    { numRuns: 200, seed: 5 },
  );
});

test('formatBytes picks the unit and precision like ls -h', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(4096), '4.0 KiB');
  assert.equal(formatBytes(1536 * 1024), '1.5 MiB');
  assert.equal(formatBytes(20 * 1024 * 1024), '20 MiB');
  assert.equal(formatBytes(512 * 1024 ** 3), '512 GiB');
  assert.equal(formatBytes(1024 ** 4), '1.0 TiB');
  assert.equal(formatBytes(1024 * 1024 - 100), '1.0 MiB');
  assert.equal(formatBytes(-8192), '-8.0 KiB');
});
