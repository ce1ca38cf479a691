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
    'timing-2000-50-smart1',
    "full_scans agrees by the clock, but pages_scanned at 2 s is within 5 % at some minutes and not others (+6.5 % at 15:13 UTC on 2026-12-03, +3.2 % at 15:36, 16:16 and 18:19, +6.5 % at 21:00 with the kernel's runs at 61,440-65,440): the kernel's 2000-page batches cost 5.5 to 10.9 ms of CPU as the unstable tree fills, and those past the second tick edge come every 64 ms, the model's every 60 (docs/divergences.md, Timing)",
  ],
  ...[
    'timing-1000-5-smart1',
    'timing-2000-1-smart1',
    'timing-2000-20-smart1',
    'timing-5000-5-smart1',
    'timing-5000-50-smart1',
    'timing-1000-1-smart0',
    'timing-1000-5-smart0',
    'timing-1000-20-smart0',
    'timing-2000-5-smart0',
    'timing-2000-20-smart0',
  ].map(
    (cell) =>
      [
        cell,
        'passes when ksmd is as fast as when the calibration was measured and misses when it is slower: the model ran ahead by +5 to +16 % at 5 s at 18:13-18:30 UTC on 2026-12-03, and the cell passed in the timing test at 20:58-21:03 (every record within 5 %, full_scans by the clock); ksmd\'s speed on this VM moves 10-15 % between hours, and the reload after a sleep, measured at 20:32-20:38, does not account for it (docs/cost-model.md, "ksmd\'s batch after a sleep, measured"; docs/divergences.md, Timing)',
      ] as const,
  ),
  [
    'timing-1000-20-smart1',
    'batches of 1000 processed pages near a tick edge: the model 1.4-3.7 ms a batch, under a 4 ms tick, the kernel 2.9-5.5 ms as the unstable tree fills, and its three runs of the same minute disagree (pages_scanned at 5 s 162,360, 163,360 and 177,840 at 20:58 UTC on 2026-12-03, the model 181,840: +11.3 %; 180,840 at 20:51, +0.6 %) (docs/divergences.md, Timing)',
  ],
  [
    'timing-5000-1-smart1',
    "smart_scan's passes that skip every page and 5,000-page batches at sleep_millisecs 1: the model ran ahead at 18:14 UTC on 2026-12-03 (+6.1 % at 5 s) and behind at 21:00 (711,320 against the kernel's 752,280: -5.4 %, full_scans 261 ms behind), with ksmd's speed of the hour (docs/divergences.md, Timing)",
  ],
  ...['timing-2000-5-smart1', 'timing-5000-20-smart1'].map(
    (cell) =>
      [
        cell,
        "a record a batch or a pass from where the kernel's own runs disagree: at 20:59-21:01 UTC on 2026-12-03 the model gave one of the values the kernel's runs gave (2000/5 at 2 s: the model 204,320, the runs 184,320-204,800; 5000/20 at 0.5 s: 66,440, the runs 66,440 and 71,440), and at 18:13-18:19 it ran ahead by +5 to +9 % (docs/divergences.md, Timing)",
      ] as const,
  ),
  [
    'timing-5000-20-smart0',
    "5,000-page batches after 20 ms sleeps, with ksmd's speed of the hour: the model +9.3 % at 5 s at 18:17 UTC on 2026-12-03, and -7.0, -5.9, -4.8 % at 0.5, 2 and 5 s at 21:02 (the kernel's median 634,400 at 5 s, the model 603,920) (docs/divergences.md, Timing)",
  ],
  [
    'timing-5000-1-smart0',
    "a CPU-bound cell: its cadence is ksmd's CPU per batch, and the kernel's speed for the same batches moves from machine to machine and hour to hour. On this machine it agreed exactly at 18:15 UTC on 2026-12-03 (1,125,920 pages at 5 s on both sides) and was -3.1 % at 18:32; in the CI run of main c193708-46b3eb3 (the evening of 2026-12-03) the kernel's median scanned 1,208,320 pages in 5 s, the model 1,125,920 (-6.8 %); at 21:02 the kernel's median was 1,325,720 (-15.1 %) (docs/divergences.md, Timing)",
  ],
  [
    'timing-advisor-target2-sleep20',
    "the advisor's steps after scans 3 and 4 follow ksmd's CPU in that scan in 10 ms steps of a 1 s scan_time, and the kernel's own runs disagree by up to 3x: after scans 2-4 700/870/1,080 (09:50), 700/1,000/1,660 (10:35), 577/480-640/430-710 (15:31), 577/640-720/710-900 (15:52), 700/1,400/2,800 (12:34), 577/700/870 (18:21), 700/1,000-1,160/1,660-2,320 (21:03), the model 700/1,160/1,930 (docs/divergences.md, Timing)",
  ],
  [
    'timing-advisor-target2-sleep5',
    "as target2-sleep20, with ksmd's CPU share deciding at 5 ms sleeps: after scans 2-4 the kernel's median 230/280/350 at 15:26-16:18, 170/170/150 at 18:17 and 350/580/1,160 at 21:03 (runs 230-350, 320-580, 530-1,160), the model 350/580/960 (docs/divergences.md, Timing)",
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
