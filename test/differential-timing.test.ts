/**
 * The timing family of the differential suite: ksmd's cadence on the live kernel against the
 * model's clock (src/differential/timing_grid.ts, compared by src/differential/timed.ts).
 * Each cell scans 80 MiB of random pages for some seconds of wall time; the model's
 * pages_scanned at every record must be within 5 % of the median of 3 undisturbed kernel
 * runs, its full_scans within 5 % by the clock (neither side reached a value more than 5 %
 * of the record's time before the other: src/differential/step_clock.ts), and under the
 * scan-time advisor its pages_to_scan within 10 %; every knob, after every step, exactly.
 *
 * A kernel run in which ksmd waited for a CPU more than 1 % of the time (another task held
 * it), or in which other work used more than 5 % of the CPU time (it slows ksmd down without
 * delaying it), is measured again, up to 9 runs; a cell that gets no 3 quiet runs
 * is skipped, saying so, since a busy machine's timing says nothing about the model. A cell
 * whose only misses are values some kernel run gave too (the runs disagree among
 * themselves) is reported as to do, with its figures, not passed.
 *
 * Skips, saying why, where the kernel backend cannot run. `SAMEPAGE_DIFF_TIMING=all` runs
 * the whole grid (pages_to_scan 100-5,000 x sleep_millisecs 1-200 x smart_scan 0/1, and the
 * advisor: about 17 minutes), `none` none, `NAME,NAME` those cells of the grid; by default a
 * spread of 8 cells (about 2.5 minutes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differentialSkipReason } from '../src/backends/kernel/testing.ts';
import { DEFAULT_TOLERANCE, onlyWithinKernelSpread, timedAgrees, timedDiff } from '../src/differential/timed.ts';
import {
  defaultTimingCells,
  timingCellName,
  timingGrid,
  timingScenario,
  type TimingCell,
} from '../src/differential/timing_grid.ts';
import { renderTimedDiff } from '../src/report/timed_diff.ts';
import { parseScenario } from '../src/scenario/parse.ts';

function cells(): TimingCell[] {
  const which = process.env.SAMEPAGE_DIFF_TIMING ?? '';
  if (which === 'all') return timingGrid();
  if (which === 'none') return [];
  if (which === '') return defaultTimingCells();
  const names = which.split(',');
  const unknown = names.filter((n) => !timingGrid().some((c) => timingCellName(c) === n));
  if (unknown.length > 0)
    throw new Error(`SAMEPAGE_DIFF_TIMING must be all, none or cell names of the grid; unknown: ${unknown.join(', ')}`);
  return timingGrid().filter((c) => names.includes(timingCellName(c)));
}

/**
 * Cells the model is known to miss, with why (docs/divergences.md, "Timing"): they still
 * run and print their comparison, as to do, so a fix shows as a pass.
 */
const KNOWN_MISSES: ReadonlyMap<string, string> = new Map([
  [
    'timing-5000-1-smart0',
    "passes on a quiet machine of this kind, by a thin margin: the kernel's median 1,289,760 and 1,290,240 pages at 5 s at 21:30 and 21:50 UTC on 2026-12-03, the model 1,228,320 (-4.8 %; the calibration of 21:49). It is CPU-bound: its cadence is ksmd's CPU per batch, and a host 3 % faster or slower moves the pages at 5 s about 4 % (the CI host's kernel gave 1,208,320 that evening), so it reports rather than fails (docs/divergences.md, Timing)",
  ],
  ...['timing-2000-20-smart1', 'timing-1000-20-smart0'].map(
    (cell) =>
      [
        cell,
        'batches that end near a tick edge: the quiet kernel did not repeat itself here (at 5 s 257,760 and 245,760 pages for 2000/20/1, 204,320 and 192,320 for 1000/20/0, at 21:30 and 21:50 UTC on 2026-12-03); the model gives 257,760 and 204,320, the first set to the page, and is up to +6.5 % (2000/20/1 at 2 s) and +6.2 % (1000/20/0 at 5 s) from the second (docs/divergences.md, Timing)',
      ] as const,
  ),
  [
    'timing-advisor-target2-sleep20',
    "the advisor's steps after scans 3 and 4 follow ksmd's CPU share in 10 ms steps of a 1 s scan_time, and the kernel's own runs disagree: after scans 3-4 its median was 1,160/2,320 at 21:30 and 1,400/2,800 at 21:50 UTC on 2026-12-03 (quiet machine; 1,000/1,420 in CI), the model 1,750/4,370: its 70-page batches after 20 ms sleeps cost less than the kernel's (docs/divergences.md, Timing)",
  ],
  [
    'timing-advisor-target2-sleep5',
    "as target2-sleep20, with ksmd's CPU share deciding at 5 ms sleeps: after scans 2-4 the kernel's median 230/380/760 at 21:30 and 350/580/1,160 at 21:50 UTC on 2026-12-03, the model 700/1,750/4,370 (docs/divergences.md, Timing)",
  ],
]);

const grid = cells();
const skip = grid.length === 0 ? 'SAMEPAGE_DIFF_TIMING=none' : await differentialSkipReason();
if (skip !== undefined) {
  const message = `timed differential tests (kernel vs model clock) skipped: ${skip}`;
  process.stdout.write(`${message}\n`);
  test('differential timing: kernel vs model', { skip: message }, () => undefined);
} else {
  for (const cell of grid) {
    const name = timingCellName(cell);
    const known = KNOWN_MISSES.get(name);
    const title = `differential timing: ${name} within ${DEFAULT_TOLERANCE.counters * 100} % of the live kernel`;
    test(title, known === undefined ? {} : { todo: known }, async (t) => {
      const parsed = parseScenario(timingScenario(cell), `${name}.yaml`);
      assert.ok(parsed.ok, `${name} does not parse`);
      const d = await timedDiff(parsed.scenario, DEFAULT_TOLERANCE, { onWarning: () => undefined });
      const report = renderTimedDiff(`${name}.yaml`, d, false);
      t.diagnostic(report);
      if (d.error?.includes('too busy') === true) return void t.skip(d.error);
      // Where the kernel's own runs disagree (a record a few batches from the end of a pass:
      // full_scans 0, 1, 0) and the model gives one of their values, the median cannot judge
      // it: reported as to do, with the figures, not as a pass.
      if (!timedAgrees(d) && onlyWithinKernelSpread(d))
        return void t.todo('beyond the tolerance of the kernel median, within the spread of its runs');
      assert.ok(timedAgrees(d), report);
    });
  }
}
