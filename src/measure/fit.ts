/**
 * The fit of `samepage bench --calibrate`: ksmd's measured CPU time per full scan against
 * the events the model counted in that scan, solved for the cost model's constants.
 *
 * For scan i with event counts a_ij (visits, skips, checksums, ...), b_i measured kernel
 * ns and w_i wake-up ns (batches x the model's fixed wake-up cost), it minimises
 *
 *   sum_i ((sum_j a_ij x_j + w_i - b_i) / s_i)^2  +  lambda^2 sum_j ((x_j - p_j) / p_j)^2
 *
 * over x >= 0, where s_i = max(b_i, floorNs) turns residuals into relative errors (a long
 * scan counts no more than a short one; the floor keeps near-empty scans, whose 10 ms tick
 * resolution is all error, from dominating) and p is the prior (the current constants).
 * The prior term only decides directions the workloads cannot tell apart (a memcmp that
 * finds equal pages always comes with a merge, say); with lambda small it moves an
 * identifiable constant by well under the measurement error. A constant whose prior is 0
 * (a file from before it existed) has no prior term: the data alone decide it, and a
 * column no row uses stays 0. Solved as one non-negative
 * least-squares problem (Lawson and Hanson's active-set method) on the stacked rows.
 */
import { type FirstVisitCost, NO_FIRST_VISIT, NO_RELOAD, type PostSleepCost, postSleepNs } from '../ksm/cost.ts';

export interface FitRow {
  /** Events of each kind, in the order of the unknowns. */
  readonly a: readonly number[];
  /** Measured ns. */
  readonly b: number;
  /** Known ns to subtract (the fixed per-batch cost). */
  readonly fixed: number;
}

export interface FitOptions {
  readonly prior: readonly number[];
  readonly lambda: number;
  readonly floorNs: number;
}

export interface FitResult {
  readonly x: number[];
  /** Relative residual of each row, (predicted - measured) / measured. */
  readonly residuals: number[];
  /** The root mean square of the weighted residuals (pred - b) / max(b, floorNs), prior left out. */
  readonly rms: number;
}

export function fitCosts(rows: readonly FitRow[], opts: FitOptions): FitResult {
  const n = opts.prior.length;
  const A: number[][] = [];
  const y: number[] = [];
  for (const r of rows) {
    const s = Math.max(r.b, opts.floorNs);
    A.push(r.a.map((v) => v / s));
    y.push((r.b - r.fixed) / s);
  }
  for (let j = 0; j < n; j++) {
    const p = opts.prior[j]!;
    if (!(p > 0)) continue;
    const row = new Array<number>(n).fill(0);
    row[j] = opts.lambda / p;
    A.push(row);
    y.push(opts.lambda);
  }
  const x = nnls(A, y);
  let objective = 0;
  const residuals = rows.map((r) => {
    let pred = r.fixed;
    for (let j = 0; j < n; j++) pred += r.a[j]! * x[j]!;
    objective += ((pred - r.b) / Math.max(r.b, opts.floorNs)) ** 2;
    return r.b === 0 ? 0 : (pred - r.b) / r.b;
  });
  return { x, residuals, rms: Math.sqrt(objective / Math.max(1, rows.length)) };
}

/** The fit at each depth tried, and the one whose weighted residuals are smallest. */
export interface DepthFit {
  readonly fits: readonly { readonly depth: number; readonly fit: FitResult }[];
  readonly best: { readonly depth: number; readonly fit: FitResult };
}

/**
 * Fits for a structural parameter that is not a cost: a depth (cost.ts deepFrom) decides
 * which events fall in which column, so `rowsAt(depth)` gives the rows counted at that
 * depth, each is fitted, and the smallest residual wins (the first depth on a tie).
 */
export function fitOverDepths(
  depths: readonly number[],
  rowsAt: (depth: number) => readonly FitRow[],
  opts: FitOptions,
): DepthFit {
  const fits = depths.map((depth) => ({ depth, fit: fitCosts(rowsAt(depth), opts) }));
  if (fits.length === 0) throw new Error('fitOverDepths: no depth to try');
  const best = fits.reduce((a, b) => (b.fit.rms < a.fit.rms ? b : a));
  return { fits, best };
}

/** One batch size after one sleep, as the post-sleep fit takes it. */
export interface PostSleepPoint {
  readonly pages: number;
  readonly sleptNs: number;
  /** Measured CPU of the batch beyond the warm batch's, ns. */
  readonly extraNs: number;
  /** The warm batch's CPU, ns: a point's error is weighed against the whole batch's CPU. */
  readonly warmNs: number;
}

/** The reload after a sleep (cost.ts postSleepNs) fitted to measured points. */
export interface PostSleepFit {
  readonly cost: PostSleepCost;
  /** Root mean square of (fitted - measured) over the points, ns. */
  readonly rmsNs: number;
  /** Root mean square of (fitted - measured) / (the batch's warm CPU + measured extra). */
  readonly relRms: number;
}

