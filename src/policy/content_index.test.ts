import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ContentIndex, ENTRY_KSM } from './content_index.ts';

test('ContentIndex finds what was inserted, keeps places apart and grows past its first size', () => {
  const ix = new ContentIndex();
  const n = 5000;
  for (let i = 0; i < n; i++) ix.insert(i * 7919, i, i % 3, 1000 + i, 50_000 + i, 1, i % 2 === 0 ? ENTRY_KSM : 0);
  assert.equal(ix.size, n);
  for (let i = 0; i < n; i++) {
    const e = ix.find(i * 7919, i);
    assert.ok(e >= 0, `entry ${i}`);
    assert.equal(ix.vpn(e), 1000 + i);
    assert.equal(ix.pfn(e), 50_000 + i);
    assert.equal(ix.slot(e), i % 3);
    assert.equal(ix.flags(e), i % 2 === 0 ? ENTRY_KSM : 0);
  }
  assert.equal(ix.find(1, 999_999), -1);
  // Same low word, other high word: a different hash.
  assert.equal(ix.find(1, 0), -1);
});

test('ContentIndex.sweep keeps what the rule keeps, and forgetSlot drops a process', () => {
  const ix = new ContentIndex();
  for (let i = 0; i < 3000; i++) ix.insert(0, i, i % 2, i, i, i < 1000 ? 1 : 2, 0);
  const bytesBefore = ix.bytes();
  assert.equal(
    ix.sweep((e) => ix.epoch(e) > 1),
    1000,
  );
  assert.equal(ix.size, 2000);
  assert.equal(ix.find(0, 5), -1);
  assert.ok(ix.find(0, 1005) >= 0);
  assert.equal(ix.forgetSlot(1), 1000);
  assert.equal(ix.size, 1000);
  assert.ok(ix.bytes() < bytesBefore, 'the table shrinks when most entries are gone');
  for (let i = 1000; i < 3000; i += 2) assert.ok(ix.find(0, i) >= 0);
  for (let i = 1001; i < 3000; i += 2) assert.equal(ix.find(0, i), -1);
});
