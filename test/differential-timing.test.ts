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
 * it: the machine is busy) is measured again, up to 9 runs; a cell that gets no 3 quiet runs
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
    "ksmd is CPU-bound here and two of a pass's four batches end against a tick edge, so 3 % of ksmd's speed moves the pages by about 4 %; the kernel's own medians at 5 s were 1,064,480 to 1,177,360 within 50 minutes (runs 1,034,000 to 1,187,360), the model 998,040 (docs/divergences.md, Timing)",
  ],
  [
    'timing-2000-50-smart1',
    "full_scans agrees by the clock, but pages_scanned at 2 s is within 5 % at some minutes and not others (+6.5 % at 15:13 UTC on 2026-12-03, +3.2 % at 15:36 and 16:16): the kernel's 2000-page batches cost 5.5 to 10.9 ms of CPU as the unstable tree fills, and those past the second tick edge come every 64 ms, the model's every 60 (docs/divergences.md, Timing)",
  ],
  ...['timing-1000-1-smart1', 'timing-2000-1-smart1', 'timing-2000-5-smart1'].map(
    (cell) =>
      [
        cell,
        "smart_scan's passes that skip every page cost the kernel 2.1-2.5 ms of CPU for 20,480 skips in a run of them (3.2-4.1 ms for the first after a processed pass), the model 4.14 ms (skipNs 202), which passes a 4 ms tick: 12 ms a pass at sleep_millisecs 1 against the kernel's 8 (docs/divergences.md, Timing)",
      ] as const,
  ),
  ...['timing-1000-20-smart1', 'timing-1000-1-smart0', 'timing-1000-20-smart0'].map(
    (cell) =>
      [
        cell,
        'batches of 1000 processed pages cost the model 2.8-3.9 ms, just under a 4 ms tick, and the kernel 2.9-5.5 ms as the unstable tree fills, past the tick edge, so its period is a tick longer (docs/divergences.md, Timing)',
      ] as const,
  ),
  ...['timing-5000-1-smart1', 'timing-5000-5-smart1'].map(
    (cell) =>
      [
        cell,
        "both causes at once: the model's 5000-page batches cost more than the kernel's (behind at 0.5 s, before any pass is skipped), and its all-skipped passes cost 4.14 ms against the kernel's 2.1-2.5 (docs/divergences.md, Timing)",
      ] as const,
  ),
  ...['timing-5000-5-smart0', 'timing-5000-20-smart0'].map(
    (cell) =>
      [
        cell,
        "batches of 5000 pages cost the model 16.2-19.6 ms (3.2-3.9 µs a page), the kernel about 11 (2.1-2.2 µs at 12:34), so the model's period is a tick or two longer: the CPU-bound cell's cause at a smaller scale (docs/divergences.md, Timing)",
      ] as const,
  ),
  [
    'timing-advisor-target2-sleep20',
    "the advisor's steps after scans 3 and 4 follow ksmd's CPU in that scan in 10 ms steps of a 1 s scan_time, and the kernel's own runs disagree by up to 3x: after scans 2-4 700/870/1,080 (09:50), 700/1,000/1,660 (10:35), 577/480-640/430-710 (15:31), 577/640-720/710-900 (15:52), 700/1,400/2,800 (12:34), the model 700/1,000/1,420 (docs/divergences.md, Timing)",
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
