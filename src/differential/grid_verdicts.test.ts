import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GridFile } from './grid_agreement.ts';
import { gridVerdicts } from './grid_verdicts.ts';

const row = (path: string, runs: number[], model: number, ok: boolean) => ({
  label: '5 s',
  path,
  kernel: [...runs].sort((a, b) => a - b)[1],
  runs,
  model,
  ok,
});

test('gridVerdicts: strict counts the file verdicts; a miss inside the kernel runs range counts only under the second reading', () => {
  const grid: GridFile = {
    // Within tolerance everywhere.
    pass: { cell: { advisor: false }, rows: [row('ksm/pages_scanned', [100, 101, 102], 101, true)] },
    // pages_scanned 10 % off the median, but between the slowest and fastest runs.
    spread: { cell: { advisor: false }, rows: [row('ksm/pages_scanned', [90, 100, 112], 110, false)] },
    // full_scans missed by the clock, its count equal to one run's: inside the range.
    clock: {
      cell: { advisor: false },
      rows: [row('ksm/pages_scanned', [100, 100, 100], 100, true), row('ksm/full_scans', [30, 31, 33], 33, false)],
    },
    // Beyond every run.
    beyond: { cell: { advisor: false }, rows: [row('ksm/pages_scanned', [100, 101, 102], 110, false)] },
    // The advisor's pages_to_scan, below every run.
    advisor: { cell: { advisor: true }, rows: [row('ksm/pages_to_scan', [700, 700, 770], 577, false)] },
    // A run that stopped before any record: not counted.
    stopped: { cell: { advisor: false }, rows: [] },
  };
  assert.deepEqual(gridVerdicts(grid), {
    cells: 5,
    strict: 1,
    withinRuns: 3,
    beyondRuns: ['beyond', 'advisor'],
    atKernelSpeed: { cells: 0, agree: 0, withinRuns: 0, beyond: [] },
  });
});

test('gridVerdicts: a row without kernel runs (files before they were kept) is judged strictly', () => {
  const grid: GridFile = {
    old: {
      cell: { advisor: false },
      rows: [{ label: '5 s', path: 'ksm/pages_scanned', kernel: 100, model: 110, ok: false }],
    },
  };
  assert.deepEqual(gridVerdicts(grid), {
    cells: 1,
    strict: 0,
    withinRuns: 0,
    beyondRuns: ['old'],
    atKernelSpeed: { cells: 0, agree: 0, withinRuns: 0, beyond: [] },
  });
});

test("gridVerdicts: the cells the file kept the model at the kernel's speed for, counted apart", () => {
  const miss = [row('ksm/pages_scanned', [100, 101, 102], 110, false)];
  const grid: GridFile = {
    speed: { cell: { advisor: false }, rows: miss, at_kernel_speed: { agrees: true } },
    shape: { cell: { advisor: false }, rows: miss, at_kernel_speed: { agrees: false } },
    runs: { cell: { advisor: false }, rows: miss, at_kernel_speed: { agrees: false, within_kernel_runs: true } },
    advisor: { cell: { advisor: true }, rows: miss },
  };
  assert.deepEqual(gridVerdicts(grid).atKernelSpeed, { cells: 3, agree: 1, withinRuns: 2, beyond: ['shape'] });
});
