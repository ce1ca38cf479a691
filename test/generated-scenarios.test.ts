/**
 * The generator's promise (src/scenario/generate.ts): a `wait` only comes when it can finish.
 * The generator keeps its own account of which pages are mergeable; where that account was
 * wrong (PR_SET_MEMORY_MERGE 1 asked again was taken to re-mark VMAs, which Linux does not
 * do: seeds 1359 and 1386), a wait came with no mm left on KSM's list, the model refused it
 * at once and the live kernel timed out on it after a minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModelBackend } from '../src/backends/model/index.ts';
import { generateScenario } from '../src/scenario/generate.ts';
import { parseScenario } from '../src/scenario/parse.ts';
import { runScenario } from '../src/scenario/run.ts';

test('every wait of a generated scenario can finish: 1,500 seeds run to the end on the model', async () => {
  const stopped: string[] = [];
  for (let seed = 0; seed < 1500; seed++) {
    const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
    assert.ok(parsed.ok, `seed ${seed}`);
    const result = await runScenario(parsed.scenario, createModelBackend({ seed: 0 }));
    if (result.error !== undefined) stopped.push(`seed ${seed}: ${result.error}`);
  }
  assert.deepEqual(stopped, []);
});
