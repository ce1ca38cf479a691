/** The results of the differential method for people (renderDiff) and for scripts (diffJson). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scenarioDiffOf, type ScenarioDiff } from '../differential/diff.ts';
import { syntheticRun as result } from '../differential/testing.ts';
import type { RunResult } from '../scenario/records.ts';
import { diffJson, renderDiff } from './diff.ts';

function scenarioDiff(kernel: RunResult, model: RunResult, warnings: string[] = []): ScenarioDiff {
  return scenarioDiffOf(kernel, model, warnings);
}

test('renderDiff says the backends agree, or shows each differing value with kernel and model columns', () => {
  const same = renderDiff('a.yaml', scenarioDiff(result('kernel', 9), result('model', 9)), false);
  assert.equal(same, 'two (a.yaml): kernel and model agree\n');
  const stopped = result('kernel', 9, { ok: false, error: 'steps[5].wait: Timed out', records: [] });
  const out = renderDiff('a.yaml', scenarioDiff(stopped, result('model', 8), ['ksmd overshot']), false);
  const lines = out.split('\n');
  assert.equal(lines[0], 'two (a.yaml): 1 difference');
  assert.equal(lines[1], '  kernel run stopped: steps[5].wait: Timed out');
  assert.equal(lines[2], '  kernel warning: ksmd overshot');
  assert.match(out, /│ merged +│ \(record\) +│ +missing │ +present │/);
  const two = renderDiff(
    'a.yaml',
    scenarioDiff(
      result('kernel', 9),
      result('model', 8, { calls: [{ step: 1, call: 'prctl', proc: 'p', result: 0 }] }),
    ),
    false,
  );
  assert.match(two, /^two \(a\.yaml\): 2 differences\n/);
  assert.match(two, /│ merged +│ ksm\/pages_sharing +│ +9 │ +8 │/);
  // A value one side lacks shows as '-'.
  assert.match(two, /│ \(steps\) +│ steps\[1\]\.prctl +│ +- │ +0 │/);
  assert.ok(!two.includes('\u001b['), 'no colour when asked for none');
});

test('diffJson gives null for a missing value and leaves out empty optional fields', () => {
  const d = scenarioDiff(result('kernel', 9), result('model', 9, { records: [] }));
  assert.deepEqual(diffJson('a.yaml', d), {
    file: 'a.yaml',
    scenario: 'two',
    differences: [{ label: 'merged', path: '(record)', kernel: 'present', model: 'missing' }],
    kernelOk: true,
    modelOk: true,
  });
  const warned = scenarioDiff(result('kernel', 9, { ok: false, error: 'boom' }), result('model', 9), ['w']);
  const json = diffJson('b.yaml', { ...warned, modelError: 'bust' });
  assert.equal(json.kernelError, 'boom');
  assert.equal(json.modelError, 'bust');
  assert.deepEqual(json.warnings, ['w']);
  const steps = diffJson(
    'c.yaml',
    scenarioDiff(
      result('kernel', 9, { calls: [{ step: 1, call: 'madvise', proc: 'p', result: 0 }] }),
      result('model', 9),
    ),
  );
  assert.deepEqual(steps.differences, [{ label: '(steps)', path: 'steps[1].madvise', kernel: 0, model: null }]);
});
