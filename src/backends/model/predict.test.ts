import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSnapshot, type Snapshot, type SnapshotProcessInput, writeSnapshot } from '../../host/snapshot.ts';
import { parseKnob, predictSnapshot, PredictError } from './predict.ts';

const PAGE = 4096;

/** A process whose one mapping holds `pages` in order, at a base chosen by its pid. */
function proc(pid: number, comm: string, pages: readonly Buffer[]): SnapshotProcessInput {
  const base = 0x7f00_0000_0000 + pid * 0x1000_0000;
  const buf = Buffer.concat(pages);
  return {
    pid,
    comm,
    vmas: [{ start: base, end: base + pages.length * PAGE, perms: 'rw-p', offset: 0, path: '' }],
    pages: function* () {
      for (let i = 0; i < pages.length; i++) yield { address: base + i * PAGE, buffer: buf, offset: i * PAGE };
    },
  };
}

function unique(n: number, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(PAGE);
    b.writeUInt32LE(seed * 100_000 + i + 1, 0);
    return b;
  });
}

/**
 * Two processes: 12 pages of 0xFF and 8 zero pages between them, 30 unique pages. By KSM's
 * definitions (mm/ksm.c): 12 identical pages make 1 KSM page and 11 sharing, 8 zero pages
 * 1 and 7 (use_zero_pages=0), or 8 KSM zero pages and no KSM page (use_zero_pages=1).
 */
async function snapshotFile(dir: string, hashesOnly: boolean): Promise<Snapshot> {
  const ones = Buffer.alloc(PAGE, 0xff);
  const zero = Buffer.alloc(PAGE);
  const file = join(dir, hashesOnly ? 'h.snap' : 'a.snap');
  writeSnapshot(
    file,
    [
      proc(1, 'app', [...Array(7).fill(ones), ...Array(5).fill(zero), ...unique(20, 1)]),
      proc(2, 'app', [...unique(10, 2), ...Array(5).fill(ones), ...Array(3).fill(zero)]),
    ],
    { hashesOnly },
  );
  const r = await readSnapshot(file);
  if (!r.ok) assert.fail(r.problem);
  return r.snapshot;
}

