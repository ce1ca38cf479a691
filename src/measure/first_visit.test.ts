import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type CostModel, DEFAULT_COST, NO_RELOAD, WAKEUP_NS } from '../ksm/cost.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser } from '../mm/uaccess.ts';
import type { Pattern } from '../lib/patterns.ts';
import { createSystem, runFullScans, sysfsWrite } from '../system.ts';
import {
  ANCHOR_PAGES,
  FIRST_VISIT_PAGES,
  firstVisitPassNs,
  firstVisitPoint,
  firstVisitRow,
  type FirstVisitPass,
  passBatches,
  passOf,
  visitingBatches,
} from './first_visit.ts';

const at = (fullScans: number, scanned: number, runtimeMs: number, atMs: number) => ({
  fullScans,
  scanned,
  runtimeNs: runtimeMs * 1e6,
  waitNs: 0,
  atNs: atMs * 1e6,
});

test('passOf takes the pass between two boundaries one full scan apart that visited the process and the anchor', () => {
  const seen = [
    at(10, 1000, 50, 0), // madvise here
    at(11, 1000 + ANCHOR_PAGES, 50.1, 10), // the anchor's pass running at the madvise
    at(12, 1000 + ANCHOR_PAGES + FIRST_VISIT_PAGES, 60.1, 130), // the fresh process's pass
    at(13, 1000 + 2 * ANCHOR_PAGES + FIRST_VISIT_PAGES, 60.2, 140),
  ];
  assert.deepEqual(passOf(seen), { cpuNs: 10e6, wallNs: 120e6, queuedNs: 0 });
  // A boundary the poll missed: two full scans between readings are no pass.
  assert.equal(passOf([seen[1]!, seen[3]!]), undefined);
  assert.equal(passOf(seen.slice(0, 2)), undefined);
});

test("a row's sleep is its passes' wall time less their CPU, per batch, and its point the median pass against the model", () => {
  const pass = (cpuMs: number, wallMs: number): FirstVisitPass => ({
    cpuNs: cpuMs * 1e6,
    wallNs: wallMs * 1e6,
    queuedNs: 0,
  });
  // 1,000-page batches: 11 wake-ups a pass. (819 - 27) ms / 33 batches = 24 ms.
  const row = firstVisitRow(1000, 20, [pass(9, 273), pass(12, 276), pass(6, 270)]);
  assert.equal(row.batches, 11);
  assert.equal(row.slept_ns, 24e6);
  const point = firstVisitPoint(row, DEFAULT_COST);
  assert.equal(point.passNs, 9e6);
  assert.equal(point.residualNs, 9e6 - firstVisitPassNs(DEFAULT_COST, 11));
  assert.equal(point.firstVisits, FIRST_VISIT_PAGES - ANCHOR_PAGES);
  // The pass's eleventh wake-up visits no page (it only finds the pass's end): ten pay the reload.
  assert.equal(point.batches, 10);
});

/**
 * The measurement's pass on the model: the anchor merged, then a fresh process madvised
 * between passes; ksmd's CPU and batches over the next full scan, at `pages` a batch.
 */
function modelPass(cost: CostModel, pages: number): { cpuNs: number; batches: number } {
  const sys = createSystem({ ram: (FIRST_VISIT_PAGES + 1024) * PAGE_SIZE, cost });
  const region = (name: string, n: number, pattern: Pattern): void => {
    const mm = spawnTask(sys.mmgr, name).mm;
    const addr = doMmap(sys.mmgr, mm, n * PAGE_SIZE);
    assert.equal(fillUser(sys.mmgr, mm, addr, n * PAGE_SIZE, pattern, addr), 0);
    assert.equal(doMadvise(sys.mmgr, mm, addr, n * PAGE_SIZE, MADV_MERGEABLE), 0);
  };
  for (const [file, value] of [
    ['smart_scan', '0'],
    ['pages_to_scan', String(pages)],
    ['sleep_millisecs', '20'],
    ['run', '1'],
  ] as const)
    assert.equal(sysfsWrite(sys, `ksm/${file}`, value), 0);
  region('anchor', ANCHOR_PAGES, { kind: 'byte', byte: 0x5a });
  assert.equal(runFullScans(sys, 2), undefined);
  region('fresh', FIRST_VISIT_PAGES - ANCHOR_PAGES, { kind: 'random', seed: 7n });
  const cpu0 = sys.ksm.cpuNs;
  const batches0 = sys.ksmd.batches;
  assert.equal(runFullScans(sys, 1), undefined);
  return { cpuNs: sys.ksm.cpuNs - cpu0, batches: sys.ksmd.batches - batches0 };
}

test('a pass of first visits costs the model firstVisitPassNs, and its first-visit charges as the fit adds them', () => {
  const base: CostModel = { ...DEFAULT_COST, ...NO_RELOAD };
  // A share of 1 of the no-tree reload after any sleep (tau 1 ns).
  const charged: CostModel = { ...base, firstVisitNs: 400, postSleepNoTreeNs: 90_000, postSleepNoTreeTauNs: 1 };
  for (const pages of [1000, 3000, 5000]) {
    const plain = modelPass(base, pages);
    assert.equal(plain.batches, passBatches(pages));
    assert.equal(plain.cpuNs, firstVisitPassNs(base, plain.batches));
    const withCharges = modelPass(charged, pages);
    const fresh = FIRST_VISIT_PAGES - ANCHOR_PAGES;
    assert.equal(withCharges.cpuNs - plain.cpuNs, fresh * 400 + visitingBatches(pages) * 90_000);
  }
  assert.equal(WAKEUP_NS, 2000);
});
