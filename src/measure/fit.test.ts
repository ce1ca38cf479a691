import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitCosts, nnls } from './fit.ts';

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
