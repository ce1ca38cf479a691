import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PAGE_SIZE } from '../src/lib/sizes.ts';
import { fillPatternBytes, type Pattern } from '../src/lib/patterns.ts';
import { MADV_DONTNEED, MADV_MERGEABLE, MADV_UNMERGEABLE, PR_SET_MEMORY_MERGE } from '../src/mm/constants.ts';
import { doMadvise } from '../src/mm/madvise.ts';
import type { Task } from '../src/mm/memory_manager.ts';
import { doMmap, doMunmap } from '../src/mm/mmap.ts';
import { doPrctl } from '../src/mm/prctl.ts';
import { execTask, exitTask, forkTask, spawnTask } from '../src/mm/process.ts';
import { fillUser, readUser, writeUser } from '../src/mm/uaccess.ts';
import { mmVerify, mmVerifyNoLeaks } from '../src/mm/verify.ts';
import { ksmVerify } from '../src/ksm/verify.ts';
import { createSystem, runFor, runFullScans, sysfsWrite, whyKsmdIdle, type System } from '../src/system.ts';

/**
 * Model-based property test: random programs of mmap, fill, write,
 * read, fork, exec, exit, madvise, prctl, sysfs writes and ksmd steps run on the model, next
 * to a naive reference that is just bytes per process and region. The property: whatever
 * KSM does, every process reads exactly what it wrote, and mmVerify and ksmVerify hold after
 * every step; after everything exits and run=2, nothing leaks. Half the programs run on a
 * machine whose read faults allocate instead of mapping the zero page (mm_forbids_zeropage,
 * as this project's CI kernel does), so reads of never-written pages make pages KSM merges.
 */

const EBUSY = 16;
const MAX_PROCS = 6;
const MAX_REGIONS = 5;

/** A region as the naive reference sees it; `bytes` is one object for all sharers of a shared region. */
interface NRegion {
  readonly addr: number;
  readonly pages: number;
  readonly shared: boolean;
  readonly bytes: Uint8Array;
}

interface NProc {
  readonly task: Task;
  regions: NRegion[];
}

interface Model {
  readonly procs: NProc[];
  /** NUMA nodes of the machine (mmap may bind to one). */
  readonly nodes: number;
}

interface Real {
  readonly sys: System;
  /** What the runs reached, so the test can show it is not vacuous. */
  readonly seen: Seen;
}

/** High-water marks over all runs of one property. */
interface Seen {
  runs: number;
  steps: number;
  sharing: number;
  chains: number;
  zeroPages: number;
  merging: number;
  /** Runs on a machine whose read faults allocate (mm_forbids_zeropage). */
  forbidden: number;
}

type Cmd = fc.Command<Model, Real>;

/** Few contents, so that pages are equal often and merge. */
const PATTERNS: readonly Pattern[] = [
  { kind: 'byte', byte: 0 },
  { kind: 'byte', byte: 1 },
  { kind: 'page-mod', period: 2, seed: 1n },
  { kind: 'zero' },
];
const WRITE_VALUES = [0, 1, 0xff] as const;

/** Every step ends with both verifiers: a broken invariant is caught where it broke. */
function verify(r: Real): void {
  mmVerify(r.sys.mmgr);
  ksmVerify(r.sys.ksm);
  const k = r.sys.ksm;
  const seen = r.seen;
  seen.steps++;
  if (k.pagesSharing > 0) seen.sharing++;
  if (k.stableNodeChains > 0) seen.chains++;
  if (k.zeroPages > 0) seen.zeroPages++;
  if (k.pagesShared > 0) seen.merging++;
}

/** Picks an element by an index generated before the model's size was known. */
function pick<T>(xs: readonly T[], i: number): T {
  return xs[i % xs.length]!;
}

/** A page range [from, from+n) of a region, from two free numbers. */
function pageRange(reg: NRegion, a: number, b: number): { from: number; n: number } {
  const from = a % reg.pages;
  return { from, n: 1 + (b % (reg.pages - from)) };
}

