import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KsmProcessStat } from './ksm_stat.ts';
import { MergeableVmas } from './mergeable_vmas.ts';

/** A mapping as smaps shows it: its maps line, Anonymous, KSM, Shared_Dirty and VmFlags (other fields left out). */
interface Vma {
  readonly line: string;
  readonly anonKb: number;
  readonly flags: string;
  readonly ksmKb?: number;
  readonly sharedKb?: number;
  /** Rss when more than Anonymous (file pages). */
  readonly rssKb?: number;
}

const HEAP: Vma = { line: '10000-20000 rw-p 00000000 00:00 0 ', anonKb: 64, flags: 'rd wr mr mw me ac' };
const MERGEABLE: Vma = { line: '40000-80000 rw-p 00000000 00:00 0 ', anonKb: 128, flags: 'rd wr mr mw me ac mg' };
const EMPTY_MG: Vma = { line: 'a0000-c0000 rw-p 00000000 00:00 0 ', anonKb: 0, flags: 'rd wr mr mw me ac mg' };
const RESERVED_MG: Vma = { line: 'd0000-f0000 ---p 00000000 00:00 0 ', anonKb: 0, flags: 'mr mw me ac mg' };

function write(proc: string, pid: number, vmas: readonly Vma[], smapsVmas: readonly Vma[] = vmas): void {
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(join(proc, String(pid), 'maps'), vmas.map((v) => `${v.line}\n`).join(''));
  writeFileSync(
    join(proc, String(pid), 'smaps'),
    smapsVmas
      .map(
        (v) =>
          `${v.line}\nSize: 64 kB\nRss: ${v.rssKb ?? v.anonKb} kB\nShared_Clean: 0 kB\nShared_Dirty: ${v.sharedKb ?? 0} kB\n` +
          `Anonymous: ${v.anonKb} kB\nKSM: ${v.ksmKb ?? 0} kB\nVmFlags: ${v.flags} \n`,
      )
      .join(''),
  );
}

function stat(pid: number, merging: number, rmap = merging): KsmProcessStat {
  return {
    pid,
    comm: 'p',
    ksm_rmap_items: rmap,
    ksm_zero_pages: 0,
    ksm_merging_pages: merging,
    ksm_process_profit: 0,
    ksm_merge_any: false,
    ksm_mergeable: true,
  };
}

test('MergeableVmas reads smaps again only when maps, the KSM counters or the age say so', (t) => {
  const proc = mkdtempSync(join(tmpdir(), 'samepage-vmas-'));
  t.after(() => rmSync(proc, { recursive: true, force: true }));
  let now = 0;
  const vmas = new MergeableVmas({ proc, now: () => now, maxAgeMs: 1000 });
  write(proc, 7, [HEAP, MERGEABLE, EMPTY_MG, RESERVED_MG]);

  const first = vmas.ranges(stat(7, 10));
  assert.equal(first.smapsRead, true);
  assert.deepEqual(first.ranges, [{ start: 0x40000, end: 0x80000 }], 'mergeable mappings with anonymous pages only');

  // Nothing changed: smaps is not read, and the empty accessible mapping is read too (pages may
  // have been faulted in since), the PROT_NONE one not (it cannot gain pages unless maps changes).
  const again = vmas.ranges(stat(7, 10));
  assert.equal(again.smapsRead, false);
  assert.deepEqual(again.ranges, [
    { start: 0x40000, end: 0x80000 },
    { start: 0xa0000, end: 0xc0000 },
  ]);

  // madvise(MADV_MERGEABLE) of the heap, exactly: maps is the same, smaps's flags are not.
  write(proc, 7, [HEAP, MERGEABLE, EMPTY_MG, RESERVED_MG], [{ ...HEAP, flags: `${HEAP.flags} mg` }, MERGEABLE]);
  assert.equal(vmas.ranges(stat(7, 10)).smapsRead, false, 'unseen while the counters stand still');
  const merged = vmas.ranges(stat(7, 12, 30));
  assert.equal(merged.smapsRead, true, 'ksmd scanned and merged there: the counters moved');
  assert.deepEqual(merged.ranges, [
    { start: 0x10000, end: 0x20000 },
    { start: 0x40000, end: 0x80000 },
  ]);

  // A mapping added: maps changes.
  const added: Vma = { line: '100000-110000 rw-p 00000000 00:00 0 ', anonKb: 8, flags: 'rd wr mg' };
  write(proc, 7, [HEAP, MERGEABLE, added]);
  assert.equal(vmas.ranges(stat(7, 12, 30)).smapsRead, true);
  assert.equal(vmas.ranges(stat(7, 12, 30)).smapsRead, false);

  // Past maxAgeMs smaps is read whatever else.
  now = 1001;
  assert.equal(vmas.ranges(stat(7, 12, 30)).smapsRead, true);
  assert.equal(vmas.ranges(stat(7, 12, 30), { forceSmaps: true }).smapsRead, true);

  // MERGE_ANY turned on is a counter too.
  assert.equal(vmas.ranges({ ...stat(7, 12, 30), ksm_merge_any: true }).smapsRead, true);

  // An exited process is forgotten; a gone one throws.
  vmas.keepOnly(new Set());
  assert.equal(vmas.size, 0);
  assert.throws(() => vmas.ranges(stat(8, 1)), /ENOENT/);
});

