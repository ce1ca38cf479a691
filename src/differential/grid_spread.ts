/**
 * Whether one model could pass a timing-grid cell in every kept grid file: the many-file
 * form of grid_agreement.ts. A model with one calibration gives one value at each record.
 * The timing family passes it where that value is within the tolerance of the kernel runs'
 * median, so it can pass the cell in every file only where some value is within the
 * tolerance of every file's median at once: where the largest median times (1 - tol) is
 * at most the smallest times (1 + tol), a spread of at most 10.5 % at 5 %. A cell whose
 * kernel medians spread wider across the files measures how the machine's speed moved
 * between them, and no fixed model, however exact, passes it in all of them
 * (docs/cost-model.md, "What no calibration can pass").
 */
import { type GridFile, judgedPath, judgedTolerance } from './grid_agreement.ts';

/** One cell across the files that measured it. */
export interface CellSpread {
  readonly name: string;
  /** The files with a judged value of this cell (indices into the list given). */
  readonly files: readonly number[];
  /** The record whose medians spread widest, its largest over its smallest median, and the files of both. */
  readonly widest: {
    readonly label: string;
    readonly ratio: number;
    readonly lowFile: number;
    readonly highFile: number;
  };
  /** The cell's tolerance (the counters' or the advisor's). */
  readonly tolerance: number;
  /** Some single value lies within the tolerance of every file's median at every record. */
  readonly placeable: boolean;
}

/** Whether one value can be within `tol` of each of `medians`. */
export function onePlaces(medians: readonly number[], tol: number): boolean {
  const lo = Math.min(...medians);
  const hi = Math.max(...medians);
  return hi * (1 - tol) <= lo * (1 + tol);
}

/**
 * Every cell that at least two of the files measured, in the order of their first file: at
 * each judged record, the kernel medians of those files.
 */
export function gridSpread(files: readonly GridFile[]): CellSpread[] {
  const names: string[] = [];
  for (const f of files) for (const n of Object.keys(f)) if (!names.includes(n)) names.push(n);
  const out: CellSpread[] = [];
  for (const name of names) {
    // label -> [file index, median] for every file with a number there.
    const byLabel = new Map<string, Array<[number, number]>>();
    const fileSet = new Set<number>();
    let tolerance = 0;
    files.forEach((f, i) => {
      const c = f[name];
      if (c === undefined) return;
      tolerance = judgedTolerance(c);
      const path = judgedPath(c);
      for (const r of c.rows) {
        if (r.path !== path || typeof r.kernel !== 'number') continue;
        const at = byLabel.get(r.label) ?? [];
        at.push([i, r.kernel]);
        byLabel.set(r.label, at);
        fileSet.add(i);
      }
    });
    if (fileSet.size < 2) continue;
    let widest: CellSpread['widest'] | undefined;
    let placeable = true;
    for (const [label, at] of byLabel) {
      if (at.length < 2) continue;
      const medians = at.map(([, k]) => k);
      if (!onePlaces(medians, tolerance)) placeable = false;
      const low = at.reduce((a, b) => (b[1] < a[1] ? b : a));
      const high = at.reduce((a, b) => (b[1] > a[1] ? b : a));
      const ratio = low[1] === 0 ? (high[1] === 0 ? 1 : Number.POSITIVE_INFINITY) : high[1] / low[1];
      if (widest === undefined || ratio > widest.ratio) widest = { label, ratio, lowFile: low[0], highFile: high[0] };
    }
    if (widest === undefined) continue;
    out.push({ name, files: [...fileSet].sort((a, b) => a - b), widest, tolerance, placeable });
  }
  return out;
}
