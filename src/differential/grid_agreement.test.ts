import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type GridFile, gridAgreement, gridFileSchema } from './grid_agreement.ts';

/** A cell of a grid file with pages_scanned (or, for the advisor, pages_to_scan) at two records. */
function cell(advisor: boolean, kernel: [number, number], ok: [boolean, boolean] = [true, true]) {
  const path = advisor ? 'ksm/pages_to_scan' : 'ksm/pages_scanned';
  return {
    cell: { advisor },
    rows: [
      { label: '2 s', path, kernel: kernel[0], model: 0, ok: ok[0] },
      { label: '5 s', path, kernel: kernel[1], model: 0, ok: ok[1] },
      // Not judged by tolerance: a full_scans row far apart must not count.
      { label: '5 s', path: 'ksm/full_scans', kernel: 1, model: 9, ok: false },
    ],
  };
}

test('the later kernel is judged against the earlier as the model is: 5 % on pages_scanned, 10 % on the advisor', () => {
  const earlier: GridFile = { a: cell(false, [1000, 2000]), b: cell(false, [1000, 2000]), adv: cell(true, [100, 100]) };
  const later: GridFile = {
    a: cell(false, [1050, 2000]), // +5.0 %: within
    b: cell(false, [1000, 1899]), // -5.05 %: beyond
    adv: cell(true, [110, 91]), // +10 %, -9 %: within the advisor's 10 %
  };
  const got = gridAgreement(earlier, later);
  assert.deepEqual(
    got.map((c) => [c.name, c.values, c.kernelWithin]),
    [
      ['a', 2, true],
      ['b', 2, false],
      ['adv', 2, true],
    ],
  );
  assert.equal(got[0]?.worst, 0.05);
  assert.equal(got[1]?.worst, -101 / 2000);
  assert.equal(got[2]?.worst, 0.1);
});

test("each file's verdict on its own model is kept, and cells or records only one file has are left out", () => {
  const earlier: GridFile = { a: cell(false, [1000, 2000], [true, false]), only: cell(false, [1, 1]) };
  const later: GridFile = { a: { ...cell(false, [1000, 2000]), rows: cell(false, [1000, 2000]).rows.slice(1) } };
  const got = gridAgreement(earlier, later);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.values, 1);
  assert.deepEqual(got[0]?.modelWithin, [false, true]);
});

test('a kernel 0 against a later non-zero value is beyond any tolerance', () => {
  const got = gridAgreement({ a: cell(false, [0, 10]) }, { a: cell(false, [5, 10]) });
  assert.equal(got[0]?.kernelWithin, false);
  assert.equal(got[0]?.worst, Number.POSITIVE_INFINITY);
});

test('a file that is not a grid file is refused, naming the field', () => {
  const r = gridFileSchema.safeParse({ a: { cell: { advisor: 'no' }, rows: [] } });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /advisor/);
});
