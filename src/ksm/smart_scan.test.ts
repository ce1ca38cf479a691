/**
 * smart_scan (should_skip_rmap_item, skip_age in mm/ksm.c), seen as ksmd sees it: a page is
 * "processed" on a pass when pages_scanned grows, "skipped" when pages_skipped does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser } from '../mm/uaccess.ts';
import { ksmRunStore } from './run.ts';
import { skipAge } from './smart_scan.ts';
import { testMachine } from './testing.ts';

/**
 * A process with `pages` mergeable pages of `byte` (0: unique random content), scanned pass
 * by pass: for each pass, how many pages were processed and how many skipped.
 */
function passes(
  n: number,
  opts: { smartScan?: boolean; pages?: number; byte?: number } = {},
): Array<{ processed: number; skipped: number }> {
  const m = testMachine();
  m.ksm.smartScan = opts.smartScan ?? true;
  const pages = opts.pages ?? 1;
  const t = spawnTask(m.mmgr, 'a');
  const addr = doMmap(m.mmgr, t.mm, pages * PAGE_SIZE);
  const pattern =
    opts.byte === undefined ? { kind: 'random' as const, seed: 1n } : { kind: 'byte' as const, byte: opts.byte };
  assert.equal(fillUser(m.mmgr, t.mm, addr, pages * PAGE_SIZE, pattern, addr), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, pages * PAGE_SIZE, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  const out = [];
  for (let pass = 1; pass <= n; pass++) {
    const before = { scanned: m.ksm.pagesScanned, skipped: m.ksm.pagesSkipped };
    m.scans(1);
    out.push({ processed: m.ksm.pagesScanned - before.scanned, skipped: m.ksm.pagesSkipped - before.skipped });
  }
  return out;
}

/** The passes (1-based) on which a one-page process had its page processed. */
const processedPasses = (p: ReadonlyArray<{ processed: number }>): number[] =>
  p.flatMap((x, i) => (x.processed > 0 ? [i + 1] : []));

test('skipAge gives 1, 2, 4 then 8 visits to skip as a page ages (mm/ksm.c skip_age)', () => {
  assert.deepEqual([0, 3, 4, 5, 6, 8, 9, 200, 255].map(skipAge), [1, 1, 2, 2, 4, 4, 8, 8, 8]);
});

test('smart_scan processes a page that never merges on visits 1, 2, 3, 4, 6, 9, 14, 23, 32, 41 and skips the rest', () => {
  // The visits Linux 6.18 processed in the kernel trace one-unique-static-page-smart-scan
  // (test/kernel-truth/traces.json, passes 1 to 45); every other visit was a skip.
  const p = passes(45);
  assert.deepEqual(processedPasses(p), [1, 2, 3, 4, 6, 9, 14, 23, 32, 41]);
  assert.ok(
    p.every((x) => x.processed + x.skipped === 1),
    'each pass visits the page once, processed or skipped',
  );
});

test('smart_scan keeps processing every 9th visit once the age has saturated at 255', () => {
  // age is a u8 that stops at U8_MAX, and skip_age stays 8 from age 9 on.
  const processed = processedPasses(passes(600));
  const gaps = processed.slice(7).map((v, i) => v - (processed[i + 6] ?? 0));
  assert.ok(
    gaps.length > 60 && gaps.every((g) => g === 9),
    `gaps between processed visits after visit 14: ${gaps.join(',')}`,
  );
});

test('smart_scan off: a page that never merges is processed on every pass', () => {
  assert.deepEqual(
    processedPasses(passes(20, { smartScan: false })),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
});

test('smart_scan never skips a KSM page', () => {
  // Two identical pages merge in pass 2 and stay KSM pages: visited and processed every pass.
  const p = passes(30, { pages: 2, byte: 42 });
  assert.ok(
    p.every((x) => x.processed === 2 && x.skipped === 0),
    JSON.stringify(p),
  );
});
