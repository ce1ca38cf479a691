/** The differential method on synthetic runs: what agreement is, and measuring again. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Scenario } from '../scenario/types.ts';
import { agrees, diffAttempts, type DiffRunner, liveReadFaults, type ScenarioDiff, scenarioDiffOf } from './diff.ts';
import { syntheticRun as run } from './testing.ts';

const scenario = { name: 'two' } as Scenario;

/** A runner that returns `runs` in turn (the last one again when they run out), and counts. */
function sequence(runs: readonly ScenarioDiff[]): { runner: DiffRunner; calls: () => number } {
  let calls = 0;
  return { runner: async () => runs[Math.min(calls++, runs.length - 1)]!, calls: () => calls };
}

test('agrees needs equal values and two runs that went to the end', () => {
  assert.equal(agrees(scenarioDiffOf(run('kernel', 9), run('model', 9), [])), true);
  assert.equal(agrees(scenarioDiffOf(run('kernel', 8), run('model', 9), [])), false);
  const stopped = scenarioDiffOf(run('kernel', 9, { ok: false, error: 'timed out' }), run('model', 9), []);
  assert.equal(stopped.differences.length, 0);
  assert.equal(agrees(stopped), false);
});

test('diffAttempts stops at the first run that agrees, keeping the earlier ones, and at the limit', async () => {
  const lag = scenarioDiffOf(run('kernel', 8), run('model', 9), []);
  const agree = scenarioDiffOf(run('kernel', 9), run('model', 9), []);
  const later = sequence([lag, agree, lag]);
  const d = await diffAttempts(later.runner, scenario, 3);
  assert.equal(later.calls(), 2);
  assert.equal(agrees(d), true);
  assert.equal(d.earlier?.length, 1);

  const never = sequence([lag]);
  const last = await diffAttempts(never.runner, scenario, 3);
  assert.equal(never.calls(), 3);
  assert.equal(agrees(last), false);
  assert.equal(last.earlier?.length, 2);

  const once = sequence([lag, agree]);
  assert.equal((await diffAttempts(once.runner, scenario, 1)).earlier, undefined);
  assert.equal(once.calls(), 1);
});

test("liveReadFaults gives the model the live kernel's read faults, and nothing where the kernel could not tell", () => {
  assert.deepEqual(liveReadFaults(true), { mmForbidsZeropage: true });
  assert.deepEqual(liveReadFaults(false), { mmForbidsZeropage: false });
  assert.deepEqual(liveReadFaults(undefined), {});
});
