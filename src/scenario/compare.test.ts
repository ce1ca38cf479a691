import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareCalls, compareExpects, compareRecords, compareRuns } from './compare.ts';
import type { AttributionRecord } from '../attribution/record.ts';
import type { CounterRecord, ProcRecord, RunResult } from './records.ts';

const PROC: ProcRecord = {
  ksm_rmap_items: 10,
  ksm_zero_pages: 0,
  ksm_merging_pages: 10,
  ksm_process_profit: 40320,
  ksm_merge_any: false,
  ksm_mergeable: true,
  rss_pages: 10,
};

function rec(
  label: string,
  ksm: CounterRecord['ksm'],
  procs: CounterRecord['procs'] = { a: PROC },
  time_ms = 0,
): CounterRecord {
  return { label, time_ms, ksm, procs };
}

function run(backend: string, over: Partial<RunResult>): RunResult {
  return { scenario: 's', backend, ok: true, records: [], expects: [], calls: [], ...over };
}

test('compareRecords ignores time and ksmplus, and pairs repeated labels in order', () => {
  const kernel = [rec('x', { pages_shared: 1 }, { a: PROC }, 1234.5), rec('x', { pages_shared: 2 })];
  const model = [
    { ...rec('x', { pages_shared: 1 }, { a: PROC }, 40), ksmplus: { pages_sharing: 9 } },
    rec('x', { pages_shared: 3 }),
  ];
  assert.deepEqual(compareRecords(kernel, model), [{ label: 'x#2', path: 'ksm/pages_shared', kernel: 2, model: 3 }]);
});

test('compareRecords reports what one side lacks: a record, a ksm file, a proc', () => {
  const kernel = [rec('both', { run: 1, stable_node_dups: 0 }, { a: PROC, b: PROC }), rec('kernel only', {})];
  const model = [
    rec('both', { run: 1 }, { a: { ...PROC, rss_pages: 11, ksm_merge_any: true } }),
    rec('model only', {}),
  ];
  assert.deepEqual(compareRecords(kernel, model), [
    { label: 'both', path: 'ksm/stable_node_dups', kernel: 0, model: undefined },
    { label: 'both', path: 'a/ksm_merge_any', kernel: false, model: true },
    { label: 'both', path: 'a/rss_pages', kernel: 10, model: 11 },
    { label: 'both', path: 'b', kernel: 'present', model: 'missing' },
    { label: 'kernel only', path: '(record)', kernel: 'present', model: 'missing' },
    { label: 'model only', path: '(record)', kernel: 'missing', model: 'present' },
  ]);
});

test('compareCalls compares madvise and prctl results step by step', () => {
  assert.deepEqual(
    compareCalls(
      [
        { step: 3, call: 'madvise', proc: 'a', result: 0 },
        { step: 5, call: 'prctl', proc: 'a', result: -22 },
      ],
      [
        { step: 3, call: 'madvise', proc: 'a', result: 0 },
        { step: 5, call: 'prctl', proc: 'a', result: 0 },
        { step: 7, call: 'madvise', proc: 'a', result: 0 },
      ],
    ),
    [
      { label: '(steps)', path: 'steps[5].prctl', kernel: -22, model: 0 },
      { label: '(steps)', path: 'steps[7].madvise', kernel: undefined, model: 0 },
    ],
  );
});

test('compareExpects compares counters by value and other checks by outcome', () => {
  const kernel = [
    { step: 2, path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 1', actual: 9, ok: true },
    { step: 4, path: 'steps[4].wait', expected: 'full_scans: 2', actual: 'Timed out after 60000 ms', ok: false },
    { step: 6, path: 'steps[6].read.sha256', expected: 'ab', actual: 'ab', ok: true },
  ];
  const model = [
    { step: 2, path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 1', actual: 8, ok: true },
    { step: 4, path: 'steps[4].wait', expected: 'full_scans: 2', actual: null, ok: true },
    { step: 6, path: 'steps[6].read.sha256', expected: 'ab', actual: 'ab', ok: true },
  ];
  assert.deepEqual(compareExpects(kernel, model), [
    { label: '(steps)', path: 'steps[2].expect /sys/kernel/mm/ksm/pages_sharing', kernel: 9, model: 8 },
    { label: '(steps)', path: 'steps[4].wait', kernel: 'Timed out after 60000 ms', model: 'ok' },
  ]);
});

test('compareRuns is empty for equal runs and lists records, then calls, then checks', () => {
  const base = {
    records: [rec('r', { pages_shared: 1 })],
    calls: [{ step: 1, call: 'madvise' as const, proc: 'a', result: 0 }],
    expects: [{ step: 2, path: '/proc/a/rss_pages', expected: 10, actual: 10, ok: true }],
  };
  assert.deepEqual(compareRuns(run('kernel', base), run('model', base)), []);
  const other = {
    records: [rec('r', { pages_shared: 2 })],
    calls: [{ step: 1, call: 'madvise' as const, proc: 'a', result: -12 }],
    expects: [{ step: 2, path: '/proc/a/rss_pages', expected: 10, actual: 0, ok: false }],
  };
  assert.deepEqual(
    compareRuns(run('kernel', base), run('model', other)).map((d) => d.path),
    ['ksm/pages_shared', 'steps[1].madvise', 'steps[2].expect /proc/a/rss_pages'],
  );
  // A run without `calls` (an old recorded kernel run) compares as having none.
  const { calls: _drop, ...noCalls } = run('kernel', base);
  assert.deepEqual(compareRuns(noCalls, run('model', { ...base, calls: [] })), []);
});

test('compareRecords compares who saves what where both records carry it, share by share', () => {
  const attribution = (bytes: number, shares: ReadonlyArray<readonly [number, number]>): AttributionRecord => ({
    procs: { a: { ksm_mappings: 2, state: 'exact', shares, saved_bytes: bytes, profit_bytes: bytes - 128 } },
    totals: {
      ksm_pages: 1,
      counted_mappings: 2,
      unscanned_mappings: 0,
      attributed_pages: 1,
      residual_pages: 0,
      attributed_profit_bytes: 3968,
      naive_profit_bytes: 8064,
    },
  });
  const k = { ...rec('x', {}), attribution: attribution(4096, [[2, 2]]) };
  assert.deepEqual(compareRecords([k], [{ ...rec('x', {}), attribution: attribution(4096, [[2, 2]]) }]), []);
  assert.deepEqual(compareRecords([k], [{ ...rec('x', {}), attribution: attribution(4000, [[3, 2]]) }]), [
    { label: 'x', path: 'attribution/a/shares', kernel: [[2, 2]], model: [[3, 2]] },
    { label: 'x', path: 'attribution/a/saved_bytes', kernel: 4096, model: 4000 },
    { label: 'x', path: 'attribution/a/profit_bytes', kernel: 3968, model: 3872 },
  ]);
  // A recording made before records carried the attribution is compared on the rest.
  assert.deepEqual(compareRecords([rec('x', {})], [k]), []);
});
