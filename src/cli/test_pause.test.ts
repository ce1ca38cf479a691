import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { main, packageRoot } from './main.ts';
import { capture } from '../term/testing.ts';
import { TEST_PAUSE_VARIABLE, testPauseHook } from '../term/test_pause.ts';

test('testPauseHook is off unless the variable is set, and refuses what is not a step index', () => {
  const c = capture();
  assert.equal(testPauseHook({}, c.io.stderr), undefined);
  assert.equal(testPauseHook({ [TEST_PAUSE_VARIABLE]: '' }, c.io.stderr), undefined);
  for (const bad of ['-1', 'x', '1.5', ' 2']) {
    assert.throws(
      () => testPauseHook({ [TEST_PAUSE_VARIABLE]: bad }, c.io.stderr),
      new RegExp(`must be a step index .*got "${bad.replace('.', '\\.')}"`),
    );
  }
});

test('samepage run with the pause variable past the last step says when each step starts and runs to the end', async () => {
  const c = capture();
  const file = join(packageRoot(), 'scenarios', 'ksm-tests-merge.yaml');
  assert.equal(await main(['run', file], { ...c.io, env: { [TEST_PAUSE_VARIABLE]: '99' } }), 0, c.err());
  const kinds = ['spawn', 'mmap', 'fill', 'madvise', 'sysfs', 'wait', 'expect', 'record'];
  assert.equal(c.err(), kinds.map((k, i) => `samepage: test: steps[${i}].${k} starts\n`).join(''));
});

test('samepage run with a bad pause variable exits 2 naming it', async () => {
  const c = capture();
  const file = join(packageRoot(), 'scenarios', 'ksm-tests-merge.yaml');
  assert.equal(await main(['run', file], { ...c.io, env: { [TEST_PAUSE_VARIABLE]: 'soon' } }), 2);
  assert.equal(c.err(), `samepage: ${TEST_PAUSE_VARIABLE} must be a step index (0, 1, ...), got "soon"\n`);
});
