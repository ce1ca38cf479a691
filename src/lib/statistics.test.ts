import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lowerMedian, median, percentile, spread } from './statistics.ts';

// 1 to 10, out of order: the functions sort a copy and leave their argument alone.
const TEN = [7, 2, 10, 1, 9, 4, 3, 8, 6, 5];

test('percentile: the nearest rank, ceil(p/100 x n), of the sorted values', () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(percentile([4], 0), 4);
  assert.equal(percentile(TEN, 10), 1); // rank 1
  assert.equal(percentile(TEN, 11), 2); // rank ceil(1.1) = 2
  assert.equal(percentile(TEN, 50), 5); // rank 5
  assert.equal(percentile(TEN, 99), 10); // rank ceil(9.9) = 10
  assert.equal(percentile(TEN, 100), 10);
  assert.deepEqual(TEN, [7, 2, 10, 1, 9, 4, 3, 8, 6, 5]);
});

test('median: the middle value, the mean of the two middles for an even count', () => {
  assert.ok(Number.isNaN(median([])));
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median(TEN), 5.5);
});

test('lowerMedian: the lower of the two middles, always one of the values', () => {
  assert.equal(lowerMedian([]), 0);
  assert.equal(lowerMedian([3, 1, 2]), 2);
  assert.equal(lowerMedian(TEN), 5);
  assert.equal(lowerMedian([900, 100]), 100);
});

test('spread: the 10th, 50th and 90th nearest-rank percentiles and the count', () => {
  assert.equal(spread([]), undefined);
  assert.deepEqual(spread([5]), { n: 1, p10: 5, median: 5, p90: 5 });
  assert.deepEqual(spread(TEN), { n: 10, p10: 1, median: 5, p90: 9 });
  // 20 values 1..20: ranks 2, 10 and 18.
  assert.deepEqual(spread(Array.from({ length: 20 }, (_, i) => 20 - i)), { n: 20, p10: 2, median: 10, p90: 18 });
});
