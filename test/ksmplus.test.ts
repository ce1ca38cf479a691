/**
 * KSM+'s sampling round against the thesis (chapter 4, section 5.1.1) and docs/ksmplus.md:
 * the first visit of a sampled page, the sample counts of the thesis's C (integer
 * division), the coefficient's fall, floor and drop, and the sysfs knobs for them. Expected
 * figures are worked out from the thesis's formulas by hand in each test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../src/lib/sizes.ts';
import { doMmap } from '../src/mm/mmap.ts';
import { spawnTask } from '../src/mm/process.ts';
import { fillUser, writeUser } from '../src/mm/uaccess.ts';
import type { Pattern } from '../src/lib/patterns.ts';
import { samplePages } from '../src/ksmplus/sampling.ts';
import { createSystem, runFor, runKsmPlusFullScans, sysfsRead, sysfsWrite, type System } from '../src/system.ts';

/** A machine with one process of program `comm` holding `pages` pages filled with `pattern`. */
function machine(comm: string, pages: number, pattern: Pattern): { sys: System; addr: number } {
  const sys = createSystem({ ram: 2 ** 27 });
  const t = spawnTask(sys.mmgr, comm);
  const addr = doMmap(sys.mmgr, t.mm, pages * PAGE_SIZE);
  assert.ok(addr > 0);
  assert.equal(fillUser(sys.mmgr, t.mm, addr, pages * PAGE_SIZE, pattern, addr), 0);
  return { sys, addr };
}

function start(sys: System, comm: string, pagesToScan = 100000): void {
  assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', `+ ${comm}`), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/pages_to_scan', String(pagesToScan)), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/run', '1'), 0);
}

const counter = (sys: System, name: string): number => Number(sysfsRead(sys, `ksm+/${name}`));

test('KSM+ merges identical pages in the round that first samples them (thesis 5.1.1: one pass)', () => {
  const { sys } = machine('test', 64, { kind: 'byte-cycle' });
  const t2 = spawnTask(sys.mmgr, 'test');
  const a2 = doMmap(sys.mmgr, t2.mm, 64 * PAGE_SIZE);
  fillUser(sys.mmgr, t2.mm, a2, 64 * PAGE_SIZE, { kind: 'byte-cycle' }, a2);
  start(sys, 'test');
  assert.equal(runKsmPlusFullScans(sys, 1), undefined);
  // 128 identical pages: one KSM page stands for all of them.
  assert.equal(counter(sys, 'pages_shared'), 1);
  assert.equal(counter(sys, 'pages_sharing'), 127);
});

test("KSM+ at the thesis's defaults merges 2 x 20 MiB of identical pages in about a minute (thesis: 40 x 1024 / 667 s)", () => {
  const { sys } = machine('test', 5120, { kind: 'byte-cycle' });
  const t2 = spawnTask(sys.mmgr, 'test');
  const a2 = doMmap(sys.mmgr, t2.mm, 5120 * PAGE_SIZE);
  fillUser(sys.mmgr, t2.mm, a2, 5120 * PAGE_SIZE, { kind: 'byte-cycle' }, a2);
  assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', '+ test'), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/run', '1'), 0);
  // 10240 pages at 100 per batch: 103 batches, the last one starting after 102 sleeps of
  // 600 ms as a kernel thread sleeps them: 150 jiffies at HZ=250, which the timer wheel
  // (level 1, 8-tick buckets) ends 151 to 158 ticks later, 604-632 ms (62-65 s in all).
  runFor(sys, 60_000);
  assert.ok(counter(sys, 'pages_sharing') < 10200, 'not all merged before the last batch');
  runFor(sys, 6_000);
  // max_page_sharing (256, as Linux) splits the 10240 mappings over 40 KSM pages.
  assert.equal(counter(sys, 'pages_shared'), 40);
  assert.equal(counter(sys, 'pages_sharing'), 10200);
});

test('a page KSM+ keeps sampling still needs an unchanged checksum to enter the unstable tree', () => {
  const { sys, addr } = machine('viewer', 4, { kind: 'random', seed: 9n });
  start(sys, 'viewer');
  runKsmPlusFullScans(sys, 1);
  assert.equal(counter(sys, 'pages_unshared'), 4);
  // Rewrite page 0: at the next round (coefficient 90 still samples every page) its checksum
  // differs from the one kept in its rmap_item, so it is volatile, not unshared.
  const mm = sys.mmgr.liveTasks()[0]!.mm;
  assert.equal(writeUser(sys.mmgr, mm, addr, new Uint8Array([1, 2, 3, 4])), 0);
  runKsmPlusFullScans(sys, 1);
  assert.equal(counter(sys, 'pages_unshared'), 3);
  assert.equal(counter(sys, 'pages_volatile'), 1);
});

test("samplePages follows the thesis's integer arithmetic and never divides by zero", () => {
  const sys = createSystem({ ram: 2 ** 24 });
  const plus = sys.ksmplus;
  // sample_count = 25600 x 40 / 100 = 10240, gap = 25600 / 10240 = 2: 12800 intervals.
  assert.equal(samplePages(plus, 25600, 40).length, 12800);
  // 25600 x 30 / 100 = 7680, gap 3: floor(25600 / 3) = 8533 whole intervals.
  assert.equal(samplePages(plus, 25600, 30).length, 8533);
  // 25600 x 1 / 100 = 256, gap 100: 256 samples, one in each interval.
  const floor = samplePages(plus, 25600, 1);
  assert.equal(floor.length, 256);
  floor.forEach((p, i) => {
    assert.ok(p >= i * 100 && p < (i + 1) * 100, `sample ${i} at ${p}`);
  });
  // 50 x 1 / 100 = 0 would divide by zero in the thesis's C: at least one sample.
  assert.equal(samplePages(plus, 50, 1).length, 1);
});

