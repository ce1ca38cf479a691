import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFor, sysfsWrite } from '../../system.ts';
import { MADV_MERGEABLE, VM_MERGEABLE, _PAGE_PRESENT } from '../../mm/constants.ts';
import { doMadvise } from '../../mm/madvise.ts';
import { Prng } from '../../lib/prng.ts';
import { PlusEngine } from '../../policy/engine.ts';
import { ModelPlusHost } from './plus_host.ts';
import type { Pattern } from '../../lib/patterns.ts';
import { createModelBackend, type ModelBackend } from './index.ts';
import { ModelPlusDaemon } from './plus_daemon.ts';

const MiB = 1 << 20;
const PAGE = 4096;

async function machine(): Promise<ModelBackend> {
  const b = createModelBackend({ seed: 0 });
  await b.start({
    version: 1,
    name: 't',
    description: undefined,
    machine: { ram: 1 << 30, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  });
  return b;
}

/** A process with one region filled with `pattern`. */
async function proc(b: ModelBackend, name: string, comm: string, size: number, pattern: Pattern): Promise<void> {
  await b.spawn(name, comm);
  await b.mmap(name, 'buf', size, false, undefined);
  await b.fill(name, 'buf', pattern, 0, undefined);
}

function task(b: ModelBackend, name: string) {
  const sys = b.system();
  const comm = b.processes().find((p) => p.proc === name)!.comm;
  const pids = b
    .system()
    .mmgr.liveTasks()
    .filter((t) => t.comm === comm);
  // Scenario procs are spawned in order, so the n-th proc of a comm is the n-th task of it.
  const order = b.processes().filter((p) => p.comm === comm);
  return { sys, task: pids[order.findIndex((p) => p.proc === name)]! };
}

function mergeableBytes(b: ModelBackend, name: string): number {
  const { task: t } = task(b, name);
  return t.mm.vmas.filter((v) => (v.vmFlags & VM_MERGEABLE) !== 0).reduce((n, v) => n + v.vmEnd - v.vmStart, 0);
}

/** Pages of the process's region that are KSM pages now (what pagemap and kpageflags would say). */
function ksmPages(b: ModelBackend, name: string): number {
  const { sys, task: t } = task(b, name);
  let n = 0;
  for (const v of t.mm.vmas) {
    for (let vpn = v.vmStart / PAGE; vpn < v.vmEnd / PAGE; vpn++) {
      const f = t.mm.pgtable.flags(vpn);
      if ((f & _PAGE_PRESENT) !== 0 && sys.mmgr.frames.isKsm(t.mm.pgtable.pfn(vpn))) n++;
    }
  }
  return n;
}

test('Table 5-2 on the model: the daemon marks the two runs of 0xFF pages only, at the default knobs', async () => {
  const b = await machine();
  await b.spawn('test', 'test');
  await b.mmap('test', 'mem0', 100 * MiB, false, undefined);
  await b.mmap('test', 'mem1', 100 * MiB, false, undefined);
  await b.fill('test', 'mem0', { kind: 'word-index' }, 0, undefined);
  await b.fill('test', 'mem1', { kind: 'neg-word-index' }, 0, undefined);
  await b.fill('test', 'mem0', { kind: 'byte', byte: 255 }, 0, MiB);
  await b.fill('test', 'mem1', { kind: 'byte', byte: 255 }, 0, MiB);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  assert.equal(d.write('processes_to_scan', '+ test\n'), 0);
  assert.equal(d.write('run', '1\n'), 0);
  assert.equal(sysfsWrite(sys, 'ksm/run', '1'), 0);
  runFor(sys, 180_000);
  const { task: t } = task(b, 'test');
  // The workload's duplicates are the first 256 pages of each region (thesis Figure 5-11).
  const regions = t.mm.vmas.map((v) => v.vmStart).sort((x, y) => x - y);
  const marked = d.engine.processes()[0]!.markedRanges();
  const starts = [...new Set(marked.map(([s]) => s * PAGE))];
  assert.equal(marked.length, 2);
  for (const [s, e] of marked) assert.equal(e - s, 256);
  assert.ok(
    starts.every((s) => regions.some((r) => r === s)),
    'each range starts a region',
  );
  // The bounds for Table 5-2 live: at least 512 merging, at most 1,100 rmap_items, profit > 0.
  assert.ok(t.mm.ksmMergingPages >= 512, `merging ${t.mm.ksmMergingPages}`);
  assert.ok(sys.ksm.rmapItems <= 1100, `rmap_items ${sys.ksm.rmapItems}`);
  assert.ok(sys.ksm.generalProfit() > 0);
  assert.equal(d.read('rmap_items'), `${t.mm.ksmRmapItems}\n`);
  assert.equal(d.read('processes_to_scan'), 'test\n');
});

test('duplicates across processes are marked in selected processes only; an unselected one is never touched', async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 7n };
  await proc(b, 'a', 'app', 64 * PAGE, shared);
  await proc(b, 'b', 'app', 64 * PAGE, shared);
  await proc(b, 'c', 'other', 64 * PAGE, shared);
  await proc(b, 'u', 'app', 64 * PAGE, { kind: 'random', seed: 8n });
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('run', '1');
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 30_000);
  assert.equal(mergeableBytes(b, 'a'), 64 * PAGE);
  assert.equal(mergeableBytes(b, 'b'), 64 * PAGE);
  assert.equal(mergeableBytes(b, 'c'), 0, 'other is not selected');
  assert.equal(task(b, 'c').task.mm.ksmMergingPages, 0);
  assert.equal(mergeableBytes(b, 'u'), 0, 'u holds nothing another page holds');
  assert.equal(task(b, 'a').task.mm.ksmMergingPages + task(b, 'b').task.mm.ksmMergingPages, 128);
  assert.equal(sys.ksm.pagesSharing, 64);
  // u's region merged nothing and was given up after the rounds down to drop_coefficient.
  assert.equal(d.engine.processes().find((p) => p.pid === task(b, 'u').task.pid)!.regions[0]!.dropped, true);
});

