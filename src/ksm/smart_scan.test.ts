import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnTask } from '../mm/process.ts';
import { RmapItem } from './rmap_item.ts';
import { shouldSkipRmapItem, skipAge } from './smart_scan.ts';
import { testMachine } from './testing.ts';

/**
 * Visits 1..n of one rmap_item whose page is never KSM: the visits it is processed on.
 * pfn 1 is a free frame, so not a KSM page.
 */
function processedVisits(n: number, smartScan = true): { processed: number[]; item: RmapItem; skipped: number } {
  const m = testMachine();
  m.ksm.smartScan = smartScan;
  const item = new RmapItem(spawnTask(m.mmgr, 'a').mm, 0x10000);
  const processed: number[] = [];
  for (let visit = 1; visit <= n; visit++) if (!shouldSkipRmapItem(m.ksm, 1, item)) processed.push(visit);
  return { processed, item, skipped: m.ksm.pagesSkipped };
}

test('skipAge gives 1, 2, 4 then 8 visits to skip as a page ages (mm/ksm.c skip_age)', () => {
  assert.deepEqual([0, 3, 4, 5, 6, 8, 9, 200, 255].map(skipAge), [1, 1, 2, 2, 4, 4, 8, 8, 8]);
});

test('shouldSkipRmapItem processes a page that never merges on visits 1, 2, 3, 4, 6, 9, 14, 23, 32, 41, ...', () => {
  // The visits Linux 6.18 processed in the kernel trace one-unique-static-page-smart-scan
  // (test/kernel-truth/traces.json, passes 1 to 45): every other visit was a skip.
  const { processed, skipped } = processedVisits(45);
  assert.deepEqual(processed, [1, 2, 3, 4, 6, 9, 14, 23, 32, 41]);
  assert.equal(skipped, 45 - processed.length, 'pages_skipped counts every skipped visit');
});

test('shouldSkipRmapItem keeps skipping 8 of every 9 visits once the age saturates at 255', () => {
  // age is a u8 that stops at U8_MAX, and skip_age stays 8 from age 9 on.
  const { processed, item } = processedVisits(600);
  assert.equal(item.age, 255);
  const gaps = processed.slice(7).map((v, i) => v - (processed[i + 6] ?? 0));
  assert.ok(gaps.every((g) => g === 9), `gaps between processed visits after visit 14: ${gaps.join(',')}`);
});

test('shouldSkipRmapItem never skips with smart_scan off, nor ages the item', () => {
  const { processed, item } = processedVisits(20, false);
  assert.equal(processed.length, 20);
  assert.equal(item.age, 0);
});

test('shouldSkipRmapItem never skips a KSM page, nor ages its item', () => {
  const m = testMachine();
  const item = new RmapItem(spawnTask(m.mmgr, 'a').mm, 0x10000);
  m.mmgr.frames.setStableNode(1, null);
  for (let visit = 1; visit <= 20; visit++) assert.equal(shouldSkipRmapItem(m.ksm, 1, item), false);
  assert.equal(item.age, 0);
  assert.equal(m.ksm.pagesSkipped, 0);
});
