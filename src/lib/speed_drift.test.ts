import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autocorrelation, foresight, pearson, probeTracking, summarizeDrift, windowMeans } from './speed_drift.ts';

test('autocorrelation: a straight line repeats itself, an alternation reverses', () => {
  assert.equal(autocorrelation([1, 2, 3, 4, 5, 6], 1), 1);
  assert.equal(autocorrelation([1, -1, 1, -1, 1, -1], 1), -1);
  assert.equal(autocorrelation([1, -1, 1, -1, 1, -1], 2), 1);
  // Too few pairs, or a constant: no figure.
  assert.ok(Number.isNaN(autocorrelation([1, 2, 3], 1)));
  assert.ok(Number.isNaN(autocorrelation([4, 4, 4, 4, 4], 1)));
});

test('autocorrelation: worked by hand', () => {
  // Pairs (1,3), (3,2), (2,5): means 2 and 10/3; deviations (-1, 1, 0) and (-1/3, -4/3, 5/3);
  // sum of products -1; sums of squares 2 and 42/9.
  const r = autocorrelation([1, 3, 2, 5], 1);
  assert.ok(Math.abs(r - -1 / Math.sqrt(2 * (42 / 9))) < 1e-12);
});

test('windowMeans: consecutive windows, the short tail dropped', () => {
  assert.deepEqual(windowMeans([1, 3, 5, 7, 9], 2), [2, 6]);
  assert.deepEqual(windowMeans([1, 3], 5), []);
});

test('summarizeDrift: spread, window deviations from the median against the limit', () => {
  // Median 100 (nearest rank of the 10 samples: the 6th smallest); windows of 5: means 100 and 108.
  const xs = [100, 100, 100, 100, 100, 100, 110, 110, 110, 110];
  const s = summarizeDrift(xs, [1, 20], [1, 5, 20], 0.05);
  assert.deepEqual(s.spread, { n: 10, p10: 100, median: 100, p90: 110 });
  assert.deepEqual(
    s.autocorrelation.map((a) => a.lag),
    [1],
  );
  const [one, five] = s.windows;
  assert.equal(s.windows.length, 2, 'a 20-sample window does not fit in 10 samples');
  assert.equal(one?.windows, 10);
  assert.ok(Math.abs((one?.maxDeviation ?? 0) - 0.1) < 1e-12);
  assert.equal(one?.beyondLimit, 0.4);
  assert.equal(five?.windows, 2);
  assert.ok(Math.abs((five?.maxDeviation ?? 0) - 0.08) < 1e-12);
  assert.equal(five?.beyondLimit, 0.5);
  assert.deepEqual(s.foresight, [], 'no window has a minute before it');
  assert.throws(() => summarizeDrift([]), /no samples/);
});

test('foresight: the mean of the reference before each window against the window', () => {
  // Reference 2, windows of 1: t=2 forecasts 3 from mean(1,1)=1 (+200 %), t=3 forecasts 1
  // from mean(1,3)=2 (-50 %), t=4 forecasts 1 from mean(3,1)=2 (-50 %).
  const f = foresight([1, 1, 3, 1, 1], 2, 1, 0.05);
  assert.deepEqual(f, { reference: 2, seconds: 1, windows: 3, medianDeviation: 0.5, beyondLimit: 1 });
  const steady = foresight([5, 5, 5, 5, 5, 5], 3, 3, 0.05);
  assert.deepEqual(steady, { reference: 3, seconds: 3, windows: 1, medianDeviation: 0, beyondLimit: 0 });
  assert.equal(foresight([1, 2], 3, 1, 0.05).windows, 0);
});

test('pearson: two series against each other, NaN without variance or pairs', () => {
  assert.equal(pearson([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(pearson([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Number.isNaN(pearson([1, 2], [1, 2])));
  assert.ok(Number.isNaN(pearson([1, 2, 3], [5, 5, 5])));
});

test('probeTracking: a probe that moves with ksmd takes the deviations away, a flat one leaves them', () => {
  // ksmd's windows of 2: 100, 110, 90 against its median 100 (the 3rd of 6 sorted samples).
  const ksmd = [100, 100, 110, 110, 90, 90];
  const [moving] = probeTracking(ksmd, [10, 10, 11, 11, 9, 9], [2], 0.05);
  assert.equal(moving?.windows, 3);
  assert.ok(Math.abs((moving?.r ?? 0) - 1) < 1e-12);
  assert.ok(Math.abs((moving?.fixed.medianDeviation ?? 0) - 0.1) < 1e-12);
  assert.equal(moving?.fixed.beyondLimit, 2 / 3);
  assert.deepEqual(moving?.scaled, { medianDeviation: 0, beyondLimit: 0 });
  const [flat] = probeTracking(ksmd, [7, 7, 7, 7, 7, 7], [2], 0.05);
  assert.ok(Number.isNaN(flat?.r));
  assert.deepEqual(flat?.scaled, flat?.fixed);
  assert.throws(() => probeTracking(ksmd, [1, 2], [2]), /differ in length/);
  assert.deepEqual(probeTracking(ksmd, ksmd, [20]), [], 'no window of 20 fits in 6 samples');
});