test('MergeableVmas keys what it learnt on the mappings smaps showed, not on an earlier maps', (t) => {
  // maps read, then the process maps something, then smaps read: the next reading's maps
  // differs from what smaps described only if it changed again, so the key is smaps's view.
  const proc = mkdtempSync(join(tmpdir(), 'samepage-vmas-'));
  t.after(() => rmSync(proc, { recursive: true, force: true }));
  const vmas = new MergeableVmas({ proc, now: () => 0 });
  write(proc, 9, [HEAP], [HEAP, MERGEABLE]);
  assert.equal(vmas.ranges(stat(9, 1)).smapsRead, true);
  write(proc, 9, [HEAP, MERGEABLE]);
  const r = vmas.ranges(stat(9, 1));
  assert.equal(r.smapsRead, false, 'maps now shows what smaps showed');
  assert.deepEqual(r.ranges, [{ start: 0x40000, end: 0x80000 }]);
});

test('MergeableVmas reads smaps every time for a process whose unmergeable mappings may hold KSM pages', (t) => {
  // A child forked before its parent's merge: its heap is not mergeable, but maps the pages
  // the parent's merge made KSM pages in place. madvise(MADV_MERGEABLE) over the whole heap
  // changes neither maps nor ksm_stat, and the heap's KSM pages count at once.
  const proc = mkdtempSync(join(tmpdir(), 'samepage-vmas-'));
  t.after(() => rmSync(proc, { recursive: true, force: true }));
  const vmas = new MergeableVmas({ proc, now: () => 0, maxAgeMs: 1000 });
  for (const [pid, heap] of [
    [1, { ...HEAP, ksmKb: 4 }],
    [2, { ...HEAP, sharedKb: 64 }],
    [3, { ...HEAP, sharedKb: 4 }], // some of its pages shared
    [4, HEAP],
    // A library's data: copied-on-write pages and the file's, which other processes map.
    [5, { ...HEAP, line: '10000-20000 rw-p 00003000 fe:00 1234 /usr/lib/libc.so.6', rssKb: 72, sharedKb: 8 }],
  ] as const) {
    write(proc, pid, [heap, MERGEABLE]);
    assert.equal(vmas.ranges(stat(pid, 10)).smapsRead, true);
    assert.equal(vmas.ranges(stat(pid, 10)).smapsRead, pid <= 3, `process ${pid}`);
  }
  const madvised = { ...HEAP, ksmKb: 4, flags: `${HEAP.flags} mg` };
  write(proc, 1, [HEAP, MERGEABLE], [madvised, MERGEABLE]);
  assert.deepEqual(vmas.ranges(stat(1, 10)).ranges, [
    { start: 0x10000, end: 0x20000 },
    { start: 0x40000, end: 0x80000 },
  ]);
});
