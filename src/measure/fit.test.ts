import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COST_KEYS,
  type CostModel,
  NO_FIRST_VISIT,
  NO_RELOAD,
  FLAT_RELOAD,
  postSleepNoTreeNs,
  postSleepNs,
  WAKEUP_NS,
} from '../ksm/cost.ts';
import { fitRow } from './calibrate.ts';
import { fitCosts, fitFirstVisits, fitOverDepths, fitPostSleep, nnls } from './fit.ts';
import { costOf, runModelCounted } from './model.ts';
import { calibrationWorkloads } from './workloads.ts';

test('nnls solves an exactly determined system with a non-negative solution', () => {
  const x = nnls(
    [
      [1, 0],
      [0, 2],
      [1, 1],
    ],
    [3, 8, 7],
  );
  assert.ok(Math.abs(x[0]! - 3) < 1e-9 && Math.abs(x[1]! - 4) < 1e-9);
});

test('nnls clamps a coefficient the data would make negative to 0', () => {
  const x = nnls(
    [
      [1, 1],
      [1, 1.0001],
    ],
    [1, 0.99],
  );
  assert.equal(x[1], 0);
  assert.ok(x[0]! > 0);
});

test('fitCosts recovers known constants from synthetic scans and keeps the prior where data is silent', () => {
  const truth = [5000, 800, 200];
  const rows = [
    [65536, 65536, 0],
    [65536, 65536, 1_000_000],
    [65536, 0, 0],
    [10, 0, 500_000],
  ].map((a) => ({ a, b: a.reduce((s, v, j) => s + v * truth[j]!, 2000), fixed: 2000 }));
  const fit = fitCosts(rows, { prior: [3000, 700, 250], lambda: 1e-3, floorNs: 1e6 });
  fit.x.forEach((v, j) => {
    assert.ok(Math.abs(v - truth[j]!) / truth[j]! < 0.01, `x${j}=${v}`);
  });
  // A column no row uses stays at its prior.
  const silent = fitCosts(
    rows.map((r) => ({ ...r, a: [...r.a, 0] })),
    { prior: [3000, 700, 250, 42], lambda: 1e-3, floorNs: 1e6 },
  );
  assert.ok(Math.abs(silent.x[3]! - 42) < 1e-6);
});

// The calibration's fit with the deep-step column and its depth (calibrate.ts): synthetic
// kernel figures made from the model's own event counts under known constants, at every
// depth tried, must give back the depth and the constants the data identify.
test('fitOverDepths finds deepFrom and recovers deepStepNs and the other constants from synthetic scans', () => {
  const truth: CostModel = {
    visitNs: 170,
    skipNs: 130,
    checksumNs: 950,
    memcmpNs: 90,
    memcmpEqualNs: 400,
    mergeNs: 200,
    freeNs: 70,
    deepStepNs: 350,
    deepFrom: 9,
    postSleepSearchPart: 0,
    ...NO_RELOAD,
    ...FLAT_RELOAD,
    ...NO_FIRST_VISIT,
  };
  const pages = 4096;
  const workloads = calibrationWorkloads(pages);
  const depths = [6, 7, 8, 9, 10, 11, 12];
  const counted = new Map(depths.map((d) => [d, workloads.flatMap((w) => runModelCounted(w, () => {}, d))] as const));
  // The kernel's ns of each scan: the truth's cost of the events at the true depth.
  const kernelNs = counted.get(truth.deepFrom)!.map((c) => costOf(c.counts, truth) + c.batches * WAKEUP_NS);
  const prior = COST_KEYS.map((k) => truth[k] * 1.3);
  const { best, fits } = fitOverDepths(
    depths,
    (d) => counted.get(d)!.map((c, i) => fitRow(c, kernelNs[i]!, c.batches * WAKEUP_NS)),
    {
      prior,
      lambda: 1e-4,
      floorNs: 1e6,
    },
  );
  assert.equal(best.depth, truth.deepFrom);
  assert.ok(best.fit.rms < 1e-3, `rms ${best.fit.rms}`);
  for (const f of fits) if (f.depth !== truth.deepFrom) assert.ok(f.fit.rms > 10 * best.fit.rms, `depth ${f.depth}`);
  // memcmpEqualNs and mergeNs come 2:1 in every scan; the rest must come back.
  for (const [j, k] of COST_KEYS.entries()) {
    if (k === 'memcmpEqualNs' || k === 'mergeNs') continue;
    assert.ok(Math.abs(best.fit.x[j]! - truth[k]) / truth[k] < 0.01, `${k}: ${best.fit.x[j]} against ${truth[k]}`);
  }
});