class Spawn implements Cmd {
  check(m: Readonly<Model>): boolean {
    return m.procs.length < MAX_PROCS;
  }
  run(m: Model, r: Real): void {
    m.procs.push({ task: spawnTask(r.sys.mmgr, 'prop'), regions: [] });
    verify(r);
  }
  toString(): string {
    return 'spawn';
  }
}

/** Base of commands acting on one process, named by an index taken modulo the process count. */
abstract class OnProc implements Cmd {
  readonly p: number;
  constructor(p: number) {
    this.p = p;
  }
  check(m: Readonly<Model>): boolean {
    return m.procs.length > 0;
  }
  proc(m: Model): NProc {
    return pick(m.procs, this.p);
  }
  abstract run(m: Model, r: Real): void;
  abstract toString(): string;
}

/** Base of commands acting on one region of one process. */
abstract class OnRegion extends OnProc {
  readonly r: number;
  constructor(p: number, r: number) {
    super(p);
    this.r = r;
  }
  override check(m: Readonly<Model>): boolean {
    return m.procs.length > 0 && m.procs.some((p) => p.regions.length > 0);
  }
  /** The region, skipping processes without one so the command always acts. */
  target(m: Model): { proc: NProc; reg: NRegion } {
    const withRegions = m.procs.filter((p) => p.regions.length > 0);
    const proc = pick(withRegions, this.p);
    return { proc, reg: pick(proc.regions, this.r) };
  }
}

class Mmap extends OnProc {
  readonly pages: number;
  readonly shared: boolean;
  readonly node: number | undefined;
  constructor(p: number, pages: number, shared: boolean, node: number | undefined) {
    super(p);
    this.pages = pages;
    this.shared = shared;
    this.node = node;
  }
  override check(m: Readonly<Model>): boolean {
    return m.procs.some((p) => p.regions.length < MAX_REGIONS);
  }
  run(m: Model, r: Real): void {
    const proc = pick(
      m.procs.filter((p) => p.regions.length < MAX_REGIONS),
      this.p,
    );
    const opts: { shared: boolean; node?: number } = { shared: this.shared };
    if (this.node !== undefined && this.node < m.nodes) opts.node = this.node;
    const addr = doMmap(r.sys.mmgr, proc.task.mm, this.pages * PAGE_SIZE, opts);
    assert.ok(addr > 0, `mmap failed: ${addr}`);
    proc.regions.push({ addr, pages: this.pages, shared: this.shared, bytes: new Uint8Array(this.pages * PAGE_SIZE) });
    verify(r);
  }
  toString(): string {
    return `mmap(p${this.p}, ${this.pages}p${this.shared ? ', shared' : ''}${this.node === undefined ? '' : `, node ${this.node}`})`;
  }
}

class Fill extends OnRegion {
  readonly pattern: number;
  readonly a: number;
  readonly b: number;
  constructor(p: number, r: number, pattern: number, a: number, b: number) {
    super(p, r);
    this.pattern = pattern;
    this.a = a;
    this.b = b;
  }
  run(m: Model, r: Real): void {
    const { proc, reg } = this.target(m);
    const { from, n } = pageRange(reg, this.a, this.b);
    const pattern = PATTERNS[this.pattern]!;
    const off = from * PAGE_SIZE;
    const len = n * PAGE_SIZE;
    assert.equal(fillUser(r.sys.mmgr, proc.task.mm, reg.addr + off, len, pattern, reg.addr), 0);
    fillPatternBytes(pattern, off, reg.bytes, off, len);
    verify(r);
  }
  toString(): string {
    return `fill(p${this.p}, r${this.r}, ${JSON.stringify(PATTERNS[this.pattern], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}, pages ${this.a}/${this.b})`;
  }
}

