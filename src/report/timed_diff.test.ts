import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TimedDiff } from '../differential/timed.ts';
import { DEFAULT_TOLERANCE } from '../differential/tolerance.ts';
import { atKernelSpeedWords, clockWords, cpuWords, renderTimedDiff, timedDiffJson } from './timed_diff.ts';

const clock = {
  atMs: 5000,
  earlierMs: 4750,
  kernelEarlier: 13,
  modelEarlier: 13,
  leadMs: 68.4,
  limitMs: 250,
  level: false,
  ok: true,
};

const diff: TimedDiff = {
  scenario: 'cell',
  values: [
    {
      label: '5 s',
      path: 'ksm/full_scans',
      kernel: 13,
      kernelRuns: [13, 13, 13],
      model: 15,
      tolerance: 0.05,
      judged: true,
      ok: true,
      inKernelSpread: false,
      clock,
    },
  ],
  kernelRuns: [],
  model: { scenario: 'cell', backend: 'model', ok: true, records: [], expects: [], calls: [] },
  tolerance: DEFAULT_TOLERANCE,
  warnings: [],
};

test('timed report: full_scans judged by its clock shows the lead and its limit, in the table and in JSON', () => {
  assert.equal(clockWords(clock), 'model 68 ms ahead (limit 250)');
  assert.equal(clockWords({ ...clock, leadMs: -484.2, limitMs: 275 }), 'model 484 ms behind (limit 275)');
  // Equal values agree whatever the lead: it is shown without a limit.
  assert.equal(clockWords({ ...clock, leadMs: -34.2, limitMs: 25, level: true }), 'same value, reached 34 ms later');
  const text = renderTimedDiff('cell.yaml', diff, false);
  assert.match(text, /by the clock/);
  assert.match(text, /model 68 ms ahead \(limit 250\)/);
  assert.deepEqual(timedDiffJson('cell.yaml', diff).values[0]?.clock, clock);
});

test('timed report: ksmd CPU over the waits, kernel median and runs against the model, in text and in JSON', () => {
  const cpu = { kernelNs: [24_200_000, 23_900_000, 25_000_000], modelNs: 22_400_000 };
  // Median 24.2 ms; (22.4 - 24.2) / 24.2 = -7.44 %.
  assert.equal(
    cpuWords(cpu),
    "ksmd's CPU over the waits: kernel 24.2 ms (runs 24.2 23.9 25.0), model 22.4 ms (-7.4 %)",
  );
  assert.match(renderTimedDiff('cell.yaml', { ...diff, ksmdCpu: cpu }, false), /kernel 24\.2 ms \(runs/);
  assert.doesNotMatch(renderTimedDiff('cell.yaml', diff, false), /ksmd's CPU/);
  assert.deepEqual(timedDiffJson('cell.yaml', { ...diff, ksmdCpu: cpu }).ksmd_cpu_ms, {
    kernel_runs: [24.2, 23.9, 25],
    model: 22.4,
  });
  assert.equal(timedDiffJson('cell.yaml', diff).ksmd_cpu_ms, undefined);
});

test("timed report: the model at the kernel's speed, its factor and what it still misses, in text and in JSON", () => {
  const miss = { ...diff.values[0]!, path: 'ksm/pages_scanned', kernel: 368_160, model: 450_560, ok: false };
  const at = {
    factor: 1.4762,
    kernelNsPerPage: 5342.4,
    modelNsPerPage: 5330.9,
    rounds: 4,
    matched: true,
    values: [miss],
    withinKernelRuns: false,
  };
  // (450,560 - 368,160) / 368,160 = +22.4 %.
  assert.equal(
    atKernelSpeedWords(at, 0.05),
    "at the kernel's speed (the model's CPU costs x 1.476: 5,331 ns of ksmd's CPU a page scanned, kernel 5,342): " +
      '1 value beyond: 5 s ksm/pages_scanned 450560 against 368160 (22.4 %)',
  );
  assert.equal(
    atKernelSpeedWords({ ...at, values: [diff.values[0]!], matched: false }, 0.05),
    "at the kernel's speed (the model's CPU costs x 1.476: 5,331 ns of ksmd's CPU a page scanned, kernel 5,342, not matched in 4 runs): within 5 %",
  );
  assert.match(renderTimedDiff('cell.yaml', { ...diff, atKernelSpeed: at }, false), /at the kernel's speed/);
  assert.doesNotMatch(renderTimedDiff('cell.yaml', diff, false), /at the kernel's speed/);
  assert.deepEqual(timedDiffJson('cell.yaml', { ...diff, atKernelSpeed: at }).at_kernel_speed, {
    factor: 1.4762,
    kernel_ns_per_page: 5342,
    model_ns_per_page: 5331,
    matched: true,
    agrees: false,
    within_kernel_runs: false,
    out: [{ label: '5 s', path: 'ksm/pages_scanned', kernel: 368_160, model: 450_560 }],
  });
  assert.equal(timedDiffJson('cell.yaml', diff).at_kernel_speed, undefined);
});
