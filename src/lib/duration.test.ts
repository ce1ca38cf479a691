import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatMs, timeUnit } from './duration.ts';

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

test('formatMs rounds a moment of a run to what a reader can use, minutes and hours included', () => {
  assert.deepEqual(
    [0, 0.004, 1.23456, 20.1248, 999.96, 1200, 4225.3622, 59_994, 99_994, 213_739.224791, 7_500_000].map(formatMs),
    [
      '0 ms',
      '0 ms',
      '1.23 ms',
      '20.1 ms',
      '1000 ms',
      '1.20 s',
      '4.23 s',
      '59.99 s',
      '1 min 39 s',
      '3 min 33 s',
      '2 h 05 min',
    ],
  );
});

test('timeUnit picks ms, s, min, h or days by the largest time', () => {
  const units = [0, 999, 1000, 179_999, 180_000, 213_739, 3 * 3_600_000 - 1, 3 * 3_600_000, 3 * 86_400_000].map(
    (ms) => timeUnit(ms).unit,
  );
  assert.deepEqual(units, ['ms', 'ms', 's', 's', 'min', 'min', 'min', 'h', 'days']);
  assert.equal(timeUnit(200_000).ms, 60_000);
});
