import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PAGE_SIZE } from '../lib/sizes.ts';
import {
  entryBuffer,
  forEachPagemapEntry,
  KPAGEFLAGS,
  KpageFile,
  KPF_ZERO_PAGE,
  PM_PRESENT_HI,
  pagemapPfn,
} from './pagemap.ts';
import { parseMaps } from '../lib/proc_maps.ts';

/** A file laid out as /proc/kpageflags: word i holds (i * 7) in its low half and i in its high half. */
function fakeKpageFile(frames: number): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-kpage-'));
  const buf = Buffer.alloc(frames * 8);
  for (let i = 0; i < frames; i++) {
    buf.writeUInt32LE((i * 7) >>> 0, i * 8);
    buf.writeUInt32LE(i, i * 8 + 4);
  }
  const path = join(dir, 'kpageflags');
  writeFileSync(path, buf);
  return { path, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('KpageFile.read returns each wanted frame whatever the batching, in fewer reads when frames are near', () => {
  const f = fakeKpageFile(5000);
  try {
    const pfns = [0, 1, 2, 10, 11, 200, 201, 1000, 4000, 4999, 5000, 9000];
    const want = pfns.map((p) => (p < 5000 ? (p * 7) >>> 0 : 0));
    const wantHi = pfns.map((p) => (p < 5000 ? p : 0));
    const reads: number[] = [];
    for (const batching of [
      { maxSpan: 1, maxGap: 1 },
      { maxSpan: 4, maxGap: 8 },
      { maxSpan: 16384, maxGap: 64 },
      { maxSpan: 100000, maxGap: 100000 },
    ]) {
      const k = new KpageFile(f.path, batching);
      const lo = new Uint32Array(pfns.length);
      const hi = new Uint32Array(pfns.length);
      k.read(pfns, pfns.length, lo, hi);
      assert.deepEqual([...lo], want, JSON.stringify(batching));
      assert.deepEqual([...hi], wantHi, JSON.stringify(batching));
      reads.push(k.stats.reads);
      k.close();
    }
    assert.deepEqual(reads, [12, 7, 6, 1], 'reads per batching');
    assert.throws(() => new KpageFile(f.path, { maxSpan: 0, maxGap: 1 }), /at least 1 frame/);
  } finally {
    f.done();
  }
});

test('KpageFile.read reads frames in any order right (virtual order, repeats), batching only ascending runs', () => {
  const f = fakeKpageFile(5000);
  try {
    const pfns = [300, 301, 302, 7, 8, 300, 4999, 4998, 6000, 12];
    const k = new KpageFile(f.path, { maxSpan: 256, maxGap: 1 });
    const lo = new Uint32Array(pfns.length);
    k.read(pfns, pfns.length, lo);
    assert.deepEqual(
      [...lo],
      pfns.map((p) => (p < 5000 ? (p * 7) >>> 0 : 0)),
    );
    // 300-302, 7-8, 300, 4999, 4998, 6000, 12: a read per ascending run of neighbours.
    assert.equal(k.stats.reads, 7);
    k.close();
  } finally {
    f.done();
  }
});

test('forEachPagemapEntry reads every entry of a range in several reads; root sees frames that are not the zero page', (t) => {
  let fd: number;
  try {
    fd = openSync('/proc/self/pagemap', 'r');
  } catch (e) {
    t.skip(`cannot open /proc/self/pagemap: ${String(e)}`);
    return;
  }
  try {
    // A heap buffer: its first page is written, so it is present.
    const data = Buffer.alloc(4 * PAGE_SIZE, 1);
    const maps = parseMaps(readFileSync('/proc/self/maps', 'utf8'));
    assert.ok(maps.length > 0);
    const seen: { vpn: number; lo: number; hi: number }[] = [];
    const heap = maps.find((m) => m.path === '[heap]') ?? maps[0]!;
    const end = forEachPagemapEntry(fd, heap.start / PAGE_SIZE, heap.end / PAGE_SIZE, entryBuffer(7), (vpn, lo, hi) =>
      seen.push({ vpn, lo, hi }),
    );
    assert.equal(end, heap.end / PAGE_SIZE);
    assert.equal(seen.length, (heap.end - heap.start) / PAGE_SIZE, 'one entry per page, across several reads');
    assert.ok(seen.some((e) => (e.hi & PM_PRESENT_HI) !== 0));
    if (process.getuid?.() !== 0) return;
    const present = seen.find((e) => (e.hi & PM_PRESENT_HI) !== 0)!;
    assert.ok(pagemapPfn(present.lo, present.hi) > 0, 'root sees frame numbers');
    const flags = new KpageFile(KPAGEFLAGS);
    try {
      assert.equal(flags.readOne(pagemapPfn(present.lo, present.hi)) & KPF_ZERO_PAGE, 0);
    } finally {
      flags.close();
    }
    assert.equal(data[0], 1);
  } finally {
    closeSync(fd);
  }
});
