import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryUnit, formatBytes, PAGE_SHIFT, PAGE_SIZE } from './sizes.ts';

test('PAGE_SIZE is 1 << PAGE_SHIFT', () => {
  assert.equal(PAGE_SIZE, 1 << PAGE_SHIFT);
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

test('formatBytes with decimals keeps them in every unit, and binaryUnit names the unit', () => {
  assert.equal(formatBytes(40 * 1024 * 1024, 1), '40.0 MiB');
  assert.equal(formatBytes(10200 * 4096, 1), '39.8 MiB');
  assert.equal(formatBytes(-640, 1), '-640 B');
  assert.deepEqual(binaryUnit(5 * 1024 * 1024), { unit: 'MiB', scale: 1024 * 1024 });
  assert.deepEqual(binaryUnit(-2048), { unit: 'KiB', scale: 1024 });
  assert.deepEqual(binaryUnit(0), { unit: 'B', scale: 1 });
});
