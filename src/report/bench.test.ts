import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchResult, BenchRun } from '../measure/bench.ts';
import { join } from 'node:path';
import { displayWidth } from '../lib/text_width.ts';
import { packageRoot } from '../lib/package_root.ts';
import { calibrationPath } from '../backends/model/calibration.ts';
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

/** A rendered table's rows (the header first), cell by cell. */
const tableCells = (table: string): string[][] =>
  table
    .split('\n')
    .filter((l) => l.startsWith('│'))
    .map((l) => l.split('│').map((c) => c.trim()));

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
  const shipped = readCalibration(calibrationPath({}, null));
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
  // The reload table's rows, cell by cell: the one whose header names the passes' column.
  const table = renderCalibration(file, shipped.cost)
    .split('\n\n')
    .find((t) => t.includes('passes µs'));
  assert.ok(table !== undefined, 'the reload table has a passes column');
  const cells = tableCells(table);
  const column = cells[0]!.indexOf('passes µs');
  assert.equal(cells[1]![column], '-3 to 984');
  assert.equal(cells[2]![column], '125');
  assert.equal(cells[3]![column], '', 'a row without its passes (an older file) leaves the column empty');
  // The shipped default set's rows were all measured on 20,000 pages, before rows named their
  // region: readCalibration names it.
  const region = cells[0]!.indexOf('region pages');
  for (const row of cells.slice(1)) assert.equal(row[region], '20,000');
});

test("the calibration's reload table names each row's region", () => {
  const amd = readCalibration(
    join(packageRoot(import.meta.dirname), 'calibration', 'hosts', 'amd-epyc-2cpu', 'cost-model.json'),
  );
  assert.ok(amd?.post_sleep !== undefined);
  const table = renderCalibration(amd, amd.cost)
    .split('\n\n')
    .find((t) => t.includes('region pages'));
  assert.ok(table !== undefined, 'the reload table has a region column');
  for (const region of ['2,000', '5,000', '10,000', '20,000'])
    assert.ok(table.includes(`│ ${region} `) || table.includes(` ${region} │`), `a row on ${region} pages`);
  // Under it, the growth's form with the file's constants and fit.
  const text = renderCalibration(amd, amd.cost, undefined, undefined, 10_000);
  assert.ok(
    text.includes(`min(1, n / 20,000)^${amd.cost.postSleepTreeExp} of it`) &&
      text.includes(`${amd.post_sleep.tree?.points} rows`),
    'the tree fit is given under the reload table',
  );
  // The default set, from before the trees' growth was fitted, has no such line.
  const old = readCalibration(calibrationPath({}, null));
  assert.ok(
    old !== undefined &&
      !renderCalibration(old, old.cost, undefined, undefined, 10_000).includes('grows with the trees'),
  );
});

test("a calibration in rounds gives each scan's spread over them and says how many; one round adds nothing", () => {
  const shipped = readCalibration(calibrationPath({}, null));
  assert.ok(shipped !== undefined);
  const [first, ...rest] = shipped.scans;
  const file = {
    ...shipped,
    workload_rounds: 3,
    scans: [{ ...first!, kernel_cpu_rounds_s: [0.31, 0.252, 0.4] }, ...rest],
  };
  const text = renderCalibration(file, shipped.cost, undefined, undefined, 10_000);
  assert.match(text.split('\n')[0]!, /, measured 3 rounds \(each scan the median\)$/);
  const table = text.split('\n\n').find((t) => t.includes('rounds s'));
  assert.ok(table !== undefined, 'the scans table has a rounds column');
  const cells = tableCells(table);
  const column = cells[0]!.indexOf('rounds s');
  assert.equal(cells[1]![column], '0.25 to 0.40');
  assert.equal(cells[2]![column], '', 'a scan without rounds leaves the column empty');
  const once = renderCalibration(shipped, shipped.cost, undefined, undefined, 10_000);
  assert.ok(!once.includes('rounds s') && !once.includes('rounds (each scan'));
});
