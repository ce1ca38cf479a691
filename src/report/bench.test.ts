import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchResult, BenchRun } from '../measure/bench.ts';
import { displayWidth } from '../lib/text_width.ts';
import { readCalibration } from '../measure/calibrate.ts';
import { renderBench, renderCalibration } from './bench.ts';

/** A bench of two workloads; the figures are placeholders for layout, not measurements. */
function run(calibrated: boolean): BenchRun {
  const result = (workload: string, counters: boolean): BenchResult =>
    ({
      workload,
      description: workload,
      model_pages_per_cpu_s: 12_345_678,
      kernel_pages_per_cpu_s: 1_234_567,
      ratio: 10,
      first_scan_ratio: 12.7,
      later_scans_ratio: 9.5,
      pages: 65_536,
      scans: 10,
      kernel_ns_per_visit: 810,
      model_virtual_ns_per_visit: 790,
      model_calibrated_ns_per_visit: 805,
      counters_equal: counters,
    }) as unknown as BenchResult;
  return {
    results: [result('all-unique', true), result('duplicate-heavy', false)],
    calibrated,
    warmupRuns: 1,
    measuredRuns: 3,
    roundPauseS: 5,
  };
}

const widest = (text: string): number => Math.max(...text.split('\n').map(displayWidth));

test('the bench table fits COLUMNS, keeping the workload, the ratios and whether the counters agree', () => {
  const full = renderBench(run(true));
  assert.ok(widest(full) > 100, `unfitted it is wide (${widest(full)} columns)`);
  for (const width of [80, 100]) {
    const text = renderBench(run(true), width);
    assert.ok(widest(text) <= width, `at ${width} columns its widest line is ${widest(text)}`);
    for (const kept of ['all-unique', 'duplicate-heavy', '10.00', '12.70', '9.50', 'yes', 'NO'])
      assert.ok(text.includes(kept), `${kept} is kept at ${width} columns`);
  }
});

test("the calibration's reload table gives each row's spread over its passes", () => {
  // The shipped calibration, its reload rows given passes (older files have none).
  const shipped = readCalibration();
  assert.ok(shipped?.post_sleep !== undefined, 'the package ships calibration/cost-model.json with its reload');
  const [first, second, ...rest] = shipped.post_sleep.rows;
  const file = {
    ...shipped,
    post_sleep: {
      ...shipped.post_sleep,
      rows: [
        { ...first!, extra_ns_each: [-3_000, 984_400, 546_000] },
        { ...second!, extra_ns_each: [125_000] },
        ...rest,
      ],
    },
  };
  const lines = renderCalibration(file, shipped.cost).split('\n');
  assert.ok(lines.some((l) => l.includes('passes µs')));
  assert.ok(lines.some((l) => l.includes('-3 to 984')));
  assert.ok(lines.some((l) => / 125 /.test(l)));
});