test('a process started later with a selected name is marked in the batch that samples it first', async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 3n };
  await proc(b, 'a', 'app', 32 * PAGE, shared);
  await proc(b, 'b', 'app', 32 * PAGE, shared);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('run', '1');
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 60_000);
  assert.equal(sys.ksm.pagesSharing, 32, 'a and b merged: their pages are KSM pages now');
  // Long after the first rounds (the index only keeps what the last rounds sampled, and
  // the KSM pages it saw), a third copy appears.
  await proc(b, 'n', 'app', 32 * PAGE, shared);
  const batches = d.engine.batches;
  const t0 = sys.clock.now();
  while (mergeableBytes(b, 'n') === 0 && d.engine.batches < batches + 3) runFor(sys, 1);
  assert.equal(mergeableBytes(b, 'n'), 32 * PAGE);
  assert.equal(d.engine.batches, batches + 1, 'marked by the first batch after it appeared');
  assert.ok(sys.clock.now() - t0 <= 1e9, 'within a second of virtual time');
  runFor(sys, 5_000);
  assert.equal(sys.ksm.pagesSharing, 64);
});

test('"- NAME" gives back every range of the program and unmerges it; run=2 does so for all', async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 5n };
  await proc(b, 'a', 'app', 16 * PAGE, shared);
  await proc(b, 'b', 'app', 16 * PAGE, shared);
  await proc(b, 'v', 'viewer', 16 * PAGE, shared);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('processes_to_scan', '+ viewer');
  d.write('run', '1');
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 20_000);
  assert.equal(task(b, 'v').task.mm.ksmMergingPages, 16);
  assert.equal(d.write('processes_to_scan', '- viewer'), 0);
  runFor(sys, 1_000);
  assert.equal(mergeableBytes(b, 'v'), 0);
  assert.equal(ksmPages(b, 'v'), 0, 'unmerged at once by MADV_UNMERGEABLE');
  assert.equal(d.read('processes_to_scan'), 'app\n');
  assert.equal(mergeableBytes(b, 'a'), 16 * PAGE, 'the other program keeps its marks');
  assert.equal(d.write('run', '2'), 0);
  assert.equal(mergeableBytes(b, 'a'), 0);
  assert.equal(mergeableBytes(b, 'b'), 0);
  assert.equal(ksmPages(b, 'a'), 0);
  assert.equal(d.read('processes_to_scan'), 'app\n', 'run=2 keeps the names');
  assert.equal(d.write('run', '3'), -22);
  assert.equal(d.write('processes_to_scan', 'app'), -22, 'no sign: EINVAL');
  assert.equal(d.write('pages_shared', '1'), -13, 'a counter: EACCES');
  assert.equal(d.write('nope', '1'), -2);
});

test('a marked range that merges nothing in demote_scans ksmd scans is given back, and trimmed where part merged', async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 9n };
  await proc(b, 'a', 'app', 16 * PAGE, shared);
  await proc(b, 'b', 'app', 16 * PAGE, shared);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('run', '1');
  runFor(sys, 500);
  assert.equal(mergeableBytes(b, 'b'), 16 * PAGE, 'marked while ksmd is stopped');
  // b's pages change before ksmd ever sees them: the duplicates are gone.
  await b.fill('b', 'buf', { kind: 'random', seed: 10n }, 0, undefined);
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 10_000);
  assert.ok(sys.ksm.ksmScan.seqnr >= 3);
  assert.equal(mergeableBytes(b, 'a'), 0);
  assert.equal(mergeableBytes(b, 'b'), 0);
  const given = d.events.filter((e) => e.kind === 'unmark');
  assert.equal(given.length, 2);
  assert.match(given[0]!.message, /merged nothing in \d+ ksmd full scans/);
});