class Write extends OnRegion {
  readonly at: number;
  readonly len: number;
  readonly value: number;
  constructor(p: number, r: number, at: number, len: number, value: number) {
    super(p, r);
    this.at = at;
    this.len = len;
    this.value = value;
  }
  run(m: Model, r: Real): void {
    const { proc, reg } = this.target(m);
    const size = reg.pages * PAGE_SIZE;
    const off = this.at % (size - this.len + 1);
    const bytes = new Uint8Array(this.len).fill(this.value);
    assert.equal(writeUser(r.sys.mmgr, proc.task.mm, reg.addr + off, bytes), 0);
    reg.bytes.set(bytes, off);
    verify(r);
  }
  toString(): string {
    return `write(p${this.p}, r${this.r}, @${this.at}, ${this.len}x${this.value})`;
  }
}

class Read extends OnRegion {
  readonly at: number;
  readonly len: number;
  constructor(p: number, r: number, at: number, len: number) {
    super(p, r);
    this.at = at;
    this.len = len;
  }
  run(m: Model, r: Real): void {
    const { proc, reg } = this.target(m);
    const size = reg.pages * PAGE_SIZE;
    const len = Math.min(this.len, size);
    const off = this.at % (size - len + 1);
    const got = new Uint8Array(len);
    let at = 0;
    assert.equal(
      readUser(r.sys.mmgr, proc.task.mm, reg.addr + off, len, (buf, o, n) => {
        got.set(buf.subarray(o, o + n), at);
        at += n;
      }),
      0,
    );
    const want = reg.bytes.subarray(off, off + len);
    if (Buffer.compare(got, want) !== 0) {
      const i = got.findIndex((v, k) => v !== want[k]);
      assert.fail(
        `pid ${proc.task.pid} read ${got[i]} at region offset ${off + i} (${reg.shared ? 'shared' : 'private'}), wrote ${want[i]}`,
      );
    }
    verify(r);
  }
  toString(): string {
    return `read(p${this.p}, r${this.r}, @${this.at}, ${this.len})`;
  }
}

class Fork extends OnProc {
  override check(m: Readonly<Model>): boolean {
    return m.procs.length > 0 && m.procs.length < MAX_PROCS;
  }
  run(m: Model, r: Real): void {
    const parent = this.proc(m);
    const task = forkTask(r.sys.mmgr, parent.task);
    // Private bytes are copied; a shared region stays one object, seen by both.
    const regions = parent.regions.map((g) => (g.shared ? { ...g } : { ...g, bytes: g.bytes.slice() }));
    m.procs.push({ task, regions });
    verify(r);
  }
  toString(): string {
    return `fork(p${this.p})`;
  }
}

class Exec extends OnProc {
  run(m: Model, r: Real): void {
    const proc = this.proc(m);
    execTask(r.sys.mmgr, proc.task, 'prop2');
    proc.regions = [];
    verify(r);
  }
  toString(): string {
    return `exec(p${this.p})`;
  }
}

class Exit extends OnProc {
  run(m: Model, r: Real): void {
    const proc = this.proc(m);
    exitTask(r.sys.mmgr, proc.task);
    m.procs.splice(m.procs.indexOf(proc), 1);
    verify(r);
  }
  toString(): string {
    return `exit(p${this.p})`;
  }
}

class Munmap extends OnRegion {
  run(m: Model, r: Real): void {
    const { proc, reg } = this.target(m);
    assert.equal(doMunmap(r.sys.mmgr, proc.task.mm, reg.addr, reg.pages * PAGE_SIZE), 0);
    proc.regions.splice(proc.regions.indexOf(reg), 1);
    verify(r);
  }
  toString(): string {
    return `munmap(p${this.p}, r${this.r})`;
  }
}

const ADVICE = { MERGEABLE: MADV_MERGEABLE, UNMERGEABLE: MADV_UNMERGEABLE, DONTNEED: MADV_DONTNEED } as const;
type AdviceName = keyof typeof ADVICE;

