import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKsmStat } from './ksm_stat.ts';
import { isAlive, processState } from './procfs.ts';

test('parseKsmStat reads the six lines of Linux 6.18, with and without colons', () => {
  const text =
    'ksm_rmap_items 10\nksm_zero_pages 0\nksm_merging_pages 10\nksm_process_profit 40320\n' +
    'ksm_merge_any: no\nksm_mergeable: yes\n';
  const s = parseKsmStat(text);
  assert.equal(s.get('ksm_rmap_items'), '10');
  assert.equal(s.get('ksm_process_profit'), '40320');
  assert.equal(s.get('ksm_merge_any'), 'no');
  assert.equal(s.get('ksm_mergeable'), 'yes');
  assert.equal(s.size, 6);
});

test('processState reads this process as alive and a missing pid as gone', () => {
  assert.ok(isAlive(process.pid));
  assert.ok(processState(process.pid) !== undefined);
  assert.equal(processState(2 ** 22 + 1), undefined);
});