test('a long unmerged stretch inside a range is given back while its merged pages stay marked', async () => {
  const b = await machine();
  const sys = b.system();
  // a: 8 duplicates, 100 unique pages, 8 duplicates; b: the 16 duplicates.
  await b.spawn('a', 'app');
  await b.mmap('a', 'buf', 116 * PAGE, false, undefined);
  await b.fill('a', 'buf', { kind: 'random', seed: 11n }, 0, undefined);
  await b.fill('a', 'buf', { kind: 'byte', byte: 1 }, 0, 8 * PAGE);
  await b.fill('a', 'buf', { kind: 'byte', byte: 2 }, 108 * PAGE, 8 * PAGE);
  await b.spawn('b', 'app');
  await b.mmap('b', 'buf', 16 * PAGE, false, undefined);
  await b.fill('b', 'buf', { kind: 'byte', byte: 1 }, 0, 8 * PAGE);
  await b.fill('b', 'buf', { kind: 'byte', byte: 2 }, 8 * PAGE, 8 * PAGE);
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('merge_gap', '200');
  d.write('run', '1');
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 500);
  const a = d.engine.processes().find((p) => p.pid === task(b, 'a').task.pid)!;
  assert.deepEqual(
    a.markedRanges().map(([s, e]) => e - s),
    [116],
    'one range bridges the unique pages (merge_gap 200)',
  );
  runFor(sys, 20_000);
  assert.deepEqual(
    a.markedRanges().map(([s, e]) => e - s),
    [8, 8],
    'the 100 unmerged pages between the duplicates were given back',
  );
  assert.equal(task(b, 'a').task.mm.ksmMergingPages, 16);
  assert.equal(task(b, 'a').task.mm.ksmRmapItems, 16);
});

test("a mark whose range was partly unmapped meanwhile (ENOMEM) counts the part madvise marked as the daemon's", async () => {
  const b = await machine();
  const sys = b.system();
  await b.spawn('a', 'app');
  await b.mmap('a', 'r1', 8 * PAGE, false, undefined);
  await b.mmap('a', 'r2', 8 * PAGE, false, undefined);
  await b.fill('a', 'r1', { kind: 'byte', byte: 3 }, 0, undefined);
  await b.fill('a', 'r2', { kind: 'byte', byte: 3 }, 0, undefined);
  const host = new ModelPlusHost(sys);
  const engine = new PlusEngine(host, { prng: new Prng(0), knobs: { run: 1 } });
  engine.addName('app');
  engine.refreshProcesses();
  const [mark] = engine.step(0);
  assert.ok(mark !== undefined && mark.kind === 'mark');
  // The 16 pages are one region (two adjacent mappings alike): one range over both.
  assert.deepEqual(
    mark.ranges.map(([s, e]) => e - s),
    [16],
  );
  await b.munmap('a', 'r2');
  const t = task(b, 'a').task;
  const results = mark.ranges.map(([s, e]) => doMadvise(sys.mmgr, t.mm, s * PAGE, (e - s) * PAGE, MADV_MERGEABLE));
  assert.deepEqual(results, [-12]);
  engine.applied(mark, { kind: 'done', results });
  // What is left mapped is r1, and madvise marked it.
  const r1 = t.mm.vmas.find((v) => v.vmEnd - v.vmStart === 8 * PAGE)!;
  assert.deepEqual(engine.processes()[0]!.markedRanges(), [[r1.vmStart / PAGE, r1.vmEnd / PAGE]]);
});

