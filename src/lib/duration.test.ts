import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration } from './duration.ts';

test('formatDuration picks the unit that keeps the figure readable', () => {
  const cases: Array<[number, string]> = [
    [0, '0 ns'],
    [350, '350 ns'],
    [2_500, '2.5 µs'],
    [2_500_000, '2.5 ms'],
    [25_000_000, '25 ms'],
    [12_340_000_000, '12 s'],
    [187e9, '3 min 07 s'],
    [(5 * 3600 + 2 * 60) * 1e9, '5 h 02 min'],
    [86_400e9, '1 day 0 h'],
    [2 ** 53, '104 days 5 h'],
    [-2_500_000, '-2.5 ms'],
  ];
  for (const [ns, text] of cases) assert.equal(formatDuration(ns), text, String(ns));
});