class Madvise extends OnRegion {
  readonly advice: AdviceName;
  readonly a: number;
  readonly b: number;
  constructor(p: number, r: number, advice: AdviceName, a: number, b: number) {
    super(p, r);
    this.advice = advice;
    this.a = a;
    this.b = b;
  }
  run(m: Model, r: Real): void {
    const { proc, reg } = this.target(m);
    const { from, n } = pageRange(reg, this.a, this.b);
    const ret = doMadvise(r.sys.mmgr, proc.task.mm, reg.addr + from * PAGE_SIZE, n * PAGE_SIZE, ADVICE[this.advice]);
    assert.equal(ret, 0, `madvise ${this.advice} returned ${ret}`);
    // DONTNEED drops private anonymous pages (they read back as zeros); shmem keeps its data.
    if (this.advice === 'DONTNEED' && !reg.shared) reg.bytes.fill(0, from * PAGE_SIZE, (from + n) * PAGE_SIZE);
    verify(r);
  }
  toString(): string {
    return `madvise(p${this.p}, r${this.r}, ${this.advice}, pages ${this.a}/${this.b})`;
  }
}

class Prctl extends OnProc {
  readonly on: boolean;
  constructor(p: number, on: boolean) {
    super(p);
    this.on = on;
  }
  run(m: Model, r: Real): void {
    const ret = doPrctl(r.sys.mmgr, this.proc(m).task.mm, PR_SET_MEMORY_MERGE, this.on ? 1 : 0);
    assert.equal(ret, 0);
    verify(r);
  }
  toString(): string {
    return `prctl(p${this.p}, PR_SET_MEMORY_MERGE, ${this.on ? 1 : 0})`;
  }
}

class Sysfs implements Cmd {
  readonly file: string;
  readonly value: string;
  constructor(file: string, value: string) {
    this.file = file;
    this.value = value;
  }
  check(): boolean {
    return true;
  }
  run(_m: Model, r: Real): void {
    const ret = sysfsWrite(r.sys, `ksm/${this.file}`, this.value);
    // max_page_sharing and merge_across_nodes refuse while KSM pages exist; that is fine.
    const mayBeBusy = this.file === 'max_page_sharing' || this.file === 'merge_across_nodes';
    assert.ok(ret === 0 || (mayBeBusy && ret === -EBUSY), `ksm/${this.file} = ${this.value} returned ${ret}`);
    verify(r);
  }
  toString(): string {
    return `sysfs(${this.file}=${this.value})`;
  }
}

class RunFor implements Cmd {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  check(): boolean {
    return true;
  }
  run(_m: Model, r: Real): void {
    runFor(r.sys, this.ms);
    verify(r);
  }
  toString(): string {
    return `runFor(${this.ms}ms)`;
  }
}

class FullScan implements Cmd {
  check(): boolean {
    return true;
  }
  run(_m: Model, r: Real): void {
    if (r.sys.ksm.run !== 1 || whyKsmdIdle(r.sys) !== undefined) return;
    assert.equal(runFullScans(r.sys, 1), undefined);
    verify(r);
  }
  toString(): string {
    return 'runFullScans(1)';
  }
}

/**
 * The command mix, weighted towards what makes KSM work (mapping, filling with few patterns,
 * MADV_MERGEABLE, full scans) and away from what empties the machine (exit, exec, munmap).
 */
