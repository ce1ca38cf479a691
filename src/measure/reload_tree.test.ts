/**
 * The fit of the reload's growth with the trees (reload_tree.ts): rows made from a known
 * exponent through the model's own pass share must give it back; what says nothing of the
 * trees' size must give no growth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAT_RELOAD, postSleepNs, type ReloadTreeCost, type SearchPartCost } from '../ksm/cost.ts';
import type { PostSleepRow } from './post_sleep.ts';
import { fitReload, fitReloadTree, fittedReloadNs, passTreeShare, type ReloadSizePoint } from './reload_tree.ts';

test('passTreeShare: the k-th batch of a pass meets k batches of nodes', () => {
  const tree: ReloadTreeCost = { postSleepTreeExp: 1, postSleepTreeNodes: 4000 };
  // Batches of 1,000 over 4,000 pages meet 1,000 to 4,000 nodes: shares 1/4 to 1.
  assert.equal(passTreeShare(tree, 4000, 1000), (0.25 + 0.5 + 0.75 + 1) / 4);
  // Past postSleepTreeNodes every batch pays all of it.
  assert.equal(passTreeShare(tree, 8000, 4000), 1);
  assert.equal(passTreeShare(FLAT_RELOAD, 2000, 100), 1);
});

/** Rows of every region and batch in `plan`, each extra `base(pages, sleep)` x its pass's share. */
function rows(tree: ReloadTreeCost, noise: (i: number) => number = () => 1): ReloadSizePoint[] {
  const out: ReloadSizePoint[] = [];
  const base = (pages: number, sleepMs: number): number => 100_000 * Math.sqrt(pages) * (sleepMs > 5 ? 1.5 : 1);
  for (const regionPages of [2000, 5000, 10_000, 20_000])
    for (const [pages, sleepMs] of [
      [100, 5],
      [100, 20],
      [1000, 20],
    ] as const)
      out.push({
        regionPages,
        pages,
        sleepMs,
        extraNs: base(pages, sleepMs) * passTreeShare(tree, regionPages, pages) * noise(out.length),
      });
  return out;
}

test('fitReloadTree gives back the exponent the rows were made with', () => {
  for (const exp of [0, 0.3, 0.5, 0.8]) {
    const tree = { postSleepTreeExp: exp, postSleepTreeNodes: 20_000 };
    const fit = fitReloadTree(rows(tree), 20_000);
    assert.equal(fit.cost.postSleepTreeExp, exp);
    assert.equal(fit.cost.postSleepTreeNodes, 20_000);
    assert.ok(fit.rmsLog < 1e-9);
    assert.equal(fit.points, 12);
  }
  // With a tenth of noise either way on alternate rows, still within a few hundredths.
  const noisy = fitReloadTree(
    rows({ postSleepTreeExp: 0.5, postSleepTreeNodes: 20_000 }, (i) => (i % 2 === 0 ? 1.1 : 0.9)),
    20_000,
  );
  assert.ok(Math.abs(noisy.cost.postSleepTreeExp - 0.5) <= 0.1, `fitted ${noisy.cost.postSleepTreeExp}`);
});

test('fitReloadTree: rows of one region, or with no extra, say nothing of the trees', () => {
  const one = rows({ postSleepTreeExp: 0.5, postSleepTreeNodes: 20_000 }).filter((r) => r.regionPages === 20_000);
  assert.deepEqual(fitReloadTree(one, 20_000), { cost: FLAT_RELOAD, rmsLog: 0, points: 0 });
  // A negative extra (noise on a small reload) is left out, not taken to a logarithm.
  const withNegative = [
    ...rows({ postSleepTreeExp: 0.5, postSleepTreeNodes: 20_000 }),
    { regionPages: 2000, pages: 100, sleepMs: 5, extraNs: -40_000 },
  ];
  const fit = fitReloadTree(withNegative, 20_000);
  assert.equal(fit.cost.postSleepTreeExp, 0.5);
  assert.equal(fit.points, 12);
});

/** A reload with a known base and growth with the trees. */
const TRUTH = {
  postSleepPageNs: 900,
  postSleepMaxNs: 900_000,
  postSleepTauNs: 900_000,
  postSleepBatchNs: 1_000_000,
  postSleepBatchTauNs: 40_000_000,
  postSleepTreeExp: 0.4,
  postSleepTreeNodes: 20_000,
};

