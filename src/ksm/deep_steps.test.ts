/**
 * The deep-step cost (cost.ts deepStepNs, deepFrom): unstable-tree steps at a depth greater
 * than deepFrom are charged deepStepNs on top of memcmpNs, by a walk and by a replayed walk
 * alike (unstable_tree.ts, unstable_replay.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { fillUser, writeUser } from '../mm/uaccess.ts';
import { type CostModel, DEFAULT_COST, deepStepsCharge, NO_RELOAD } from './cost.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';

test('deepStepsCharge reads deepStepNs once for each step deeper than deepFrom', () => {
  let reads = 0;
  const cost = {
    ...DEFAULT_COST,
    deepFrom: 2,
    get deepStepNs() {
      reads++;
      return 7;
    },
  };
  assert.equal(deepStepsCharge(cost, 2), 0);
  assert.equal(reads, 0);
  assert.equal(deepStepsCharge(cost, 5), 21); // depths 3, 4, 5
  assert.equal(reads, 3);
  assert.equal(deepStepsCharge({ ...DEFAULT_COST, deepFrom: 0, deepStepNs: 7 }, 1), 7);
});

/**
 * Virtual CPU of full scans 2 and 3 of 5 pages whose first 4 bytes are 1, 2, 3, 4, 5 (big
 * endian), visited in that order with smart_scan off: scan 2 inserts them into the unstable
 * tree one by one, scan 3 (memory unchanged) replays scan 2's calls, or walks them again
 * with `check`.
 */
function scanCpu(cost: CostModel, check: boolean): { scan2: number; scan3: number; replayed: number } {
  const m = testMachine(cost);
  m.ksm.smartScan = false;
  m.ksm.checkWalkCache = check;
  const t = spawnTask(m.mmgr, 'a');
  const len = 5 * PAGE_SIZE;
  const addr = doMmap(m.mmgr, t.mm, len);
  assert.equal(fillUser(m.mmgr, t.mm, addr, len, { kind: 'random', seed: 3n }, addr), 0);
  for (let p = 0; p < 5; p++)
    assert.equal(writeUser(m.mmgr, t.mm, addr + p * PAGE_SIZE, Uint8Array.of(0, 0, 0, p + 1)), 0);
  assert.equal(doMadvise(m.mmgr, t.mm, addr, len, MADV_MERGEABLE), 0);
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(1);
  const c1 = m.ksm.cpuNs;
  m.scans(1);
  const c2 = m.ksm.cpuNs;
  m.scans(1);
  assert.equal(m.ksm.pagesUnshared, 5);
  return { scan2: c2 - c1, scan3: m.ksm.cpuNs - c2, replayed: m.ksm.unstableReplay.replayed };
}

// Inserting the keys 1..5 in order into Linux's red-black tree (rb_insert_color): 1 is the
// root; 2 goes right of it (1 step); 3 right of 2 (2 steps), then a rotation makes 2 the
// root; 4 goes 2 -> 3 (2 steps), then a recolouring; 5 goes 2 -> 3 -> 4 (3 steps). The
// steps of the five walks: 0, 1, 2, 2, 3, at depths 1; 1, 2; 1, 2; 1, 2, 3.
const DEEP_STEPS = new Map([
  [0, 8],
  [1, 4],
  [2, 1],
  [3, 0],
]);

for (const [deepFrom, deep] of DEEP_STEPS) {
  test(`steps deeper than deepFrom ${deepFrom} cost deepStepNs more, walked and replayed (${deep} deep steps a scan)`, () => {
    // No reload after sleeps: a deep step's 1 ms would move the batches' sleeps, and so their reloads.
    const flat = { ...DEFAULT_COST, ...NO_RELOAD, deepFrom, deepStepNs: 0 };
    const steep = { ...flat, deepStepNs: 1_000_000 };
    for (const check of [false, true]) {
      const a = scanCpu(flat, check);
      const b = scanCpu(steep, check);
      assert.equal(b.scan2 - a.scan2, deep * 1_000_000, `scan 2 (check ${check})`);
      assert.equal(b.scan3 - a.scan3, deep * 1_000_000, `scan 3 (check ${check})`);
      // Scan 3 is replayed without check, walked with it: the same charge either way.
      assert.equal(b.replayed, check ? 0 : 5);
    }
  });
}
