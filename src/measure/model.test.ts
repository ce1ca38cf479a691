import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MEASURED_RUNS, ROUND_PAUSE_MS, runModelRounds, runModelTimed } from './model.ts';
import { allUnique, duplicateHeavy } from './workloads.ts';

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
