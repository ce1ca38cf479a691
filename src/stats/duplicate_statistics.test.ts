import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DuplicateStatistics, duplicateStatistics } from './duplicate_statistics.ts';
import { renderStatisticsText, statisticsJson } from './render.ts';
import type { Page, PageOwner, PageSource } from './page_source.ts';

const PAGE = 4096;

/** A source over whole pages held in one buffer, like a chunked reader lends them. */
function source(owner: PageOwner, pages: readonly Buffer[]): PageSource {
  const buf = Buffer.concat(pages);
  return {
    *pages(): Iterable<Page> {
      for (let i = 0; i < pages.length; i++)
        yield { owner, address: 0x10000 + i * PAGE, buffer: buf, offset: i * PAGE };
    },
  };
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const zero = Buffer.alloc(PAGE);
const ones = Buffer.alloc(PAGE, 0xff);

test('result counts pages, unique pages, duplicate pages and the saving as the thesis does', () => {
  const a: PageOwner = { pid: 10, comm: 'okular' };
  const b: PageOwner = { pid: 11, comm: 'okular' };
  const r1 = randomBytes(PAGE);
  const s = new DuplicateStatistics();
  s.addAll(source(a, [ones, ones, ones, zero, r1, randomBytes(PAGE)]));
  s.addAll(source(b, [ones, zero, r1, randomBytes(PAGE)]));
  const r = s.result();
  assert.equal(r.pages, 10);
  assert.equal(r.unique_pages, 2);
  assert.equal(r.duplicate_pages, 8); // 4 ones, 2 zero, 2 r1
  assert.equal(r.saving_pages, 8 - 3); // Σ(count − 1): 8 pages merge into 3
  assert.deepEqual(r.top[0], { count: 4, frames: 4, md5: md5(ones), class: 'ones' });
  assert.deepEqual(
    r.top.map((g) => g.count),
    [4, 2, 2],
  );
  // Ties are ordered by MD5.
  assert.ok(r.top[1]!.md5 < r.top[2]!.md5);
  assert.deepEqual(r.by_process['10'], { comm: 'okular', pages: 6, duplicate_pages: 5, saving_pages: 2 });
  assert.deepEqual(r.by_process['11'], { comm: 'okular', pages: 4, duplicate_pages: 3, saving_pages: 0 });
});

test('result limits top to the highest groups and never lists pages without a duplicate', () => {
  const o: PageOwner = { pid: 1, comm: 'x' };
  const r = duplicateStatistics(source(o, [ones, ones, zero, zero, zero, randomBytes(PAGE)]), { top: 1 });
  assert.deepEqual(
    r.top.map(({ frames: _f, ...g }) => g),
    [{ count: 3, md5: md5(zero), class: 'zero' }],
  );
  assert.equal(duplicateStatistics(source(o, [randomBytes(PAGE)])).top.length, 0);
});

test('addFingerprint counts pages known only by their MD5 as add counts the pages themselves', () => {
  const o: PageOwner = { pid: 1, comm: 'x' };
  const other = randomBytes(PAGE);
  const pages = [ones, zero, other, ones, other, other];
  const byBytes = duplicateStatistics(source(o, pages));
  const byMd5 = new DuplicateStatistics();
  for (const p of pages)
    byMd5.addFingerprint(o, createHash('md5').update(p).digest(), p === ones ? 'ones' : p === zero ? 'zero' : 'other');
  assert.deepEqual(byMd5.result(), byBytes);
  assert.deepEqual(
    byBytes.top.map((g) => [g.count, g.md5]),
    [
      [3, md5(other)],
      [2, md5(ones)],
    ].sort((a, b) => (b[0] as number) - (a[0] as number)),
  );
});

test('DuplicateStatistics refuses to mix pages counted by bytes and by MD5', () => {
  const s = new DuplicateStatistics();
  s.addAll(source({ pid: 1, comm: 'x' }, [ones]));
  assert.throws(
    () => s.addFingerprint({ pid: 2, comm: 'y' }, createHash('md5').update(ones).digest(), 'ones'),
    /by their bytes or by their MD5, not both/,
  );
});

test('renderStatisticsText prints COUNT MD5 CLASS lines then the two summary lines', () => {
  const o: PageOwner = { pid: 1, comm: 'x' };
  const r = duplicateStatistics(source(o, [ones, ones, ones, zero, zero, randomBytes(PAGE)]));
  assert.equal(
    renderStatisticsText(r),
    `3 ${md5(ones)} ones\n2 ${md5(zero)} zero\n1 page without duplicate\n3 pages saved by merging (5 duplicate pages in 2 groups)\n`,
  );
});

test('renderStatisticsText keeps the summary within a byte limit and says what it left out', () => {
  const o: PageOwner = { pid: 1, comm: 'x' };
  const pages: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const p = Buffer.alloc(PAGE, i);
    pages.push(p, p);
  }
  const text = renderStatisticsText(duplicateStatistics(source(o, pages)), 4096);
  assert.ok(text.length <= 4096, `length ${text.length}`);
  assert.match(text, /\n\.\.\. \d+ more\n0 pages without duplicate\n200 pages saved by merging/);
});

test('statisticsJson has exactly the documented keys', () => {
  const r = duplicateStatistics(source({ pid: 1, comm: 'x' }, [zero, zero]));
  const parsed = JSON.parse(statisticsJson(r)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), [
    'pages',
    'unique_pages',
    'duplicate_pages',
    'saving_pages',
    'top',
    'by_process',
  ]);
});

test("pages in one frame (a forked child's) count as pages but free nothing when merged", () => {
  const a: PageOwner = { pid: 1, comm: 'parent' };
  const b: PageOwner = { pid: 2, comm: 'child' };
  const s = new DuplicateStatistics();
  const page = (owner: PageOwner, bytes: Buffer, frame: number): Page => ({
    owner,
    address: frame * PAGE,
    buffer: bytes,
    offset: 0,
    frame,
  });
  // ones: frames 10 and 11, each mapped by parent and child; zero: one frame in both.
  for (const p of [
    page(a, ones, 10),
    page(a, ones, 11),
    page(b, ones, 10),
    page(b, ones, 11),
    page(a, zero, 20),
    page(b, zero, 20),
  ])
    s.add(p);
  const r = s.result();
  assert.equal(r.pages, 6);
  assert.equal(r.frames, 3);
  assert.deepEqual(r.top, [{ count: 4, frames: 2, md5: md5(ones), class: 'ones' }]);
  assert.equal(r.saving_pages, 1); // two frames of ones become one; the shared zero frame frees nothing
  assert.equal(r.unique_pages, 2);
  assert.equal(r.duplicate_pages, 4);
  assert.deepEqual([r.by_process['1']!.saving_pages, r.by_process['2']!.saving_pages], [1, 1]);
});