function logGrid(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to * 1.000001; v *= step) out.push(v);
  return out;
}

/**
 * The best fixed part for given time constants, cap and per-page reload, and the weighted
 * residual sum of squares with it: the form is linear in postSleepBatchNs, so it is solved,
 * not searched (clipped at 0).
 */
function bestFixed(
  points: readonly PostSleepPoint[],
  weights: readonly number[],
  fixedShare: readonly number[],
  pageShare: readonly number[],
  pageNs: number,
  maxNs: number,
): { batchNs: number; rss: number } {
  let ff = 0;
  let fr = 0;
  let rr = 0;
  points.forEach((p, i) => {
    const w2 = weights[i]! ** 2;
    const r = Math.min(p.pages * pageNs, maxNs) * pageShare[i]! - p.extraNs;
    ff += w2 * fixedShare[i]! ** 2;
    fr += w2 * fixedShare[i]! * r;
    rr += w2 * r * r;
  });
  const batchNs = ff > 0 ? Math.max(0, -fr / ff) : 0;
  return { batchNs, rss: rr + 2 * batchNs * fr + batchNs * batchNs * ff };
}

/**
 * Fits postSleepNs's five parameters to measured points, each point's error weighed against
 * its whole batch's CPU (warm + extra): the cadence turns a batch's CPU into ticks, so what
 * matters is how far the batch's CPU is off, and a fit in plain ns gave the 100-page
 * batches, whose reload is half their CPU, a tenth of it (docs/cost-model-journal.md, "The reload
 * of a small batch"). The four non-linear parameters on logarithmic grids (the caches'
 * time constants 1 to 500 ms and 0.5 to 100 ms, 20 ns to 20 µs a page, 20 µs to 20 ms at
 * most; steps of 10 to 20 %), then a finer grid around the best; the fixed part is solved
 * for each (bestFixed).
 */
export function fitPostSleep(points: readonly PostSleepPoint[]): PostSleepFit {
  const weights = points.map((p) => 1 / Math.max(1, p.warmNs + p.extraNs));
  const shares = (tau: number): number[] => points.map((p) => -Math.expm1(-p.sleptNs / tau));
  let best = { rss: Infinity, cost: NO_RELOAD };
  const search = (taus: number[], batchTaus: number[], pageNss: number[], maxNss: number[]): void => {
    for (const postSleepTauNs of taus) {
      const pageShare = shares(postSleepTauNs);
      for (const postSleepBatchTauNs of batchTaus) {
        const fixedShare = shares(postSleepBatchTauNs);
        for (const postSleepPageNs of pageNss)
          for (const postSleepMaxNs of maxNss) {
            const { batchNs, rss } = bestFixed(points, weights, fixedShare, pageShare, postSleepPageNs, postSleepMaxNs);
            if (rss < best.rss)
              best = {
                rss,
                cost: {
                  postSleepPageNs,
                  postSleepMaxNs,
                  postSleepTauNs,
                  postSleepBatchNs: batchNs,
                  postSleepBatchTauNs,
                },
              };
          }
      }
    }
  };
  search(logGrid(1e6, 5e8, 1.15), logGrid(5e5, 1e8, 1.2), logGrid(20, 2e4, 1.1), logGrid(2e4, 2e7, 1.1));
  const around = (v: number, step: number): number[] => [-4, -3, -2, -1, 0, 1, 2, 3, 4].map((k) => v * step ** (k / 4));
  const c = best.cost;
  search(
    around(c.postSleepTauNs, 1.15),
    around(c.postSleepBatchTauNs, 1.2),
    around(c.postSleepPageNs, 1.1),
    around(c.postSleepMaxNs, 1.1),
  );
  const errors = points.map((p) => postSleepNs(best.cost, p.sleptNs, p.pages) - p.extraNs);
  const n = Math.max(1, points.length);
  return {
    cost: best.cost,
    rmsNs: Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / n),
    relRms: Math.sqrt(errors.reduce((s, e, i) => s + (e * weights[i]!) ** 2, 0) / n),
  };
}

/** A pass of first visits (src/measure/first_visit.ts): what the model's events leave of its CPU. */
export interface FirstVisitPoint {
  /** Pages visited for the first time in the pass. */
  readonly firstVisits: number;
  readonly batches: number;
  /** Mean sleep before each batch, ns. */
  readonly sleptNs: number;
  /** The pass's kernel CPU less what the model charges it without first-visit charges, ns. */
  readonly residualNs: number;
  /** The pass's kernel CPU, ns: a point's error is weighed against it. */
  readonly passNs: number;
}

