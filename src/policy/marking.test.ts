import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_KSM, PAGE_PRESENT, type PlusHost } from './host.ts';
import { UNMARK_PIECE, UNMERGE_KSM_WEIGHT, unmarkPieces } from './marking.ts';
import type { Range } from './ranges.ts';

/** A host that knows only page states: pages in `ksm` are KSM pages, the rest present. */
function pagesHost(ksm: readonly Range[], gone = false): PlusHost {
  const isKsm = (vpn: number): boolean => ksm.some(([s, e]) => s <= vpn && vpn < e);
  const none = (): never => {
    throw new Error('not used');
  };
  return {
    processes: none,
    process: none,
    cgroup: none,
    mappings: none,
    read: none,
    ksmStat: none,
    mergeableRanges: none,
    fullScans: none,
    pages: (_pid, vpns, count, state) => {
      if (gone) return false;
      for (let i = 0; i < count; i++) state[i] = PAGE_PRESENT | (isKsm(vpns[i]!) ? PAGE_KSM : 0);
      return true;
    },
  };
}

const scratch = () => ({ vpns: new Float64Array(4096), state: new Uint8Array(4096), pfn: new Float64Array(4096) });
const cost = (piece: readonly Range[], ksm: readonly Range[]): number =>
  piece.reduce((n, [s, e]) => {
    let c = 0;
    for (let v = s; v < e; v++) c += ksm.some(([a, b]) => a <= v && v < b) ? UNMERGE_KSM_WEIGHT : 1;
    return n + c;
  }, 0);

test('unmarkPieces: a range of merged pages is cut into pieces of at most UNMARK_PIECE units, covering it exactly', () => {
  const perPiece = UNMARK_PIECE / UNMERGE_KSM_WEIGHT;
  const ksm: Range[] = [[1000, 1000 + 5 * perPiece + 7]];
  const pieces = unmarkPieces(pagesHost(ksm), 1, ksm, scratch());
  assert.equal(pieces.length, 6);
  assert.deepEqual(pieces.flat(), [
    ...Array.from({ length: 5 }, (_, i): Range => [1000 + i * perPiece, 1000 + (i + 1) * perPiece]),
    [1000 + 5 * perPiece, 1000 + 5 * perPiece + 7],
  ]);
  for (const p of pieces) assert.ok(cost(p, ksm) <= UNMARK_PIECE);
});

test('unmarkPieces: small ranges share a piece; unmerged pages cost one unit each', () => {
  const ranges: Range[] = [
    [0, 10],
    [20, 30],
    [100, 100 + UNMARK_PIECE],
  ];
  const pieces = unmarkPieces(pagesHost([[20, 30]]), 1, ranges, scratch());
  // 10 + 10 * weight units first, then the long unmerged range fills the rest of that piece.
  const first = UNMARK_PIECE - 10 - 10 * UNMERGE_KSM_WEIGHT;
  assert.deepEqual(pieces, [
    [
      [0, 10],
      [20, 30],
      [100, 100 + first],
    ],
    [[100 + first, 100 + UNMARK_PIECE]],
  ]);
});

test('unmarkPieces: a process whose pages cannot be looked up is cut as if every page were merged', () => {
  const perPiece = UNMARK_PIECE / UNMERGE_KSM_WEIGHT;
  const pieces = unmarkPieces(pagesHost([], true), 1, [[0, 2 * perPiece]], scratch());
  assert.deepEqual(pieces, [[[0, perPiece]], [[perPiece, 2 * perPiece]]]);
});
