import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../scenario/records.ts';
import { ksmPlusIdle, renderRunResult } from './table.ts';
import { displayWidth } from '../lib/text_width.ts';

const RESULT: RunResult = {
  scenario: 'fork-then-merge',
  backend: 'model',
  ok: false,
  records: [
    {
      label: 'after-merge',
      time_ms: 1200,
      ksm: { run: 1, pages_shared: 1, pages_sharing: 1023, full_scans: 2, advisor_mode: 'none' },
      procs: {
        parent: {
          ksm_rmap_items: 1024,
          ksm_zero_pages: 0,
          ksm_merging_pages: 512,
          ksm_process_profit: 2080768,
          ksm_merge_any: false,
          ksm_mergeable: true,
          rss_pages: 1030,
        },
      },
    },
  ],
  expects: [
    { step: 7, path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 512', actual: 1023, ok: true },
    { step: 8, path: '/proc/child/ksm_stat/ksm_merging_pages', expected: 512, actual: null, ok: false },
  ],
};

test('renderRunResult shows counters, processes and each expect without colour', () => {
  const text = renderRunResult(RESULT, { color: false });
  assert.ok(!text.includes('\x1b['));
  assert.match(text, /^fork-then-merge on model\n/);
  assert.match(text, /record "after-merge" at 1\.20 s/);
  // Counts of pages and bytes also as memory: 1023 pages are 4190208 bytes, 3.996 MiB.
  assert.match(text, /│ pages_sharing +│ +1023 │ +4\.0 MiB │/);
  assert.match(text, /│ full_scans +│ +2 │ +│/, 'a count that is not memory has no memory');
  assert.match(text, /│ stable_node_dups +│ +- │/, 'a counter the backend did not report shows as -');
  assert.match(
    text,
    /│ proc +│ rmap_items │ merging_pages │ zero_pages │ +profit │ merge_any │ mergeable │ rss_pages │/,
  );
  // ksm_process_profit 2080768 bytes is 1.98 MiB.
  assert.match(text, /│ parent │ +1024 │ +512 │ +0 │ 2\.0 MiB │ +no │ +yes │ +1030 │/);
  assert.match(text, /✓ step 7 \/sys\/kernel\/mm\/ksm\/pages_sharing: expected >= 512, actual 1023/);
  assert.match(text, /✗ step 8 \/proc\/child\/ksm_stat\/ksm_merging_pages: expected 512, actual missing/);
  assert.match(text, /FAILED: 1 of 2 expects failed\n$/);
});

test('renderRunResult colours marks when asked and says ok when all expects held', () => {
  const ok: RunResult = { ...RESULT, ok: true, expects: RESULT.expects.slice(0, 1), records: [] };
  const text = renderRunResult(ok, { color: true });
  assert.ok(text.includes('\x1b[32m✓\x1b[39m'));
  assert.match(text, /ok: 1 expect held/);
  const none = renderRunResult({ ...ok, expects: [] }, { color: false });
  assert.match(none, /\nok: the run finished \(it has no expects to check\)\n$/, 'not "0 expects held"');
});

test('renderRunResult leaves out /sys/kernel/mm/ksm+ while KSM+ is idle, and shows it once it is used', () => {
  const idle = { processes_to_scan: '', run: 0, rmap_items: 0, pages_to_scan: 100 };
  const record = RESULT.records[0];
  assert.ok(record !== undefined);
  const withPlus = (ksmplus: Record<string, number | string>): string =>
    renderRunResult({ ...RESULT, records: [{ ...record, ksmplus }] }, { color: false });
  assert.ok(ksmPlusIdle(idle));
  assert.doesNotMatch(withPlus(idle), /ksm\+/);
  assert.match(withPlus({ ...idle, processes_to_scan: 'firefox' }), /│ processes_to_scan +│ +firefox │/);
  assert.match(withPlus({ ...idle, run: 1 }), /\/sys\/kernel\/mm\/ksm\+/);
  assert.match(withPlus({ ...idle, rmap_items: 12 }), /\/sys\/kernel\/mm\/ksm\+/, 'items still held after run=0');
});

test('renderRunResult fits a narrow terminal: the flags go first, and a line says which columns went', () => {
  const wide = renderRunResult(RESULT, { color: false });
  assert.ok(Math.max(...wide.split('\n').map(displayWidth)) > 64, 'the process table is wider than 64 columns');
  const text = renderRunResult(RESULT, { color: false, width: 64 });
  for (const line of text.split('\n')) assert.ok(displayWidth(line) <= 64, `fits 64 columns: ${line}`);
  assert.match(text, /│ proc +│ rmap_items │ merging_pages │ +profit │ rss_pages │/);
  assert.doesNotMatch(text, /│ merge_any|│ zero_pages/);
  assert.match(
    text,
    /\(left out to fit 64 columns: merge_any, mergeable, zero_pages;\s+COLUMNS or a wider terminal shows them\)/,
  );
  assert.match(
    text,
    /✓ step 7 \/sys\/kernel\/mm\/ksm\/pages_sharing: expected >= 512,\n {2}actual 1023/,
    'long lines wrap',
  );
  assert.equal(renderRunResult(RESULT, { color: false, width: 64 }), text, 'the same columns go every time');
});
