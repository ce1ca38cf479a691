/**
 * The model's ksmd batch by batch, marked as a trace of the live ksmd marks them: a full
 * scan begins in the batch that finds the cursor at the list's head, and ends in the batch
 * whose scan_get_next_rmap_item reaches the list's end, which ends ksm_do_scan's loop (so
 * 2,048 pages at pages_to_scan 1,000 take batches of 1,000, 1,000 and 48 pages).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../scenario/parse.ts';
import { runScenario } from '../../scenario/run.ts';
import { createModelBackend } from './index.ts';

test("the model's ksmd batches: three a scan of 2,048 pages at 1,000, the first starting it, the last ending it", async () => {
  const r = parseScenario(
    'version: 1\nname: b\nksm: { run: 1, pages_to_scan: 1000, sleep_millisecs: 20, smart_scan: 0 }\nsteps:\n' +
      '  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 8MiB }\n' +
      '  - fill: { proc: a, region: r, pattern: { random: 1 } }\n' +
      '  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }\n  - wait: { ms: 300 }\n',
    'b.yaml',
  );
  assert.ok(r.ok);
  // Equal latencies for the kick and the tick, so every gap, the first's too, is whole ticks.
  const timer = { hz: 250, wakeupLatencyNs: 64_030, timerWakeLatencyNs: 64_030, workFlushNs: 0 };
  const model = createModelBackend({ seed: 0, traceBatches: true, timer });
  await runScenario(r.scenario, model);
  const batches = model.ksmdBatches() ?? [];
  // 300 ms at one batch every 24 ms (sleep_millisecs 20 is 5 jiffies of 4 ms, ended on the 6th tick).
  assert.ok(batches.length >= 12, `${batches.length} batches`);
  batches.forEach((b, i) => {
    assert.equal(b.passStarted, i % 3 === 0, `batch ${i} starts a scan`);
    assert.equal(b.passesEnded, i % 3 === 2 ? 1 : 0, `batch ${i} ends a scan`);
    // Nothing blocks in these batches: their wall time is their CPU (to float rounding).
    assert.ok(b.cpuNs > 0 && Math.abs(b.wallNs - b.cpuNs) < 1 && b.timed, `batch ${i}`);
  });
  assert.deepEqual(new Set(batches.slice(1).map((b, i) => b.beginNs - batches[i]!.beginNs)), new Set([24e6]));
  assert.equal(model.tickNs(), 4e6);
});

test('without traceBatches the model keeps no batches', async () => {
  const r = parseScenario('version: 1\nname: n\nsteps:\n  - wait: { ms: 10 }\n', 'n.yaml');
  assert.ok(r.ok);
  const model = createModelBackend({ seed: 0 });
  await runScenario(r.scenario, model);
  assert.equal(model.ksmdBatches(), undefined);
});