// The post-sleep fit (fit.ts fitPostSleep): points made from postSleepNs under known
// parameters, at the batch sizes and sleeps bench --calibrate measures, give them back
// within the grid's step.
test('fitPostSleep recovers the reload per page, its cap, its fixed part and the times the caches take to lose them', () => {
  const truth = {
    postSleepPageNs: 900,
    postSleepMaxNs: 2_500_000,
    postSleepTauNs: 75e6,
    postSleepBatchNs: 110_000,
    postSleepBatchTauNs: 5e6,
  };
  const points = [100, 1000, 5000].flatMap((pages) =>
    [6e6, 10e6, 22e6, 55e6, 205e6].map((sleptNs) => ({
      pages,
      sleptNs,
      extraNs: postSleepNs(truth, sleptNs, pages),
      warmNs: pages * 2000,
    })),
  );
  const { cost, rmsNs, relRms } = fitPostSleep(points);
  const near = (k: keyof typeof truth, within: number): void =>
    assert.ok(Math.abs(cost[k] / truth[k] - 1) < within, `${k} ${cost[k]} against ${truth[k]}`);
  near('postSleepPageNs', 0.06);
  near('postSleepMaxNs', 0.06);
  near('postSleepTauNs', 0.09);
  near('postSleepBatchNs', 0.06);
  near('postSleepBatchTauNs', 0.1);
  assert.ok(rmsNs < 0.01 * truth.postSleepMaxNs, `rms ${rmsNs}`);
  assert.ok(relRms < 0.005, `relative rms ${relRms}`);
});

test("fitPostSleep weighs errors against the whole batch: a small batch's reload is not traded for a large one's", () => {
  // Measured on this machine kind (docs/cost-model-journal.md, "The reload of a small batch"): 100
  // pages cost 92 us more after 7.8 ms and 132 us after 23.8 ms, with a warm batch of 196
  // us; 5,000 pages 1,174 us after 28.5 ms, warm 9.7 ms. The fit must keep each batch's CPU
  // within a few per cent, the small ones included.
  const rows: [number, number, number][] = [
    [100, 7.75e6, 92_289],
    [100, 11.76e6, 107_227],
    [100, 23.79e6, 131_923],
    [1000, 6.27e6, 160_894],
    [1000, 10.4e6, 231_262],
    [1000, 22.9e6, 335_886],
    [1000, 56.27e6, 557_233],
    [1000, 211.85e6, 1_010_302],
    [5000, 8.61e6, 657_908],
    [5000, 13.24e6, 389_412],
    [5000, 28.49e6, 1_174_037],
    [5000, 68.57e6, 1_744_674],
    [5000, 252.9e6, 2_363_722],
  ];
  const points = rows.map(([pages, sleptNs, extraNs]) => ({ pages, sleptNs, extraNs, warmNs: pages * 1960 }));
  const { cost } = fitPostSleep(points);
  for (const p of points) {
    const off = (postSleepNs(cost, p.sleptNs, p.pages) - p.extraNs) / (p.warmNs + p.extraNs);
    assert.ok(Math.abs(off) < 0.035, `${p.pages} pages after ${p.sleptNs / 1e6} ms: ${(off * 100).toFixed(1)} %`);
  }
});

test('fitFirstVisits recovers the per-visit charge, the no-tree reload and its time from passes of several batch sizes', () => {
  const truth = { firstVisitNs: 400, postSleepNoTreeNs: 110_000, postSleepNoTreeTauNs: 30e6 };
  const points = [100, 1000, 5000].flatMap((pages) =>
    [8e6, 12e6, 25e6, 57e6, 210e6].map((sleptNs) => {
      const batches = 10_000 / pages;
      const residualNs = 9984 * truth.firstVisitNs + batches * postSleepNoTreeNs(truth, sleptNs);
      return { firstVisits: 9984, batches, sleptNs, residualNs, passNs: 5e6 + residualNs };
    }),
  );
  const fit = fitFirstVisits(points);
  // The time constant is searched on a grid of 10 % steps: the nearest point to 30 ms.
  assert.ok(Math.abs(fit.cost.postSleepNoTreeTauNs / 30e6 - 1) < 0.05, String(fit.cost.postSleepNoTreeTauNs));
  assert.ok(Math.abs(fit.cost.firstVisitNs - 400) < 4, String(fit.cost.firstVisitNs));
  assert.ok(Math.abs(fit.cost.postSleepNoTreeNs / 110_000 - 1) < 0.05, String(fit.cost.postSleepNoTreeNs));
  assert.ok(fit.relRms < 0.01);
  // Passes that cost no more than their events: no charges, and the time constant left at 1.
  const flat = fitFirstVisits(points.map((p) => ({ ...p, residualNs: 0, passNs: 5e6 })));
  assert.deepEqual(flat.cost, { firstVisitNs: 0, postSleepNoTreeNs: 0, postSleepNoTreeTauNs: 1 });
});