test('a VMA with nothing merged is dropped after the round that sampled 10 % (thesis: coefficient < 10 after -= 10)', () => {
  const { sys } = machine('sparse', 1000, { kind: 'random', seed: 5n });
  start(sys, 'sparse');
  runKsmPlusFullScans(sys, 9); // sampled at 100, 90, ..., 20: the coefficient is now 10
  assert.equal(counter(sys, 'vma_nodes'), 1);
  assert.equal(sys.ksmplus.slots[0]!.vmaNodes[0]!.coefficient, 10);
  runKsmPlusFullScans(sys, 1); // sampled at 10: 10 - 10 = 0 < 10
  assert.equal(counter(sys, 'vma_nodes'), 0);
  assert.equal(counter(sys, 'rmap_items'), 0);
});

test('a VMA that keeps merged pages falls to min_coefficient and is sampled there for ever', () => {
  // 1000 pages, the first 10 all 0xFF: they merge in round 1, so the VMA is never dropped.
  const { sys, addr } = machine('viewer', 1000, { kind: 'random', seed: 3n });
  fillUser(sys.mmgr, sys.mmgr.liveTasks()[0]!.mm, addr, 10 * PAGE_SIZE, { kind: 'byte', byte: 0xff }, addr);
  start(sys, 'viewer');
  runKsmPlusFullScans(sys, 14);
  const node = sys.ksmplus.slots[0]!.vmaNodes[0]!;
  assert.equal(node.coefficient, 1);
  assert.equal(counter(sys, 'pages_sharing'), 9);
  // At 1 %: 10 samples of which the one in pages 0..99 may be a merged page; the 10 merged
  // items stay, so 10 + 9 or 10 + 10 items.
  const items = counter(sys, 'rmap_items');
  assert.ok(items >= 19 && items <= 20, `rmap_items ${items}`);
});

test('the sampling knobs change the round: initial_coefficient, coefficient_step, min_coefficient', () => {
  const { sys } = machine('sparse', 1000, { kind: 'random', seed: 5n });
  assert.equal(sysfsWrite(sys, 'ksm+/initial_coefficient', '50'), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/coefficient_step', '25'), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/min_coefficient', '25'), 0);
  assert.equal(sysfsWrite(sys, 'ksm+/drop_coefficient', '0'), 0);
  start(sys, 'sparse');
  runKsmPlusFullScans(sys, 1);
  // 50 %: 500 samples with gap 2, all unique pages kept in the unstable tree until next round.
  assert.equal(counter(sys, 'rmap_items'), 500);
  runKsmPlusFullScans(sys, 1);
  // 25 %: 250 samples with gap 4; the items not sampled again were freed.
  assert.equal(counter(sys, 'rmap_items'), 250);
  runKsmPlusFullScans(sys, 3);
  // Floor 25, and drop_coefficient 0 (25 - 25 = 0 is not < 0): never dropped.
  assert.equal(sys.ksmplus.slots[0]!.vmaNodes[0]!.coefficient, 25);
  assert.equal(counter(sys, 'vma_nodes'), 1);
});

test('drop_coefficient at or below min_coefficient - coefficient_step never drops a VMA', () => {
  const { sys } = machine('sparse', 200, { kind: 'random', seed: 5n });
  assert.equal(sysfsWrite(sys, 'ksm+/min_coefficient', '20'), 0);
  start(sys, 'sparse');
  runKsmPlusFullScans(sys, 12);
  // 20 - 10 = 10 is not < 10: the VMA stays at 20 % though nothing in it merges.
  assert.equal(sys.ksmplus.slots[0]!.vmaNodes[0]!.coefficient, 20);
  assert.equal(counter(sys, 'rmap_items'), 40);
});

test('the sampling knobs refuse values the round cannot use, with EINVAL', () => {
  const sys = createSystem({ ram: 2 ** 24 });
  for (const [file, bad] of [
    ['initial_coefficient', '0'],
    ['initial_coefficient', '101'],
    ['min_coefficient', '0'],
    ['min_coefficient', '101'],
    ['coefficient_step', '101'],
    ['drop_coefficient', '101'],
    ['pages_to_scan', '-1'],
    ['sleep_millisecs', 'x'],
  ] as const) {
    const before = sysfsRead(sys, `ksm+/${file}`);
    assert.equal(sysfsWrite(sys, `ksm+/${file}`, bad), -22, `${file}=${bad}`);
    assert.equal(sysfsRead(sys, `ksm+/${file}`), before);
  }
  assert.deepEqual(
    [
      'run',
      'pages_to_scan',
      'sleep_millisecs',
      'initial_coefficient',
      'coefficient_step',
      'min_coefficient',
      'drop_coefficient',
    ].map((f) => sysfsRead(sys, `ksm+/${f}`)),
    ['0\n', '100\n', '600\n', '100\n', '10\n', '1\n', '10\n'],
  );
});