function commandArbs(nodes: number, shared: boolean): fc.Arbitrary<Cmd>[] {
  const idx = fc.nat(31);
  const page = fc.nat(7);
  const w = (weight: number, arbitrary: fc.Arbitrary<Cmd>) => ({ weight, arbitrary });
  return [
    fc.oneof(
      w(2, fc.constant(new Spawn())),
      w(
        4,
        fc
          .tuple(
            idx,
            fc.integer({ min: 1, max: 8 }),
            shared ? fc.boolean() : fc.constant(false),
            nodes > 1 ? fc.option(fc.nat(nodes - 1), { nil: undefined }) : fc.constant(undefined),
          )
          .map(([p, n, s, node]) => new Mmap(p, n, s, node)),
      ),
      w(
        6,
        fc
          .tuple(idx, idx, fc.nat(PATTERNS.length - 1), page, page)
          .map(([p, r, pat, a, b]) => new Fill(p, r, pat, a, b)),
      ),
      w(
        3,
        fc
          .tuple(idx, idx, fc.nat(8 * PAGE_SIZE), fc.integer({ min: 1, max: 8 }), fc.constantFrom(...WRITE_VALUES))
          .map(([p, r, at, len, v]) => new Write(p, r, at, len, v)),
      ),
      w(
        4,
        fc
          .tuple(idx, idx, fc.nat(8 * PAGE_SIZE), fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(8 * PAGE_SIZE)))
          .map(([p, r, at, len]) => new Read(p, r, at, len)),
      ),
      w(
        2,
        idx.map((p) => new Fork(p)),
      ),
      w(
        1,
        idx.map((p) => new Exec(p)),
      ),
      w(
        1,
        idx.map((p) => new Exit(p)),
      ),
      w(
        1,
        fc.tuple(idx, idx).map(([p, r]) => new Munmap(p, r)),
      ),
      w(
        5,
        fc
          .tuple(
            idx,
            idx,
            fc.constantFrom<AdviceName>('MERGEABLE', 'MERGEABLE', 'MERGEABLE', 'UNMERGEABLE', 'DONTNEED'),
            page,
            page,
          )
          .map(([p, r, adv, a, b]) => new Madvise(p, r, adv, a, b)),
      ),
      w(
        1,
        fc.tuple(idx, fc.boolean()).map(([p, on]) => new Prctl(p, on)),
      ),
      w(
        3,
        fc.oneof(
          fc.constantFrom('0', '1', '1', '1', '2').map((v) => new Sysfs('run', v)),
          fc.integer({ min: 1, max: 50 }).map((v) => new Sysfs('pages_to_scan', `${v}`)),
          fc.integer({ min: 2, max: 4 }).map((v) => new Sysfs('max_page_sharing', `${v}`)),
          fc.constantFrom('0', '1').map((v) => new Sysfs('use_zero_pages', v)),
          fc.constantFrom('0', '1').map((v) => new Sysfs('smart_scan', v)),
          fc.constantFrom('0', '1').map((v) => new Sysfs('merge_across_nodes', v)),
        ),
      ),
      w(
        2,
        fc.integer({ min: 1, max: 60 }).map((ms) => new RunFor(ms)),
      ),
      w(4, fc.constant(new FullScan())),
    ),
  ];
}

/** Runs one program from a fresh machine, then tears everything down and checks for leaks. */
function runProgram(
  seen: Seen,
  nodes: number,
  initial: readonly (readonly [string, string])[],
  mmForbidsZeropage: boolean,
  cmds: Iterable<Cmd>,
): void {
  seen.runs++;
  if (mmForbidsZeropage) seen.forbidden++;
  const sys = createSystem({ ram: 16 << 20, numaNodes: nodes, mmForbidsZeropage, checkCaches: true });
  for (const [file, value] of initial) assert.equal(sysfsWrite(sys, `ksm/${file}`, value), 0);
  const model: Model = { procs: [], nodes };
  const real: Real = { sys, seen };
  try {
    fc.modelRun(() => ({ model, real }), cmds);
    for (const p of [...model.procs]) exitTask(sys.mmgr, p.task);
    verify(real);
    // run_store unmerges only when the value changes: a program that ended with run=2 left
    // stable nodes that a still-mapped page kept busy then, and a second 2 would do nothing,
    // in Linux as in the model (found with another seed). So stop first, then unmerge.
    assert.equal(sysfsWrite(sys, 'ksm/run', '0'), 0);
    assert.equal(sysfsWrite(sys, 'ksm/run', '2'), 0);
    verify(real);
  } catch (e) {
    if (process.env.SAMEPAGE_PROPERTY_DEBUG === '1') console.error(e);
    throw e;
  }
  assert.equal(sys.ksm.rmapItems, 0);
  assert.equal(sys.ksm.pagesShared + sys.ksm.pagesSharing + sys.ksm.pagesUnshared, 0);
  assert.equal(sys.ksm.stableNodeChains + sys.ksm.stableNodeDups, 0);
  assert.equal(sys.ksm.zeroPages, 0);
  mmVerifyNoLeaks(sys.mmgr);
}

