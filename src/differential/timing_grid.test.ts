/** The timing family's cells: names, scenarios, and the advisor cell whose steps the CPU does not decide. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModelBackend } from '../backends/model/index.ts';
import { parseScenario } from '../scenario/parse.ts';
import { runScenario } from '../scenario/run.ts';
import {
  ADVISOR_LARGE,
  ADVISOR_STEADY,
  defaultTimingCells,
  timingCellName,
  timingGrid,
  timingScenario,
} from './timing_grid.ts';

test('timing grid: every cell has its own name and a scenario that parses', () => {
  const names = timingGrid().map(timingCellName);
  assert.equal(new Set(names).size, names.length);
  for (const cell of [...timingGrid(), ...defaultTimingCells()]) {
    const parsed = parseScenario(timingScenario(cell), `${timingCellName(cell)}.yaml`);
    assert.ok(parsed.ok, timingCellName(cell));
  }
});

test('timing grid: an advisor cell sets its advisor knobs before advisor_mode, which copies the minimum', () => {
  assert.equal(timingCellName(ADVISOR_LARGE), 'timing-advisor-target5-sleep20-min2000-cpu100-pages80000');
  const parsed = parseScenario(timingScenario(ADVISOR_LARGE), 'large.yaml');
  assert.ok(parsed.ok);
  const files = parsed.scenario.ksm.map(([file]) => file);
  const mode = files.indexOf('advisor_mode');
  for (const knob of ['advisor_min_pages_to_scan', 'advisor_max_cpu', 'advisor_target_scan_time'])
    assert.ok(files.indexOf(knob) >= 0 && files.indexOf(knob) < mode, knob);
  assert.ok(timingScenario(ADVISOR_LARGE).includes(`size: ${80_000 * 4096}`));
});

test("the steady advisor cell: the model's pages_to_scan after each scan is the live kernel's", async () => {
  // The live kernel (Linux 6.18.44, 2026-12-03 15:19 UTC, 3 runs through `samepage diff
  // --timed`) gave 70, 1,155, 1,905 and 2,000 on every run; scan_time_advisor's arithmetic
  // gives the same for any CPU cost from 2 to 4 µs a page except after scan 3, where the CPU
  // floor (1,920 at cpu_percent 6) or the 2,000 cap (cpu_percent 5 or less) can win.
  const parsed = parseScenario(timingScenario(ADVISOR_STEADY), 'steady.yaml');
  assert.ok(parsed.ok);
  const run = await runScenario(parsed.scenario, createModelBackend({ seed: 0, ksmdRuntimeNs: 900e9 }));
  const steps = run.records.map((r) => Number(r.ksm.pages_to_scan));
  assert.deepEqual(steps.slice(0, 2), [70, 1155]);
  assert.ok(steps[2]! >= 1905 && steps[2]! <= 2000, `after scan 3: ${steps[2]}`);
  assert.equal(steps[3], 2000);
});
