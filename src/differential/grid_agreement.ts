/**
 * How far the live kernel agrees with itself on the timing grid at two times: the floor
 * under the timing family's tolerance. Two grid files that `scripts/timing-grid.mjs` wrote
 * (each cell's kernel medians and the model's figures, record by record) are compared on the
 * values the timing family judges by tolerance: pages_scanned at each record, and
 * pages_to_scan under the scan-time advisor. Where the kernel of one hour is not within 5 %
 * of the kernel of another on a cell, no model with one calibration can be within 5 % of both,
 * and that cell measures the machine, not the model (docs/cost-model-journal.md, "The kernel against
 * itself").
 */
import { z } from 'zod';
import { DEFAULT_TOLERANCE, within } from './tolerance.ts';

const gridRow = z.object({
  label: z.string(),
  path: z.string(),
  kernel: z.unknown(),
  /** Each undisturbed kernel run's value (the kernel figure is their median). */
  runs: z.array(z.unknown()).optional(),
  model: z.unknown(),
  ok: z.boolean(),
});

const gridCell = z.object({
  cell: z.object({ advisor: z.boolean() }).passthrough(),
  rows: z.array(gridRow),
  date: z.string().optional(),
  /** The model again at the kernel's speed (differential/kernel_speed.ts), where the file has it. */
  at_kernel_speed: z
    .object({ agrees: z.boolean(), within_kernel_runs: z.boolean().optional() })
    .passthrough()
    .optional(),
});

/** A grid file of scripts/timing-grid.mjs: cell name to that cell's rows. */
export const gridFileSchema = z.record(z.string(), gridCell);
export type GridFile = z.infer<typeof gridFileSchema>;
export type GridCell = z.infer<typeof gridCell>;

/** One cell measured in both files. */
export interface CellAgreement {
  readonly name: string;
  /** Values compared: the judged records with a number on both sides. */
  readonly values: number;
  /** The later kernel's largest relative difference from the earlier, signed (0.05 is +5 %). */
  readonly worst: number;
  /** Every compared value of the later kernel within the tolerance of the earlier's. */
  readonly kernelWithin: boolean;
  /** The model within tolerance of that file's kernel on the same values, in each file. */
  readonly modelWithin: readonly [boolean, boolean];
}

/** The value a cell is judged on by tolerance: pages_to_scan is the advisor's trajectory; elsewhere pages_scanned carries the clock. */
export function judgedPath(cell: GridCell): string {
  return cell.cell.advisor ? 'ksm/pages_to_scan' : 'ksm/pages_scanned';
}

/** That value's tolerance: the advisor's or the counters'. */
export function judgedTolerance(cell: GridCell): number {
  return cell.cell.advisor ? DEFAULT_TOLERANCE.advisor : DEFAULT_TOLERANCE.counters;
}

/**
 * Every cell of both files, in the later file's order: the later kernel's medians judged
 * against the earlier's as the timing family judges the model, and each file's own verdict
 * on its model for the same values.
 */
export function gridAgreement(earlier: GridFile, later: GridFile): CellAgreement[] {
  const out: CellAgreement[] = [];
  for (const [name, b] of Object.entries(later)) {
    const a = earlier[name];
    if (a === undefined) continue;
    const path = judgedPath(b);
    const tol = judgedTolerance(b);
    const rowsOf = (c: GridCell) => new Map(c.rows.filter((r) => r.path === path).map((r) => [r.label, r]));
    const early = rowsOf(a);
    let values = 0;
    let worst = 0;
    let kernelWithin = true;
    const modelWithin: [boolean, boolean] = [true, true];
    for (const [label, rb] of rowsOf(b)) {
      const ra = early.get(label);
      if (ra === undefined || typeof ra.kernel !== 'number' || typeof rb.kernel !== 'number') continue;
      values++;
      if (!within(ra.kernel, rb.kernel, tol)) kernelWithin = false;
      const d =
        ra.kernel === 0 ? (rb.kernel === 0 ? 0 : Number.POSITIVE_INFINITY) : (rb.kernel - ra.kernel) / ra.kernel;
      if (Math.abs(d) > Math.abs(worst)) worst = d;
      if (!ra.ok) modelWithin[0] = false;
      if (!rb.ok) modelWithin[1] = false;
    }
    if (values > 0) out.push({ name, values, worst, kernelWithin, modelWithin });
  }
  return out;
}