test("what the program marked mergeable itself, or all of a MERGE_ANY process, is never the daemon's to mark or unmark", async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 21n };
  await proc(b, 'own', 'app', 16 * PAGE, shared);
  await b.madvise('own', 'buf', 'MADV_MERGEABLE', 0, 8 * PAGE);
  await proc(b, 'any', 'app', 16 * PAGE, shared);
  await b.prctl('any', 'PR_SET_MEMORY_MERGE', 1);
  await proc(b, 'plain', 'app', 16 * PAGE, shared);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('run', '1');
  sysfsWrite(sys, 'ksm/run', '1');
  runFor(sys, 20_000);
  const byPid = (name: string) => d.engine.processes().find((p) => p.pid === task(b, name).task.pid)!;
  // own: only its other half is the daemon's; any: nothing; plain: all of it.
  assert.deepEqual(
    byPid('own')
      .markedRanges()
      .map(([s, e]) => e - s),
    [8],
  );
  assert.deepEqual(byPid('any').markedRanges(), []);
  assert.equal(mergeableBytes(b, 'plain'), 16 * PAGE);
  assert.equal(sys.ksm.pagesSharing, 16 * 3 - 16, 'every copy merged');
  // run=2 gives back the daemon's ranges only: the program's own madvise stays.
  d.write('run', '2');
  assert.equal(mergeableBytes(b, 'own'), 8 * PAGE);
  assert.equal(mergeableBytes(b, 'plain'), 0);
});

test('scattered duplicates become at most max_ranges ranges in a process', async () => {
  const b = await machine();
  const sys = b.system();
  // a: a duplicate of b's page every 64 pages, 40 of them; b: the 40 contents in a row.
  await b.spawn('a', 'app');
  await b.mmap('a', 'buf', 2560 * PAGE, false, undefined);
  await b.fill('a', 'buf', { kind: 'random', seed: 5n }, 0, undefined);
  await b.spawn('b', 'app');
  await b.mmap('b', 'buf', 40 * PAGE, false, undefined);
  for (let i = 0; i < 40; i++) {
    await b.fill('a', 'buf', { kind: 'byte', byte: i + 1 }, i * 64 * PAGE, PAGE);
    await b.fill('b', 'buf', { kind: 'byte', byte: i + 1 }, i * PAGE, PAGE);
  }
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('max_ranges', '4');
  d.write('run', '1');
  runFor(sys, 2_000);
  const a = d.engine.processes().find((p) => p.pid === task(b, 'a').task.pid)!;
  assert.ok(a.marked.length <= 4, `${a.marked.length} ranges`);
  assert.ok(a.marked.length >= 1);
  for (let i = 0; i < 40; i++) {
    const vpn = a.regions[0]!.start + i * 64;
    assert.ok(
      a.markedRanges().some(([s, e]) => s <= vpn && vpn < e),
      `duplicate ${i} is inside a marked range`,
    );
  }
});

test('a selected process that execs another program is forgotten and never touched again', async () => {
  const b = await machine();
  const shared: Pattern = { kind: 'random', seed: 31n };
  await proc(b, 'a', 'app', 8 * PAGE, shared);
  await proc(b, 'b', 'app', 8 * PAGE, shared);
  const sys = b.system();
  const d = new ModelPlusDaemon(sys, 0);
  d.write('processes_to_scan', '+ app');
  d.write('run', '1');
  runFor(sys, 2_000);
  const pid = task(b, 'b').task.pid;
  assert.ok(d.engine.processes().some((p) => p.pid === pid));
  await b.exec('b', 'other');
  await b.mmap('b', 'buf2', 8 * PAGE, false, undefined);
  await b.fill('b', 'buf2', shared, 0, undefined);
  runFor(sys, 5_000);
  assert.ok(!d.engine.processes().some((p) => p.pid === pid));
  assert.ok(d.events.some((e) => e.kind === 'forget' && e.pid === pid && /no longer selected/.test(e.message)));
  assert.equal(mergeableBytes(b, 'b'), 0, 'the new program is never marked');
  assert.ok(!d.events.some((e) => (e.kind === 'mark' || e.kind === 'unmark') && e.pid === pid && e.comm === 'other'));
});

test('a mark in flight when its program is removed is given back with the rest', async () => {
  const b = await machine();
  const sys = b.system();
  const shared: Pattern = { kind: 'random', seed: 41n };
  await proc(b, 'a', 'app', 8 * PAGE, shared);
  await proc(b, 'b', 'app', 8 * PAGE, shared);
  const engine = new PlusEngine(new ModelPlusHost(sys), { prng: new Prng(0), knobs: { run: 1 } });
  engine.addName('app');
  engine.refreshProcesses();
  const marks = engine.step(0);
  assert.equal(marks.length, 2);
  // The user removes the program while the injector is still making the calls.
  engine.removeName('app');
  for (const m of marks) {
    const t = sys.mmgr.tasks.get(m.pid)!;
    const results = m.ranges.map(([s, e]) => doMadvise(sys.mmgr, t.mm, s * PAGE, (e - s) * PAGE, MADV_MERGEABLE));
    engine.applied(m, { kind: 'done', results });
  }
  const back = engine.step(1000);
  assert.deepEqual(
    back.map((a) => [a.kind, a.pid, a.ranges]),
    marks.map((m) => ['unmark', m.pid, m.ranges]),
  );
});
