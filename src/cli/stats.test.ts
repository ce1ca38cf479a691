import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.ts';
import { statisticsTitle } from '../report/stats_report.ts';
import { capture } from '../term/testing.ts';

const SCENARIO = `version: 1
name: stats-cli
steps:
  - spawn: { proc: a, comm: viewer }
  - spawn: { proc: b, comm: editor }
  - mmap: { proc: a, region: r, size: 40960 }
  - fill: { proc: a, region: r, pattern: { byte: 255 } }
  - mmap: { proc: b, region: r, size: 8192 }
  - fill: { proc: b, region: r, pattern: zero }
`;

test("stats FILE.yaml runs the scenario on the model and counts its processes' pages", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-stats-'));
  try {
    const file = join(dir, 's.yaml');
    writeFileSync(file, SCENARIO);
    let c = capture();
    assert.equal(await main(['stats', file, '--json'], c.io), 0, c.err());
    const all = JSON.parse(c.out()) as { pages: number; saving_pages: number; top: { count: number; class: string }[] };
    assert.equal(all.pages, 12);
    assert.equal(all.saving_pages, 9 + 1);
    assert.deepEqual(
      all.top.map((g) => [g.count, g.class]),
      [
        [10, 'ones'],
        [2, 'zero'],
      ],
    );

    c = capture();
    assert.equal(await main(['stats', file, '--proc', 'editor', '--json'], c.io), 0, c.err());
    assert.equal((JSON.parse(c.out()) as { pages: number }).pages, 2);

    c = capture();
    assert.equal(await main(['stats', file], c.io), 0);
    assert.match(c.out(), /pages merging would free\s*│ 10 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stats refuses a missing source, a bad pid and a damaged file with one line and exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-stats-'));
  try {
    const damaged = join(dir, 'x.snap');
    writeFileSync(damaged, Buffer.concat([Buffer.from('SPSNAP\r\n', 'latin1'), Buffer.alloc(100)]));
    for (const args of [['stats'], ['stats', '--pid', 'abc'], ['stats', damaged], ['snapshot', '--pid', '1']]) {
      const c = capture();
      assert.equal(await main(args, c.io), 2, args.join(' '));
      assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack trace');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the report's title names what was counted: a file, processes by pid, every process of a name", () => {
  assert.equal(statisticsTitle('s.yaml', {}), 'Duplicate pages of s.yaml');
  assert.equal(statisticsTitle(undefined, { pid: [25291] }), 'Duplicate pages of process 25291');
  assert.equal(
    statisticsTitle(undefined, { pid: [1, 2], name: ['okular'] }),
    'Duplicate pages of processes 1, 2 and every okular',
  );
});

test('stats --proc: a name that matches no process is a warning, and when none matches an error (exit 2), never a table of zeros', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-stats-'));
  try {
    const file = join(dir, 's.yaml');
    writeFileSync(file, SCENARIO);
    const none = capture();
    assert.equal(await main(['stats', file, '--proc', 'viewr'], none.io), 2);
    assert.match(none.err(), /No process of comm "viewr" in the scenario at its end \(its processes: viewer, editor\)/);
    assert.equal(none.out(), '');
    const some = capture();
    assert.equal(await main(['stats', file, '--proc', 'viewr', '--proc', 'viewer', '--json'], some.io), 0);
    assert.match(some.err(), /warning: No process of comm "viewr"/);
    assert.equal((JSON.parse(some.out()) as { pages: number }).pages, 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
