/** The cost model's scaling to another host speed: CPU times move, shapes stay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_COST, scaledCost, type CostModel } from './cost.ts';

const SHAPES: ReadonlyArray<keyof CostModel> = [
  'deepFrom',
  'postSleepTauNs',
  'postSleepBatchTauNs',
  'postSleepTreeExp',
  'postSleepTreeNodes',
  'postSleepSearchPart',
  'postSleepNoTreeTauNs',
];

test('scaledCost multiplies every CPU time and keeps the time constants, depth, exponent and shares', () => {
  const cost: CostModel = {
    ...DEFAULT_COST,
    postSleepTreeExp: 0.27,
    postSleepTreeNodes: 20_000,
    postSleepSearchPart: 0.55,
  };
  const slow = scaledCost(cost, 1.5);
  assert.deepEqual(Object.keys(slow).sort(), Object.keys(cost).sort());
  for (const key of Object.keys(cost) as Array<keyof CostModel>) {
    const want = SHAPES.includes(key) ? cost[key] : cost[key] * 1.5;
    assert.equal(slow[key], want, key);
  }
  assert.equal(slow.visitNs, 163.5);
  assert.equal(slow.postSleepTauNs, cost.postSleepTauNs);
});

test('scaledCost refuses a factor that is not a positive number', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => scaledCost(DEFAULT_COST, bad), /a cost scale must be a positive number/);
});
