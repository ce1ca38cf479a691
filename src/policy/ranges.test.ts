import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coalescePages,
  inRanges,
  intersectRanges,
  joinRanges,
  rangePages,
  subtractRanges,
  unionRanges,
} from './ranges.ts';

test('coalescePages joins pages at most `gap` apart and never across a bound', () => {
  const bounds = [
    [0, 100],
    [100, 200],
  ] as const;
  assert.deepEqual(coalescePages([1, 2, 5, 20], 1, bounds), [
    [1, 3],
    [5, 6],
    [20, 21],
  ]);
  // Pages 3 and 4 are the gap between 2 and 5: two pages.
  assert.deepEqual(coalescePages([1, 2, 5, 20], 2, bounds), [
    [1, 6],
    [20, 21],
  ]);
  // 99 and 100 are neighbours but lie in two regions (two mappings): two ranges.
  assert.deepEqual(coalescePages([98, 99, 100, 101], 8, bounds), [
    [98, 100],
    [100, 102],
  ]);
  assert.deepEqual(coalescePages([250], 8, bounds), [], 'a page outside every region is left out');
});

test('joinRanges bridges small gaps, then the smallest gaps until at most `most` ranges remain', () => {
  const bounds = [[0, 1000]] as const;
  const r = [
    [0, 1],
    [3, 4],
    [10, 11],
    [30, 31],
    [100, 101],
  ] as const;
  assert.deepEqual(joinRanges(r, 2, 10, bounds), [
    [0, 4],
    [10, 11],
    [30, 31],
    [100, 101],
  ]);
  assert.deepEqual(joinRanges(r, 0, 3, bounds), [
    [0, 11],
    [30, 31],
    [100, 101],
  ]);
  assert.deepEqual(joinRanges(r, 0, 1, bounds), [[0, 101]]);
  // Across two regions a join is impossible: the cap is not met rather than a mapping crossed.
  assert.deepEqual(
    joinRanges(
      [
        [0, 1],
        [600, 601],
      ],
      0,
      1,
      [
        [0, 500],
        [500, 1000],
      ],
    ),
    [
      [0, 1],
      [600, 601],
    ],
  );
});

test('union, subtract and intersect of range lists', () => {
  const a = [
    [0, 10],
    [20, 30],
  ] as const;
  const b = [
    [5, 25],
    [40, 41],
  ] as const;
  assert.deepEqual(unionRanges(a, b), [
    [0, 30],
    [40, 41],
  ]);
  assert.deepEqual(subtractRanges(a, b), [
    [0, 5],
    [25, 30],
  ]);
  assert.deepEqual(intersectRanges(a, b), [
    [5, 10],
    [20, 25],
  ]);
  assert.equal(rangePages(a), 20);
  assert.equal(inRanges(a, 9), true);
  assert.equal(inRanges(a, 10), false);
  assert.equal(inRanges(a, 20), true);
  assert.deepEqual(subtractRanges([[0, 10]], [[0, 10]]), []);
});
