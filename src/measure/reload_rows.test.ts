import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkShape, REGION_PAGES } from './post_sleep.ts';
import { INTERLEAVED_PLAN } from './reload_rows.ts';

test("the traced plan's batches divide the main region, and it holds the passes' sizes and sleeps", () => {
  assert.doesNotThrow(() => checkShape({ regionPages: REGION_PAGES, plan: INTERLEAVED_PLAN }));
  const combos = new Set(INTERLEAVED_PLAN.flatMap(({ pages, sleeps }) => sleeps.map((s) => `${pages}/${s}`)));
  for (const c of ['100/1', '100/5', '100/20', '1000/1', '1000/20', '1000/200', '5000/1', '5000/200'])
    assert.ok(combos.has(c), c);
});