/** Rows measured on a host whose reload is `truth`: one batch size after one sleep on a region. */
const rowOf =
  (truth: typeof TRUTH & Partial<SearchPartCost>) =>
  (regionPages: number, pages: number, sleepMs: number, uniqueEvery = 1): PostSleepRow => {
    const sleptNs = (sleepMs + 3 + (uniqueEvery - 1) / 10) * 1e6;
    return {
      region_pages: regionPages,
      ...(uniqueEvery > 1 ? { unique_every: uniqueEvery } : {}),
      pages_to_scan: pages,
      sleep_millisecs: sleepMs,
      passes: 1,
      slept_ns: sleptNs,
      pass_cpu_ns: 0,
      warm_pass_cpu_ns: regionPages * 2000,
      extra_ns: postSleepNs(truth, sleptNs, pages) * passTreeShare(truth, regionPages, pages, uniqueEvery),
      queued_ms: 0,
    };
  };

test('fitReload: the base is what a batch pays on trees of REGION_PAGES nodes, and fitted_ns gives each row back', () => {
  // The reload made with a known base and exponent, measured on the calibration's plan.
  const truth = { ...TRUTH, postSleepTreeExp: 0.5 };
  const row = rowOf(truth);
  const main = [100, 1000, 5000].flatMap((pages) => [1, 5, 20, 50, 200].map((s) => row(20_000, pages, s)));
  const sizes = [2000, 5000, 10_000].flatMap((region) => [
    row(region, 100, 5),
    row(region, 100, 20),
    row(region, 1000, 20),
  ]);
  const fit = fitReload(main, sizes);
  assert.equal(fit.cost.postSleepTreeExp, 0.5);
  // No region of few unique pages: all of the reload at the first search.
  assert.deepEqual([fit.cost.postSleepSearchPart, fit.search.points], [0, 0]);
  // The grid finds the base within its steps; every row's fitted extra within 5 %.
  for (const r of [...main, ...sizes]) {
    const fitted = fittedReloadNs(fit.cost, r);
    assert.ok(
      Math.abs(fitted - r.extra_ns) <= 0.05 * r.extra_ns,
      `${r.region_pages}/${r.pages_to_scan}/${r.sleep_millisecs}: ${fitted} against ${r.extra_ns}`,
    );
  }
});

test('passTreeShare on a region of few unique pages: fewer nodes met, and the share its searches pay', () => {
  const cost = { postSleepTreeExp: 1, postSleepTreeNodes: 1000, postSleepSearchPart: 0.5 };
  // 400 pages in batches of 100, one in 10 unique: batch k searches 10 times, on the one
  // stable node, the unstable tree's 10 x (k - 1) nodes and the 100 pages of its budget.
  const met = [101, 111, 121, 131].map((n) => n / 1000);
  const mean = met.reduce((a, b) => a + b, 0) / met.length;
  assert.ok(Math.abs(passTreeShare(cost, 400, 100, 10) - mean * (0.5 + 0.5 * 0.1)) < 1e-12);
  // A random region searches for every page: the part per search changes nothing.
  assert.equal(passTreeShare(cost, 400, 100), passTreeShare({ ...cost, postSleepSearchPart: 0 }, 400, 100));
});

test('fitReload recovers the part per search from a region of few unique pages against the random one of its unique pages', () => {
  const row = rowOf({ ...TRUTH, postSleepSearchPart: 0.6 });
  const main = [100, 1000, 5000].flatMap((pages) => [1, 5, 20, 50, 200].map((s) => row(20_000, pages, s)));
  const plan = [
    [100, 5],
    [100, 20],
    [1000, 20],
  ] as const;
  const sizes = [
    ...[2000, 5000, 10_000].flatMap((region) => plan.map(([pages, s]) => row(region, pages, s))),
    ...plan.map(([pages, s]) => row(20_000, pages, s, 10)),
  ];
  const fit = fitReload(main, sizes);
  // The few-unique rows do not move the exponent; p comes back, from all three pairs.
  assert.equal(fit.cost.postSleepTreeExp, 0.4);
  assert.deepEqual([fit.cost.postSleepSearchPart, fit.search.points], [0.6, 3]);
  for (const r of sizes) {
    const fitted = fittedReloadNs(fit.cost, r);
    assert.ok(Math.abs(fitted - r.extra_ns) <= 0.05 * r.extra_ns, `${JSON.stringify(r)}: ${fitted}`);
  }
});
