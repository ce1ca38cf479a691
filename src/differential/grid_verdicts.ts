/**
 * One grid file's cells (scripts/timing-grid.mjs) counted under two readings of the timing
 * family's criterion. Strict, as issue 10 states it: every judged value within tolerance of
 * the kernel runs' median (the file's own verdicts, full_scans by the clock included). And
 * allowing for the kernel's spread: a value beyond tolerance still agrees where the model's
 * figure lies within the range of the cell's kernel runs, which the kernel itself showed at
 * that record (timed_compare.ts's inSpread, which `samepage diff --timed` shows as "out, within the
 * kernel runs"). The second reading is not the criterion: it measures how many of the misses
 * fall inside what the live kernel does from one run to the next. Where the file kept the
 * model's run at the kernel's speed (differential/kernel_speed.ts), a third count: the cells
 * it agrees on, which says how many misses were the host's speed of the hour, and those
 * whose misses there lie within the kernel runs (files written before that was kept count
 * their misses as beyond).
 */
import type { GridFile } from './grid_agreement.ts';
import { inSpread } from './timed_compare.ts';

/** The counts of one file. */
export interface GridVerdicts {
  /** Cells with judged values (a cell whose run stopped before any record is left out). */
  readonly cells: number;
  /** Cells with every value within tolerance. */
  readonly strict: number;
  /** Cells with every value within tolerance or within the range of the kernel runs. */
  readonly withinRuns: number;
  /** The cells that miss under both readings. */
  readonly beyondRuns: readonly string[];
  /**
   * Cells the file has the model at the kernel's speed for, those it agrees on, those it
   * agrees on or misses only within the kernel runs, and the others.
   */
  readonly atKernelSpeed: {
    readonly cells: number;
    readonly agree: number;
    readonly withinRuns: number;
    readonly beyond: readonly string[];
  };
}

export function gridVerdicts(grid: GridFile): GridVerdicts {
  let cells = 0;
  let strict = 0;
  let withinRuns = 0;
  const beyondRuns: string[] = [];
  const speed = { cells: 0, agree: 0, withinRuns: 0, beyond: [] as string[] };
  for (const [name, c] of Object.entries(grid)) {
    if (c.rows.length === 0) continue;
    cells++;
    if (c.rows.every((r) => r.ok)) strict++;
    if (c.rows.every((r) => r.ok || inSpread(r.runs ?? [], r.model))) withinRuns++;
    else beyondRuns.push(name);
    if (c.at_kernel_speed === undefined) continue;
    speed.cells++;
    const { agrees, within_kernel_runs: within } = c.at_kernel_speed;
    if (agrees) speed.agree++;
    if (agrees || within === true) speed.withinRuns++;
    else speed.beyond.push(name);
  }
  return { cells, strict, withinRuns, beyondRuns, atKernelSpeed: speed };
}
