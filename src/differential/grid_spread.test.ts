import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GridFile } from './grid_agreement.ts';
import { gridSpread, onePlaces } from './grid_spread.ts';

/** A cell with the judged value at two records, and a full_scans row that must not count. */
function cell(advisor: boolean, kernel: [number, number]) {
  const path = advisor ? 'ksm/pages_to_scan' : 'ksm/pages_scanned';
  return {
    cell: { advisor },
    rows: [
      { label: '2 s', path, kernel: kernel[0], model: 0, ok: true },
      { label: '5 s', path, kernel: kernel[1], model: 0, ok: true },
      { label: '5 s', path: 'ksm/full_scans', kernel: 1, model: 1000, ok: false },
    ],
  };
}

test('one value places medians up to (1 + tol) / (1 - tol) apart and no further', () => {
  // 1000 and 1105: 1050 is within 5 % of both (1000 + 50, 1105 - 55.25).
  assert.equal(onePlaces([1000, 1105], 0.05), true);
  // 1000 and 1106: the highest value within 5 % of 1000 is 1050, the lowest of 1106 is 1050.7.
  assert.equal(onePlaces([1000, 1106], 0.05), false);
  assert.equal(onePlaces([0, 0], 0.05), true);
  assert.equal(onePlaces([0, 1], 0.05), false);
  // The advisor's 10 %: 100 and 122 (110 is within 10 % of both), not 123.
  assert.equal(onePlaces([100, 122], 0.1), true);
  assert.equal(onePlaces([100, 123], 0.1), false);
});

test('a cell is placeable only where every record is, and its widest record names the files', () => {
  const files: GridFile[] = [
    { a: cell(false, [1000, 2000]), b: cell(false, [1000, 2000]), adv: cell(true, [100, 100]) },
    { a: cell(false, [1100, 2000]), b: cell(false, [1000, 2300]), adv: cell(true, [120, 82]) },
    { a: cell(false, [1050, 2100]), b: cell(false, [1000, 2000]) },
  ];
  const got = gridSpread(files);
  assert.deepEqual(
    got.map((c) => [c.name, c.files, c.placeable, c.tolerance]),
    [
      ['a', [0, 1, 2], true, 0.05],
      ['b', [0, 1, 2], false, 0.05],
      // 100 and 82 are placeable at 10 % (90 is within 10 % of 100 and of 82), 100 and 120 too (110).
      ['adv', [0, 1], true, 0.1],
    ],
  );
  assert.deepEqual(got[0]?.widest, { label: '2 s', ratio: 1.1, lowFile: 0, highFile: 1 });
  assert.deepEqual(got[1]?.widest, { label: '5 s', ratio: 1.15, lowFile: 0, highFile: 1 });
  assert.deepEqual(got[2]?.widest, { label: '5 s', ratio: 100 / 82, lowFile: 1, highFile: 0 });
  // 100 and 81 are not: 90 is beyond 81's 10 % (89.1).
  assert.equal(gridSpread([files[0]!, { adv: cell(true, [100, 81]) }])[0]?.placeable, false);
});

test('cells one file alone has are left out, and records one file alone has do not count', () => {
  const files: GridFile[] = [
    { only: cell(false, [1, 1]), a: cell(false, [1000, 2000]) },
    { a: { ...cell(false, [9999, 2000]), rows: cell(false, [9999, 2000]).rows.slice(1) } },
  ];
  const got = gridSpread(files);
  assert.deepEqual(
    got.map((c) => [c.name, c.placeable, c.widest.label, c.widest.ratio]),
    [['a', true, '5 s', 1]],
  );
});