function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-predict-'));
  return f(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('predictSnapshot under KSM merges each group of identical pages into one KSM page', () =>
  withDir(async (dir) => {
    const { prediction, run } = await predictSnapshot(await snapshotFile(dir, false), 'a.snap', {
      policy: 'ksm',
      settings: [],
      seed: 0,
    });
    assert.equal(prediction.pages, 50);
    assert.equal(prediction.pages_shared, 2);
    assert.equal(prediction.pages_sharing, 11 + 7);
    assert.equal(prediction.saving_pages, 18);
    assert.equal(prediction.rmap_items, 50);
    // general_profit = pages_sharing * 4096 - rmap_items * sizeof(struct ksm_rmap_item) (64).
    assert.equal(prediction.general_profit, 18 * 4096 - 50 * 64);
    assert.deepEqual(Object.keys(prediction.by_process), ['app:1', 'app:2']);
    assert.equal(
      prediction.by_process['app:1']!.ksm_merging_pages + prediction.by_process['app:2']!.ksm_merging_pages,
      20,
    );
    assert.equal(run.records[0]!.label, 'loaded');
    assert.equal(run.records.at(-1)!.label, 'settled');
    assert.equal(run.records.at(-1)!.procs['app:1']!.ksm_merge_any, true);
    assert.ok(prediction.settle_s > 0 && prediction.cpu_s > 0);
  }));

test('predictSnapshot with use_zero_pages=1 maps zero pages to the zero page (ksm_zero_pages)', () =>
  withDir(async (dir) => {
    const settings = [parseKnob('use_zero_pages=1', 'ksm')];
    const { prediction } = await predictSnapshot(await snapshotFile(dir, false), 'a.snap', {
      policy: 'ksm',
      settings,
      seed: 0,
    });
    assert.equal(prediction.ksm_zero_pages, 8);
    assert.equal(prediction.pages_shared, 1);
    assert.equal(prediction.pages_sharing, 11);
    assert.equal(prediction.saving_pages, 19);
  }));

test('predictSnapshot of a hashes-only snapshot merges the same pages', () =>
  withDir(async (dir) => {
    const { prediction } = await predictSnapshot(await snapshotFile(dir, true), 'h.snap', {
      policy: 'ksm',
      settings: [],
      seed: 0,
    });
    assert.equal(prediction.synthetic_contents, true);
    assert.equal(prediction.pages_shared, 2);
    assert.equal(prediction.pages_sharing, 18);
  }));

test('predictSnapshot under KSM+ names the programs and merges the same groups', () =>
  withDir(async (dir) => {
    const { prediction, run } = await predictSnapshot(await snapshotFile(dir, false), 'a.snap', {
      policy: 'ksm+',
      settings: [],
      seed: 1,
    });
    assert.equal(prediction.pages_sharing, 18);
    assert.equal(run.records.at(-1)!.ksmplus?.processes_to_scan, 'app');
  }));

test('predictSnapshot under plus marks only the duplicate pages: the same merges with one rmap_item each', () =>
  withDir(async (dir) => {
    const { prediction, run } = await predictSnapshot(await snapshotFile(dir, false), 'a.snap', {
      policy: 'plus',
      settings: [parseKnob('merge_gap=0', 'plus')],
      seed: 0,
    });
    assert.equal(prediction.pages_sharing, 18);
    // The 12 0xFF and 8 zero pages, each process's in one run: ksmd sees those 20 pages only.
    assert.equal(prediction.rmap_items, 20);
    assert.equal(prediction.general_profit, 18 * 4096 - 20 * 64);
    assert.deepEqual(prediction.daemon && [prediction.daemon.marked_ranges, prediction.daemon.marked_pages], [2, 20]);
    assert.equal(run.records.at(-1)!.plus?.processes_to_scan, 'app');
  }));

test('predictSnapshot reports a knob write that fails with its errno name', () =>
  withDir(async (dir) => {
    const snap = await snapshotFile(dir, false);
    await assert.rejects(
      predictSnapshot(snap, 'a.snap', { policy: 'ksm', settings: [parseKnob('max_page_sharing=1', 'ksm')], seed: 0 }),
      (e: unknown) =>
        e instanceof PredictError && /ksm\/max_page_sharing=1: the write fails with EINVAL/.test(e.message),
    );
    await assert.rejects(
      predictSnapshot(snap, 'a.snap', { policy: 'ksm', settings: [parseKnob('ksm/nonesuch=1', 'ksm')], seed: 0 }),
      /no such file/,
    );
  }));

test("parseKnob resolves a bare name in the policy's directory and refuses run", () => {
  assert.deepEqual(parseKnob('pages_to_scan=1000', 'ksm'), { path: 'ksm/pages_to_scan', value: '1000' });
  assert.deepEqual(parseKnob('pages_to_scan=1000', 'ksm+'), { path: 'ksm+/pages_to_scan', value: '1000' });
  assert.deepEqual(parseKnob('merge_gap=0', 'plus'), { path: '/run/samepage/ksm+/merge_gap', value: '0' });
  assert.throws(() => parseKnob('run=1', 'plus'), /run is switched on by the policy/);
  assert.deepEqual(parseKnob('ksm/use_zero_pages = 1', 'ksm+'), { path: 'ksm/use_zero_pages', value: '1' });
  assert.throws(() => parseKnob('pages_to_scan', 'ksm'), /expected knob=value/);
  assert.throws(() => parseKnob('run=1', 'ksm'), /run is switched on by the policy/);
});

test('predictSnapshot refuses a snapshot whose page lies outside its mappings', () =>
  withDir(async (dir) => {
    const file = join(dir, 'bad.snap');
    const p = proc(3, 'app', [Buffer.alloc(PAGE, 1), Buffer.alloc(PAGE, 1)]);
    writeSnapshot(file, [{ ...p, vmas: [{ ...p.vmas[0]!, end: p.vmas[0]!.start + PAGE }] }]);
    const r = await readSnapshot(file);
    if (!r.ok) assert.fail(r.problem);
    await assert.rejects(
      predictSnapshot(r.snapshot, 'bad.snap', { policy: 'ksm', settings: [], seed: 0 }),
      (e: unknown) => e instanceof PredictError && /page 0x[0-9a-f]+ lies in no mapping/.test(e.message),
    );
  }));

test('predictSnapshot keeps pages a forked child shares in one frame: KSM cannot merge a page with itself', () =>
  withDir(async (dir) => {
    // Parent and child map the same 6 frames of distinct contents (as after fork): Linux's
    // unstable_tree_search_insert stops at a tree page that is the page itself, so nothing
    // merges, though each content appears twice. Counted as separate frames, it would.
    const file = join(dir, 'fork.snap');
    const pages = unique(6, 7);
    const parent = proc(10, 'app', pages);
    const child = proc(11, 'app', pages);
    const withFrames = (p: SnapshotProcessInput, base: number): SnapshotProcessInput => ({
      ...p,
      vmas: [{ ...parent.vmas[0]! }],
      pages: function* () {
        let i = 0;
        for (const pg of p.pages()) yield { ...pg, address: parent.vmas[0]!.start + i * PAGE, frame: base + i++ };
      },
    });
    writeSnapshot(file, [withFrames(parent, 100), withFrames(child, 100)]);
    const r = await readSnapshot(file);
    if (!r.ok) assert.fail(r.problem);
    const { prediction } = await predictSnapshot(r.snapshot, 'fork.snap', { policy: 'ksm', settings: [], seed: 0 });
    assert.equal(prediction.pages, 12);
    assert.equal(prediction.rmap_items, 12);
    assert.equal(prediction.pages_shared, 0);
    assert.equal(prediction.pages_sharing, 0);
  }));
