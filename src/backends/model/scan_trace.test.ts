/** The model's trace of full_scans (scenario/scan_trace.ts): its times, and its agreement with the records. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../scenario/parse.ts';
import { runScenario } from '../../scenario/run.ts';
import { fullScansAt } from '../../scenario/scan_trace.ts';
import { createModelBackend } from './index.ts';

const SCENARIO = `version: 1
name: trace
ksm: { run: 1, pages_to_scan: 100, sleep_millisecs: 20 }
steps:
  - spawn: { proc: a, comm: x }
  - mmap: { proc: a, region: r, size: 40KiB }
  - fill: { proc: a, region: r, pattern: { random: 1 } }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - wait: { ms: 500 }
  - record: { label: "0.5 s" }
  - wait: { ms: 1500 }
  - record: { label: "2 s" }
  - wait: { full_scans: 2 }
  - record: { label: "2 more scans" }
`;

test('model scan trace: one pass a batch at sleep_millisecs 20 and HZ 250 ends every 6 ticks (24 ms); records read what the trace says', async () => {
  const parsed = parseScenario(SCENARIO, 'trace.yaml');
  assert.ok(parsed.ok);
  // No wake-up latency, so every batch begins on a tick; 10 pages a batch take far less than a tick.
  const backend = createModelBackend({
    seed: 0,
    traceScans: true,
    timer: { hz: 250, wakeupLatencyNs: 0, timerWakeLatencyNs: 0, workFlushNs: 0 },
  });
  const run = await runScenario(parsed.scenario, backend);
  const trace = backend.scanTrace();
  assert.ok(trace !== undefined && run.ok, run.error);
  // msecs_to_jiffies(20) at HZ 250 is 5 jiffies, and the timer wheel fires a level-0 timer
  // on the tick after its expiry (kernel/time/timer.c): the 6th tick after the sleep began.
  const times = trace.fullScans.slice(2).map(([t]) => t);
  const gaps = times.slice(1).map((t, i) => Math.round((t - (times[i] ?? 0)) * 1e6) / 1e6);
  assert.ok(gaps.length > 60, `${gaps.length} passes`);
  assert.deepEqual([...new Set(gaps)], [24]);
  assert.deepEqual(trace.recordAtMs, [500, 2000, undefined]);
  for (const [i, rec] of run.records.entries()) {
    const at: number | undefined = trace.recordAtMs[i];
    if (at !== undefined) assert.equal(fullScansAt(trace, at), rec.ksm.full_scans, rec.label);
  }
});