const NUM_RUNS = 1000;
const COMMANDS = { maxCommands: 150, size: 'large' } as const;

/** Knobs written before the program runs, so chains and zero pages are reachable from step one. */
const initialKnobs = fc
  .tuple(fc.constantFrom('2', '3', '4', '256'), fc.constantFrom('0', '1'), fc.constantFrom('5', '50', '100'))
  .map(([mps, zero, pts]): [string, string][] => [
    ['max_page_sharing', mps],
    ['use_zero_pages', zero],
    ['pages_to_scan', pts],
  ]);

/** Runs one property and reports how often KSM state was reached, failing if it never was. */
function property(
  t: test.TestContext,
  nodes: number,
  initial: readonly (readonly [string, string])[],
  seed: number,
): void {
  const seen: Seen = { runs: 0, steps: 0, sharing: 0, chains: 0, zeroPages: 0, merging: 0, forbidden: 0 };
  fc.assert(
    fc.property(initialKnobs, fc.commands(commandArbs(nodes, true), COMMANDS), fc.boolean(), (knobs, cmds, forbids) => {
      runProgram(seen, nodes, [...initial, ...knobs], forbids, cmds);
    }),
    { seed, numRuns: NUM_RUNS },
  );
  t.diagnostic(
    `steps ${seen.steps} in ${seen.runs} runs (${seen.forbidden} with the zero page forbidden); steps with KSM pages ${seen.merging}, with sharing ${seen.sharing}, with chains ${seen.chains}, with KSM zero pages ${seen.zeroPages}`,
  );
  assert.ok(
    seen.sharing > 0 && seen.zeroPages > 0 && seen.chains > 0 && seen.forbidden > 0 && seen.forbidden < seen.runs,
    'the programs never merged, chained or used zero pages, or never or always forbade the zero page: the property is vacuous',
  );
}

/**
 * The seeds: fixed, so that CI is repeatable, unless SAMEPAGE_PROPERTY_SEED names another
 * (the two-node property takes the next one). Other seeds reach other programs: seeds 20-81
 * found three failures the fixed ones never met (docs/divergences.md, "Stale per-node
 * unstable trees"), so a hunt with fresh seeds is worth a few minutes now and then.
 */
function seedOf(fixed: number, offset: number): number {
  const given = process.env.SAMEPAGE_PROPERTY_SEED;
  if (given === undefined || given === '') return fixed;
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`SAMEPAGE_PROPERTY_SEED must be a whole number, not '${given}'`);
  return seed + offset;
}

test('model property: every process reads what it wrote and every invariant holds (1 node)', (t) => {
  property(t, 1, [['run', '1']], seedOf(0x5a3e9a6e, 0));
});

test('model property: every process reads what it wrote and every invariant holds (2 nodes, merge_across_nodes 0)', (t) => {
  property(
    t,
    2,
    [
      ['merge_across_nodes', '0'],
      ['run', '1'],
    ],
    seedOf(0x2b0de5, 1),
  );
});

/** Two NUMA nodes, merge_across_nodes 0, ksmd visiting one page a batch, and a task with two mergeable pages. */
function twoNodesOnePagePerBatch(): { sys: System; t: Task; addr: number } {
  const sys = createSystem({ ram: 1 << 20, numaNodes: 2, checkCaches: true });
  for (const [f, v] of [
    ['merge_across_nodes', '0'],
    ['pages_to_scan', '1'],
    ['run', '1'],
  ] as const)
    assert.equal(sysfsWrite(sys, `ksm/${f}`, v), 0);
  const t = spawnTask(sys.mmgr, 'a');
  const addr = doMmap(sys.mmgr, t.mm, 2 * PAGE_SIZE);
  assert.equal(doMadvise(sys.mmgr, t.mm, addr, 2 * PAGE_SIZE, MADV_MERGEABLE), 0);
  return { sys, t, addr };
}