/** The first-visit charges (cost.ts firstVisitNs, postSleepNoTreeNs) fitted to measured passes. */
export interface FirstVisitFit {
  readonly cost: FirstVisitCost;
  /** Root mean square of (fitted - measured) / the pass's CPU. */
  readonly relRms: number;
}

/**
 * Fits firstVisitNs x firstVisits + batches x postSleepNoTreeNs x (1 - exp(-slept /
 * postSleepNoTreeTauNs)) to the points' residuals, each error relative to its pass's CPU:
 * linear in the two costs, solved by non-negative least squares for each time constant of
 * a logarithmic grid (1 ms to 2 s, steps of 10 %), the best kept. Passes of different batch
 * sizes tell the per-page charge from the per-batch one, and their sleeps the time constant.
 */
export function fitFirstVisits(points: readonly FirstVisitPoint[]): FirstVisitFit {
  let best = { rss: Infinity, cost: NO_FIRST_VISIT };
  const y = points.map((p) => p.residualNs / p.passNs);
  for (const tau of logGrid(1e6, 2e9, 1.1)) {
    const A = points.map((p) => [p.firstVisits / p.passNs, (p.batches * -Math.expm1(-p.sleptNs / tau)) / p.passNs]);
    const [firstVisitNs, batchNs] = nnls(A, y) as [number, number];
    const rss = sum(A.map((a, i) => (a[0]! * firstVisitNs + a[1]! * batchNs - y[i]!) ** 2));
    if (rss < best.rss)
      best = { rss, cost: { firstVisitNs, postSleepNoTreeNs: batchNs, postSleepNoTreeTauNs: batchNs > 0 ? tau : 1 } };
  }
  return { cost: best.cost, relRms: Math.sqrt(best.rss / Math.max(1, points.length)) };
}

/** min ||A x - y|| subject to x >= 0 (Lawson and Hanson, 1974). */
export function nnls(A: readonly (readonly number[])[], y: readonly number[]): number[] {
  const m = A.length;
  const n = A[0]?.length ?? 0;
  const x = new Array<number>(n).fill(0);
  const passive = new Array<boolean>(n).fill(false);
  const gradient = (): number[] => {
    const w = new Array<number>(n).fill(0);
    for (let i = 0; i < m; i++) {
      let r = y[i]!;
      for (let j = 0; j < n; j++) r -= A[i]![j]! * x[j]!;
      for (let j = 0; j < n; j++) w[j]! += A[i]![j]! * r;
    }
    return w;
  };
  const tol = 1e-12;
  for (let outer = 0; outer < 10 * n + 10; outer++) {
    const w = gradient();
    let best = -1;
    for (let j = 0; j < n; j++) if (!passive[j] && w[j]! > tol && (best < 0 || w[j]! > w[best]!)) best = j;
    if (best < 0) break;
    passive[best] = true;
    for (let inner = 0; inner < 10 * n + 10; inner++) {
      const z = solvePassive(A, y, passive);
      let alpha = 1;
      let blocked = false;
      for (let j = 0; j < n; j++) {
        if (passive[j] && z[j]! <= 0) {
          blocked = true;
          const step = x[j]! / (x[j]! - z[j]!);
          if (step < alpha) alpha = step;
        }
      }
      if (!blocked) {
        for (let j = 0; j < n; j++) x[j] = z[j]!;
        break;
      }
      for (let j = 0; j < n; j++) {
        x[j] = x[j]! + alpha * (z[j]! - x[j]!);
        if (passive[j] && x[j]! <= tol) {
          passive[j] = false;
          x[j] = 0;
        }
      }
    }
  }
  return x;
}

/** Unconstrained least squares on the passive columns (normal equations, Gaussian elimination). */
function solvePassive(A: readonly (readonly number[])[], y: readonly number[], passive: readonly boolean[]): number[] {
  const cols: number[] = [];
  passive.forEach((p, j) => {
    if (p) cols.push(j);
  });
  const k = cols.length;
  const M: number[][] = Array.from({ length: k }, () => new Array<number>(k + 1).fill(0));
  for (let i = 0; i < A.length; i++) {
    const row = A[i]!;
    for (let p = 0; p < k; p++) {
      const ap = row[cols[p]!]!;
      if (ap === 0) continue;
      for (let q = 0; q < k; q++) M[p]![q]! += ap * row[cols[q]!]!;
      M[p]![k]! += ap * y[i]!;
    }
  }
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    const d = M[c]![c]!;
    if (d === 0) continue;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / d;
      if (f === 0) continue;
      for (let q = c; q <= k; q++) M[r]![q]! -= f * M[c]![q]!;
    }
  }
  const z = new Array<number>(passive.length).fill(0);
  cols.forEach((j, p) => {
    const d = M[p]![p]!;
    z[j] = d === 0 ? 0 : M[p]![k]! / d;
  });
  return z;
}

/** The sum of `xs`. */
export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** `x` rounded to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
