import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reduceSteps } from './reduce.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('reduceSteps keeps exactly the steps a failure needs, in their order', async () => {
  const needs = (c: readonly number[]): Promise<boolean> => Promise.resolve(c.includes(3) && c.includes(17));
  const r = await reduceSteps(range(40), needs);
  assert.deepEqual(r.kept, [3, 17]);
});

test('reduceSteps honours dependencies: a step that needs an earlier one keeps it', async () => {
  // 'use' fails the file (not the disagreement) without its 'map' before it, as a step naming
  // a region never mapped makes a scenario invalid.
  const steps = ['spawn', 'noise1', 'map', 'noise2', 'use', 'noise3', 'record'];
  const fails = (c: readonly string[]): Promise<boolean> => {
    const use = c.indexOf('use');
    return Promise.resolve(use >= 0 && c.indexOf('map') >= 0 && c.indexOf('map') < use && c.includes('spawn'));
  };
  const r = await reduceSteps(steps, fails);
  assert.deepEqual(r.kept, ['spawn', 'map', 'use']);
});

test('reduceSteps ends 1-minimal: no single step of what it keeps can go', async () => {
  // Any three of the values 5..9 sum to at least 18; two of them never do.
  const fails = (c: readonly number[]): Promise<boolean> => Promise.resolve(c.reduce((s, x) => s + x, 0) >= 18);
  const r = await reduceSteps(range(10), fails);
  assert.ok(await fails(r.kept));
  for (let i = 0; i < r.kept.length; i++) {
    const without = r.kept.filter((_, k) => k !== i);
    assert.equal(await fails(without), false, `step ${r.kept[i]} could still go from ${r.kept.join(',')}`);
  }
});

test('reduceSteps asks far fewer candidates than all subsets, and reports each removal', async () => {
  const removals: number[] = [];
  let asked = 0;
  const fails = (c: readonly number[]): Promise<boolean> => {
    asked++;
    assert.ok(c.length < 200, 'the whole list is never asked again');
    return Promise.resolve(c.includes(150));
  };
  const r = await reduceSteps(range(200), fails, (kept) => removals.push(kept));
  assert.deepEqual(r.kept, [150]);
  assert.equal(r.tries, asked);
  assert.ok(asked < 60, `asked ${asked} candidates`);
  assert.deepEqual(
    removals,
    [...removals].sort((a, b) => b - a),
    'each removal leaves fewer steps',
  );
});
