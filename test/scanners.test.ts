/**
 * One behavioural suite for both scanners: KSM (opted in with madvise) and KSM+ (opted in by
 * naming the program). The expected figures follow from the workload: n identical pages in
 * two processes all end up merged; unmerging, exit and run=2 bring every counter back to 0;
 * and every process always reads what it wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PAGE_SIZE } from '../src/lib/sizes.ts';
import { MADV_MERGEABLE, MADV_UNMERGEABLE } from '../src/mm/constants.ts';
import { doMadvise } from '../src/mm/madvise.ts';
import type { Task } from '../src/mm/memory_manager.ts';
import { doMmap } from '../src/mm/mmap.ts';
import { exitTask, forkTask, spawnTask } from '../src/mm/process.ts';
import { fillUser, readUser } from '../src/mm/uaccess.ts';
import type { Ksm } from '../src/ksm/ksm.ts';
import { createSystem, runFullScans, runKsmPlusFullScans, sysfsWrite, type System } from '../src/system.ts';

const PAGES = 64;

interface Scanner {
  readonly name: string;
  /** Opts the process's region in. */
  enable(sys: System, task: Task, addr: number): void;
  /** Opts it out again. */
  disable(sys: System, task: Task, addr: number): void;
  start(sys: System): void;
  scans(sys: System, n: number): void;
  engine(sys: System): Ksm;
  runPath: string;
}

const scanners: Scanner[] = [
  {
    name: 'KSM',
    enable: (sys, t, addr) => assert.equal(doMadvise(sys.mmgr, t.mm, addr, PAGES * PAGE_SIZE, MADV_MERGEABLE), 0),
    disable: (sys, t, addr) => assert.equal(doMadvise(sys.mmgr, t.mm, addr, PAGES * PAGE_SIZE, MADV_UNMERGEABLE), 0),
    start: (sys) => assert.equal(sysfsWrite(sys, 'ksm/run', '1'), 0),
    scans: (sys, n) => assert.equal(runFullScans(sys, n), undefined),
    engine: (sys) => sys.ksm,
    runPath: 'ksm/run',
  },
  {
    name: 'KSM+',
    enable: (sys, t) => assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', `+ ${t.comm}`), 0),
    disable: (sys, t) => assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', `- ${t.comm}`), 0),
    start: (sys) => {
      assert.equal(sysfsWrite(sys, 'ksm+/pages_to_scan', '10000'), 0);
      assert.equal(sysfsWrite(sys, 'ksm+/run', '1'), 0);
    },
    scans: (sys, n) => assert.equal(runKsmPlusFullScans(sys, n), undefined),
    engine: (sys) => sys.ksmplus.engine,
    runPath: 'ksm+/run',
  },
];

function setup(s: Scanner) {
  const sys = createSystem({ ram: 64 * 2 ** 20, checkCaches: true });
  const tasks = [spawnTask(sys.mmgr, 'worker-a'), spawnTask(sys.mmgr, 'worker-b')];
  const addrs = tasks.map((t) => {
    const a = doMmap(sys.mmgr, t.mm, PAGES * PAGE_SIZE);
    assert.ok(a > 0);
    assert.equal(fillUser(sys.mmgr, t.mm, a, PAGES * PAGE_SIZE, { kind: 'byte', byte: 7 }, a), 0);
    return a;
  });
  s.enable(sys, tasks[0]!, addrs[0]!);
  s.enable(sys, tasks[1]!, addrs[1]!);
  s.start(sys);
  return { sys, tasks, addrs };
}

function digest(sys: System, t: Task, addr: number): string {
  const h = createHash('sha256');
  assert.equal(
    readUser(sys.mmgr, t.mm, addr, PAGES * PAGE_SIZE, (b, o, n) => h.update(b.subarray(o, o + n))),
    0,
  );
  return h.digest('hex');
}

const expected = createHash('sha256')
  .update(Buffer.alloc(PAGES * PAGE_SIZE, 7))
  .digest('hex');

