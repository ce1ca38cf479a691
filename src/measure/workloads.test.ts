import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COST_KEYS, type CostModel, DEFAULT_COST } from '../ksm/cost.ts';
import { runModelTimed } from './model.ts';
import { advisor, advisorBatch } from './workloads.ts';

/** DEFAULT_COST with every constant multiplied by `factor`: ksmd's CPU share moved far either way. */
function scaled(factor: number): CostModel {
  const out: Record<string, number> = { ...DEFAULT_COST };
  for (const key of COST_KEYS) out[key] = DEFAULT_COST[key] * factor;
  return out as unknown as CostModel;
}

test('advisorBatch is pages/50, at least 1 and at most 500', () => {
  assert.equal(advisorBatch(65_536), 500);
  assert.equal(advisorBatch(4_096), 81);
  assert.equal(advisorBatch(10), 1);
});

// The workload bounds the scan-time advisor so that both sides of the bench work in the same
// batches whatever ksmd's CPU share (workloads.ts `advisor`); the kernel's side is compared
// scan by scan in the bench. Here the model's side: pages_to_scan after every full scan is
// the batch, with the cost model as shipped and with ksmd 100 times dearer or cheaper.
for (const factor of [1, 100, 0.01]) {
  test(`the advisor workload keeps pages_to_scan at its batch (cost x${factor})`, () => {
    const pages = 4_096;
    const run = runModelTimed(advisor(pages, 3), () => {}, scaled(factor));
    assert.equal(run.scans.length, 3);
    for (const scan of run.scans) {
      assert.equal(scan.pagesToScan, advisorBatch(pages));
      assert.equal(scan.pagesScanned, pages);
    }
  });
}
