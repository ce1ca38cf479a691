import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../scenario/records.ts';
import { formatTime, ksmPlusIdle, renderRunResult } from './table.ts';

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
  assert.match(text, /│ pages_sharing +│ +1023 │/);
  assert.match(text, /│ stable_node_dups +│ +- │/, 'a counter the backend did not report shows as -');
  assert.match(
    text,
    /│ proc +│ rmap_items │ merging_pages │ zero_pages │ +profit │ merge_any │ mergeable │ rss_pages │/,
  );
  assert.match(text, /│ parent │ +1024 │ +512 │ +0 │ 2080768 │ +no │ +yes │ +1030 │/);
  assert.match(text, /✓ step 7 \/sys\/kernel\/mm\/ksm\/pages_sharing: expected >= 512, actual 1023/);
  assert.match(text, /✗ step 8 \/proc\/child\/ksm_stat\/ksm_merging_pages: expected 512, actual missing/);
  assert.match(text, /FAILED: 1 of 2 expects failed\n$/);
});

test('renderRunResult colours marks when asked and says ok when all expects held', () => {
  const ok: RunResult = { ...RESULT, ok: true, expects: RESULT.expects.slice(0, 1), records: [] };
  const text = renderRunResult(ok, { color: true });
  assert.ok(text.includes('\x1b[32m✓\x1b[39m'));
  assert.match(text, /ok: 1 expect held/);
});

test('formatTime rounds a record time to what a reader can use', () => {
  assert.deepEqual([0, 0.004, 1.23456, 20.1248, 999.96, 1200, 4225.3622, 99_994, 235_400].map(formatTime), [
    '0 ms',
    '0 ms',
    '1.23 ms',
    '20.1 ms',
    '1000 ms',
    '1.20 s',
    '4.23 s',
    '99.99 s',
    '235 s',
  ]);
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
