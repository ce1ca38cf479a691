import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../scenario/records.ts';
import { bigintReplacer, formatJson } from './json.ts';

test('bigintReplacer keeps safe bigints as numbers and larger ones exact as strings', () => {
  assert.equal(JSON.stringify({ a: 5n, b: 2n ** 64n - 1n }, bigintReplacer), '{"a":5,"b":"18446744073709551615"}');
});

test('formatJson writes keys in contract order and sorts ksm files and procs', () => {
  const scrambled = {
    expects: [{ ok: true, actual: 3, expected: 3, path: '/sys/kernel/mm/ksm/full_scans', step: 2 }],
    records: [
      {
        procs: {
          b: {
            rss_pages: 1,
            ksm_mergeable: false,
            ksm_merge_any: false,
            ksm_process_profit: 0,
            ksm_merging_pages: 0,
            ksm_zero_pages: 0,
            ksm_rmap_items: 0,
          },
          a: {
            rss_pages: 2,
            ksm_mergeable: true,
            ksm_merge_any: true,
            ksm_process_profit: -1,
            ksm_merging_pages: 0,
            ksm_zero_pages: 0,
            ksm_rmap_items: 1,
          },
        },
        ksm: { run: 1, advisor_mode: 'none' },
        time_ms: 0,
        label: 'x',
      },
    ],
    ok: true,
    backend: 'model',
    scenario: 's',
  } satisfies RunResult;
  const text = formatJson(scrambled, 0);
  assert.equal(
    text,
    '{"scenario":"s","backend":"model","ok":true,"records":[{"label":"x","time_ms":0,' +
      '"ksm":{"advisor_mode":"none","run":1},"procs":{' +
      '"a":{"ksm_rmap_items":1,"ksm_zero_pages":0,"ksm_merging_pages":0,"ksm_process_profit":-1,"ksm_merge_any":true,"ksm_mergeable":true,"rss_pages":2},' +
      '"b":{"ksm_rmap_items":0,"ksm_zero_pages":0,"ksm_merging_pages":0,"ksm_process_profit":0,"ksm_merge_any":false,"ksm_mergeable":false,"rss_pages":1}}}],' +
      '"expects":[{"step":2,"path":"/sys/kernel/mm/ksm/full_scans","expected":3,"actual":3,"ok":true}]}',
  );
  assert.deepEqual(JSON.parse(formatJson(scrambled)), JSON.parse(text));
  // A report's samples are not the contract's: --json is the same with them.
  const sampled: RunResult = {
    ...scrambled,
    samples: { every: 'change', bucket_ms: 0, points: [{ time_ms: 0, ksm: { pages_sharing: 0 }, merging: {} }] },
  };
  assert.equal(formatJson(sampled, 0), text);
});