// Linux's merge_across_nodes_store allocates the per-node roots once (the first switch to 0,
// copying one_unstable_tree[0] into slot 0) and never replaces them: later switches only
// change ksm_nr_node_ids. rmap_items that entered root_unstable_tree[1] in this scan stay
// there, so remove_rmap_item_from_tree can rb_erase them from root_unstable_tree[nid] and a
// switch back to 0 in the same scan still finds them. The model once made fresh roots for
// every nid > 0 on every switch, orphaning those items.
test('merge_across_nodes store keeps the unstable items of other nodes in their tree', () => {
  const { sys, t, addr } = twoNodesOnePagePerBatch();
  // Frames are handed out round-robin: page 0 on node 0, page 1 on node 1.
  assert.equal(fillUser(sys.mmgr, t.mm, addr, 2 * PAGE_SIZE, { kind: 'byte', byte: 0 }, addr), 0);
  assert.equal(runFullScans(sys, 1), undefined); // first visits: checksums only
  // The second scan puts each page in its node's unstable tree: two one-page batches, one
  // every 24 ms at HZ=250 (sleep_millisecs 20 is 5 jiffies, ended on the 6th tick).
  runFor(sys, 49);
  const k = sys.ksm;
  assert.equal(k.pagesUnshared, 2);
  const item1 = k.rootUnstableTree[1]!.rbNode;
  assert.ok(item1 !== null);
  ksmVerify(k);
  assert.equal(sysfsWrite(sys, 'ksm/merge_across_nodes', '1'), 0);
  assert.equal(k.rootUnstableTree[1]!.rbNode, item1, 'node 1 item still in root_unstable_tree[1]');
  // Found by the property with another seed: the verifier skipped the root past
  // ksm_nr_node_ids but still expected this scan's node-1 item in the roots it checked.
  ksmVerify(k);
  assert.equal(sysfsWrite(sys, 'ksm/merge_across_nodes', '0'), 0);
  assert.equal(k.rootUnstableTree[1]!.rbNode, item1, 'and still there after switching back');
  ksmVerify(k);
});

// Across a scan it differs: Linux's next full scan empties only root 0, so root 1 keeps
// pointing at the last scan's item of node 1 after that item was linked into tree 0, and a
// switch back to 0 has ksmd walk it. The model empties root 1 with the rest
// (docs/divergences.md, "Stale per-node unstable trees"; found by the property, seed 67).
test('a full scan empties an unstable root that merge_across_nodes left out of use', () => {
  const { sys, t, addr } = twoNodesOnePagePerBatch();
  // Two different pages, so that nothing merges: page 0 on node 0, page 1 on node 1.
  assert.equal(fillUser(sys.mmgr, t.mm, addr, PAGE_SIZE, { kind: 'byte', byte: 1 }, addr), 0);
  assert.equal(fillUser(sys.mmgr, t.mm, addr + PAGE_SIZE, PAGE_SIZE, { kind: 'byte', byte: 2 }, addr), 0);
  assert.equal(runFullScans(sys, 1), undefined);
  runFor(sys, 49); // the second scan puts each page in its node's tree
  const k = sys.ksm;
  assert.notEqual(k.rootUnstableTree[1]!.rbNode, k.unstableNodes.nil);
  assert.equal(sysfsWrite(sys, 'ksm/merge_across_nodes', '1'), 0);
  assert.equal(runFullScans(sys, 1), undefined); // the second scan ends
  runFor(sys, 49); // the third puts both pages in tree 0
  assert.equal(k.pagesUnshared, 2);
  assert.equal(k.rootUnstableTree[1]!.rbNode, k.unstableNodes.nil, 'root 1 emptied at the third scan');
  ksmVerify(k);
  assert.equal(sysfsWrite(sys, 'ksm/merge_across_nodes', '0'), 0);
  ksmVerify(k);
  assert.equal(runFullScans(sys, 2), undefined);
  ksmVerify(k);
  assert.equal(k.pagesShared, 0, 'two different pages never merge');
});
