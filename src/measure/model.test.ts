import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CostModel, DEFAULT_COST } from '../ksm/cost.ts';
import {
  countedScanNs,
  MEASURED_RUNS,
  ROUND_PAUSE_MS,
  runModelCounted,
  runModelRounds,
  runModelTimed,
} from './model.ts';
import { allUnique, duplicateHeavy, smartScan } from './workloads.ts';

// The bench measures each workload MEASURED_RUNS times in rounds, ROUND_PAUSE_MS apart, so
// that a slow spell of the CPU reaches few of a workload's runs (model.ts runModelRounds).
test('the model is measured in rounds: each workload once a round, after a warm-up run of its own, rounds paused apart', () => {
  const ws = [allUnique(256, 2), duplicateHeavy(256, 2)];
  const log: string[] = [];
  let probes = 0;
  const runs = runModelRounds(
    ws,
    (m) => log.push(m),
    (ms) => log.push(`pause ${ms}`),
    () => 1000 * ++probes,
  );
  const events = log.filter((m) => m.startsWith('pause') || m.includes('warm-up') || m.includes('measured run'));
  const expected: string[] = [];
  for (let round = 1; round <= MEASURED_RUNS; round++) {
    if (round > 1) expected.push(`pause ${ROUND_PAUSE_MS}`);
    for (const w of ws) {
      expected.push(`model: JIT warm-up (${w.name} run ${round === 1 ? 2 : 1} times, not measured)`);
      expected.push(`${w.name}: model, measured run ${round}/${MEASURED_RUNS}`);
    }
  }
  assert.deepEqual(events, expected);
  // One probe right before each measured run, in µs, workload by workload.
  assert.deepEqual(
    runs.map((r) => r.probeUsByRun),
    ws.map((_, i) => Array.from({ length: MEASURED_RUNS }, (_, round) => 1 + round * ws.length + i)),
  );
  // The combined run is the workload's: its scans and counters, one run's worth.
  for (const [i, w] of ws.entries()) {
    const one = runModelTimed(w, () => {});
    assert.deepEqual(runs[i]!.counters, one.counters);
    assert.deepEqual(
      runs[i]!.scans.map((s) => s.pagesScanned),
      one.scans.map((s) => s.pagesScanned),
    );
  }
});

// The calibration subtracts what a workload scan's batches cost besides the fitted events
// (batchExtrasNs) from the kernel's CPU: it must be what the model charges them, reload,
// part per search and first visits included, or the per-event fit absorbs the difference.
test('countedScanNs gives every scan what the model charges it, with the reload, its part per search and first visits', () => {
  const cost: CostModel = {
    ...DEFAULT_COST,
    postSleepPageNs: 700,
    postSleepMaxNs: 5_000_000,
    postSleepTauNs: 1, // a sleep of any length loses all of it: the scans' sleeps need not be known
    postSleepBatchNs: 300_000,
    postSleepBatchTauNs: 1,
    postSleepTreeExp: 0.3,
    postSleepTreeNodes: 2000,
    postSleepSearchPart: 0.6,
    firstVisitNs: 400,
    postSleepNoTreeNs: 90_000,
    postSleepNoTreeTauNs: 1,
  };
  for (const w of [allUnique(512), duplicateHeavy(512), smartScan(512)]) {
    const counted = runModelCounted(w, () => {});
    const timed = runModelTimed(w, () => {}, cost).scans;
    assert.equal(counted.length, timed.length);
    counted.forEach((c, i) => {
      const charged = timed[i]!.virtualNs;
      assert.ok(
        Math.abs(countedScanNs(c, cost, w) - charged) < 1e-6 * charged,
        `${w.name} scan ${i + 1}: ${countedScanNs(c, cost, w)} against ${charged}`,
      );
    });
  }
});