for (const s of scanners) {
  test(`${s.name} merges identical pages of two processes, and both still read their bytes`, () => {
    const { sys, tasks, addrs } = setup(s);
    s.scans(sys, 3);
    const engine = s.engine(sys);
    assert.equal(engine.pagesShared, 1);
    assert.equal(engine.pagesSharing, 2 * PAGES - 1);
    assert.deepEqual(
      tasks.map((t) => t.mm.ksmMergingPages),
      [PAGES, PAGES],
    );
    tasks.forEach((t, i) => {
      assert.equal(digest(sys, t, addrs[i]!), expected);
    });
  });

  test(`${s.name} unmerges an opted-out process at once and uncounts it at the next scan`, () => {
    const { sys, tasks, addrs } = setup(s);
    s.scans(sys, 3);
    s.disable(sys, tasks[0]!, addrs[0]!);
    // The pages are private copies now: nothing of process 0 maps a KSM page.
    for (let i = 0; i < PAGES; i++) {
      const pfn = tasks[0]!.mm.pgtable.pfn(addrs[0]! / PAGE_SIZE + i);
      assert.equal(sys.mmgr.frames.isKsm(pfn), false);
    }
    s.scans(sys, 2);
    assert.equal(tasks[0]!.mm.ksmMergingPages, 0);
    tasks.forEach((t, i) => {
      assert.equal(digest(sys, t, addrs[i]!), expected);
    });
  });

  test(`${s.name} counts a forked child's shared pages once it scans the child`, () => {
    const { sys, tasks, addrs } = setup(s);
    s.scans(sys, 3);
    const child = forkTask(sys.mmgr, tasks[0]!);
    assert.equal(child.mm.ksmMergingPages, 0);
    s.scans(sys, 2);
    assert.equal(child.mm.ksmMergingPages, PAGES);
    assert.equal(s.engine(sys).pagesSharing, 3 * PAGES - 1);
    assert.equal(digest(sys, child, addrs[0]!), expected);
  });

  test(`${s.name} frees an exited process's rmap_items at the next scan`, () => {
    const { sys, tasks } = setup(s);
    s.scans(sys, 3);
    exitTask(sys.mmgr, tasks[0]!);
    s.scans(sys, 1);
    assert.equal(s.engine(sys).rmapItems, PAGES);
    assert.equal(tasks[1]!.mm.ksmMergingPages, PAGES);
  });

  test(`${s.name} run=2 unmerges everything and frees every rmap_item`, () => {
    const { sys, tasks, addrs } = setup(s);
    s.scans(sys, 3);
    assert.equal(sysfsWrite(sys, s.runPath, '2'), 0);
    const engine = s.engine(sys);
    assert.deepEqual([engine.pagesShared, engine.pagesSharing, engine.rmapItems, engine.ksmScan.seqnr], [0, 0, 0, 0]);
    assert.deepEqual(
      tasks.map((t) => t.mm.ksmMergingPages),
      [0, 0],
    );
    assert.deepEqual(
      tasks.map((t) => t.mm.rssAnon),
      [PAGES, PAGES],
    );
    tasks.forEach((t, i) => {
      assert.equal(digest(sys, t, addrs[i]!), expected);
    });
  });
}

test('ksm+/processes_to_scan refuses bad writes with EINVAL and changes nothing', () => {
  const sys = createSystem({ ram: 2 ** 24, checkCaches: true });
  assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', '+ okular\n'), 0);
  for (const bad of ['okular', '+', '+ ', '* okular', '+ 0123456789abcdef']) {
    assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', bad), -22, `"${bad}"`);
  }
  // A write of no bytes never reaches a sysfs store (sysfs_kf_write): success, no change.
  assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', ''), 0);
  assert.equal(sys.sysfs.get('ksm+')!.get('processes_to_scan')!.show(), 'okular\n');
  assert.equal(sysfsWrite(sys, 'ksm+/processes_to_scan', '- okular'), 0);
  assert.equal(sys.sysfs.get('ksm+')!.get('processes_to_scan')!.show(), '');
});

test('KSM+ gives up on a VMA with nothing to merge, and keeps few rmap_items where duplicates are rare', () => {
  const sys = createSystem({ ram: 2 ** 26, checkCaches: true });
  const t = spawnTask(sys.mmgr, 'sparse');
  const unique = doMmap(sys.mmgr, t.mm, 1024 * PAGE_SIZE);
  fillUser(sys.mmgr, t.mm, unique, 1024 * PAGE_SIZE, { kind: 'random', seed: 5n }, unique);
  sysfsWrite(sys, 'ksm+/processes_to_scan', '+ sparse');
  sysfsWrite(sys, 'ksm+/pages_to_scan', '10000');
  sysfsWrite(sys, 'ksm+/run', '1');
  runKsmPlusFullScans(sys, 12);
  // Coefficient 100, 90, ..., 10: after ten rounds without a merge the VMA is dropped.
  assert.equal(sys.ksmplus.vmaNodes, 0);
  assert.equal(sys.ksmplus.engine.rmapItems, 0);
});
