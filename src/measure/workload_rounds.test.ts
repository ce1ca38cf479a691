import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KernelRun, KernelRunOptions, KernelScan } from './kernel.ts';
import { measureWorkloadRounds, mergeRounds, roundOrder } from './workload_rounds.ts';
import { allUnique, duplicateHeavy, smartScan } from './workloads.ts';

/** A scan of `pages` pages that took `cpuS` of ksmd and `wallS`, other work busy `busy` ms. */
function scan(cpuS: number, pages = 100, wallS = 1, busy = 0): KernelScan {
  return { pagesScanned: pages, pagesSkipped: 0, pagesToScan: 200, cpuS, wallS, othersBusyMs: busy };
}

function run(scans: KernelScan[], cpuSource: KernelRun['cpuSource'] = 'schedstat'): KernelRun {
  return { scans, counters: { full_scans: scans.length }, clkTck: 100, cpuSource };
}

test('rounds alternate: as given, reversed, as given', () => {
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['c', 'b', 'a']);
  assert.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['a', 'b', 'c']);
});

test('each scan is the median of its rounds, so one slow round is outvoted, and every round is kept', () => {
  // Round 2 ran through a slow stretch: 40 % slower on both scans.
  const m = mergeRounds('w', [
    run([scan(0.1, 100, 1.0), scan(0.2, 100, 2.0)]),
    run([scan(0.14, 100, 1.4), scan(0.28, 100, 2.8)]),
    run([scan(0.102, 100, 1.1), scan(0.198, 100, 1.9)]),
  ]);
  assert.deepEqual(
    m.run.scans.map((s) => [s.cpuS, s.wallS]),
    [
      [0.102, 1.1],
      [0.2, 2.0],
    ],
  );
  assert.deepEqual(m.cpuRoundsS, [
    [0.1, 0.14, 0.102],
    [0.2, 0.28, 0.198],
  ]);
  assert.deepEqual(m.disagreements, []);
});

test('other work: the most any round saw, unknown if one round could not tell', () => {
  const known = mergeRounds('w', [
    run([scan(0.1, 100, 1, 3)]),
    run([scan(0.1, 100, 1, 40)]),
    run([scan(0.1, 100, 1, 7)]),
  ]);
  assert.equal(known.run.scans[0]!.othersBusyMs, 40);
  const unread = { ...scan(0.1), othersBusyMs: undefined };
  const unknown = mergeRounds('w', [run([scan(0.1, 100, 1, 3)]), run([unread])]);
  assert.equal(unknown.run.scans[0]!.othersBusyMs, undefined);
});

test('ksmd read from clock ticks in any round makes the merged run a ticks run', () => {
  const m = mergeRounds('w', [run([scan(0.1)]), run([scan(0.1)], 'ticks')]);
  assert.equal(m.run.cpuSource, 'ticks');
  assert.equal(mergeRounds('w', [run([scan(0.1)]), run([scan(0.1)])]).run.cpuSource, 'schedstat');
});

test('rounds that scanned other pages are named, the first round counts kept', () => {
  const m = mergeRounds('smart-scan', [run([scan(0.1, 100), scan(0.1, 60)]), run([scan(0.1, 100), scan(0.1, 64)])]);
  assert.deepEqual(m.disagreements, ['smart-scan scan 2: round 2 scanned 64 pages, round 1 60']);
  assert.equal(m.run.scans[1]!.pagesScanned, 60);
});

test('rounds with another number of scans, or none, cannot be merged', () => {
  assert.throws(() => mergeRounds('w', [run([scan(0.1)]), run([scan(0.1), scan(0.1)])]), {
    message: 'Workload w: round 2 measured 2 scans, round 1 1',
  });
  assert.throws(() => mergeRounds('w', []), { message: 'Workload w: no rounds to merge' });
});

test('measureWorkloadRounds runs every workload once a round in alternating order and merges each', async () => {
  const workloads = [allUnique(64), duplicateHeavy(64), smartScan(64)];
  const order: string[] = [];
  const progress: string[] = [];
  const warnings: string[] = [];
  const opts: KernelRunOptions = { lockWaitMs: 0, progress: (m) => progress.push(m), warn: (m) => warnings.push(m) };
  // Each run's CPU is its position in the whole sequence: a steady drift.
  const merged = await measureWorkloadRounds(workloads, 3, opts, async (w) => {
    order.push(w.name);
    return run([scan(order.length)]);
  });
  assert.deepEqual(order, [
    'all-unique',
    'duplicate-heavy',
    'smart-scan',
    'smart-scan',
    'duplicate-heavy',
    'all-unique',
    'all-unique',
    'duplicate-heavy',
    'smart-scan',
  ]);
  assert.deepEqual(
    [...merged].map(([name, m]) => [name, m.cpuRoundsS[0], m.run.scans[0]!.cpuS]),
    [
      ['all-unique', [1, 6, 7], 6],
      ['duplicate-heavy', [2, 5, 8], 5],
      ['smart-scan', [3, 4, 9], 4],
    ],
  );
  assert.equal(progress[0], 'round 1 of 3: all-unique');
  assert.deepEqual(warnings, []);
});

test('one round measures each workload once and says nothing of rounds', async () => {
  const progress: string[] = [];
  const opts: KernelRunOptions = { lockWaitMs: 0, progress: (m) => progress.push(m), warn: () => undefined };
  const merged = await measureWorkloadRounds([allUnique(64)], 1, opts, async () => run([scan(0.25)]));
  assert.equal(merged.get('all-unique')!.run.scans[0]!.cpuS, 0.25);
  assert.deepEqual(progress, []);
});

test('rounds outside 1-9 are refused before anything runs', async () => {
  const opts: KernelRunOptions = { lockWaitMs: 0, progress: () => undefined, warn: () => undefined };
  for (const rounds of [0, 10, 1.5]) {
    await assert.rejects(
      measureWorkloadRounds([allUnique(64)], rounds, opts, async () => assert.fail('ran')),
      /rounds must be a whole number from 1 to 9/,
    );
  }
});
