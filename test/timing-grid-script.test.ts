/**
 * scripts/timing-grid.mjs's offline modes as their users run them, without the live machine:
 * --verdicts counts a kept grid's cells under the two readings of the timing criterion
 * (src/differential/grid_verdicts.ts), --spread finds the cells no one model value passes in
 * every file (src/differential/grid_spread.ts), --remodel runs this build's model against a kept
 * cell, at the calibration's speed and at the kernel's, and it, --agreement and the grid
 * itself refuse bad arguments and bad files with a message and exit 2 before anything live runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';

const ROOT = packageRoot(import.meta.dirname);
const SCRIPT = join(ROOT, 'scripts', 'timing-grid.mjs');
/** The whole grid of 10:20 UTC on 2026-12-04: 47 of 54 cells within tolerance, as reported then. */
const KEPT = join(ROOT, 'bench', 'results', 'timing-grid-2026-12-04T1020.json');

const grid = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });

test('timing-grid --verdicts: a kept grid, and a small one whose counts are worked by hand', () => {
  const kept = grid('--verdicts', KEPT);
  assert.equal(kept.status, 0, kept.stderr);
  assert.match(kept.stdout, /\| timing-grid-2026-12-04T1020\.json \| 54 \| 47 \| \d+ \|/);
  const dir = mkdtempSync(join(tmpdir(), 'samepage-grid-'));
  try {
    const row = (runs: number[], model: number, ok: boolean) => ({
      label: '5 s',
      path: 'ksm/pages_scanned',
      kernel: runs[1],
      runs,
      model,
      ok,
    });
    const file = join(dir, 'small.json');
    writeFileSync(
      file,
      JSON.stringify({
        a: { cell: { advisor: false }, rows: [row([100, 101, 102], 101, true)] },
        b: { cell: { advisor: false }, rows: [row([90, 100, 112], 110, false)] },
        c: { cell: { advisor: false }, rows: [row([100, 101, 102], 110, false)] },
      }),
    );
    const small = grid('--verdicts', file);
    assert.equal(small.status, 0, small.stderr);
    assert.match(small.stdout, /\| small\.json \| 3 \| 1 \| 2 \| c \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timing-grid --spread: two small files whose verdicts are worked by hand, and two kept grids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-grid-'));
  try {
    const at5 = (kernel: number) => ({
      cell: { advisor: false },
      rows: [{ label: '5 s', path: 'ksm/pages_scanned', kernel, model: 0, ok: true }],
    });
    const [one, two] = [join(dir, 'one.json'), join(dir, 'two.json')];
    // 1000 and 1105 are within 5 % of 1050; 1000 and 1106 have no such value.
    writeFileSync(one, JSON.stringify({ near: at5(1000), far: at5(1000), same: at5(7) }));
    writeFileSync(two, JSON.stringify({ near: at5(1105), far: at5(1106), same: at5(7) }));
    const r = grid('--spread', one, two);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| near \| 2 \| 5 s \| 1\.105 \| one\.json \| two\.json \| yes \|/);
    assert.match(r.stdout, /\| far \| 2 \| 5 s \| 1\.106 \| one\.json \| two\.json \| no \|/);
    assert.match(r.stdout, /\| same \| 2 \| 5 s \| 1\.000 \| \(all equal\) \| \(all equal\) \| yes \|/);
    assert.match(r.stdout, /3 cells in two files or more: 2 can be passed in every file by one model value; 1 cannot/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The kernel of 2026-12-05 11:10 and 15:01: 5000/1/0 at 5 s was 1,018,520 pages and 916,120.
  const kept = (t: string) => join(ROOT, 'bench', 'results', `timing-grid-2026-12-05T${t}.json`);
  const r = grid('--spread', kept('1110'), kept('1501'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| timing-5000-1-smart0 \| 2 \| .* \| no \|/);
  assert.match(r.stdout, /54 cells in two files or more/);
});

test("timing-grid --remodel: a kept cell at the kernel's speed, its CPU per page worked from the file", () => {
  const kept = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'timing-grid-2026-12-05T1110.json'), 'utf8'));
  const cell = kept['timing-100-20-smart1'];
  const { ksmd_cpu_ms: _cpu, ...noCpu } = cell;
  const dir = mkdtempSync(join(tmpdir(), 'samepage-grid-'));
  try {
    const file = join(dir, 'one.json');
    const out = join(dir, 'out.json');
    writeFileSync(file, JSON.stringify({ 'timing-100-20-smart1': cell, without: noCpu }));
    const r = grid('--remodel', file, out);
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(readFileSync(out, 'utf8'));
    // ksmd's CPU over the waits against pages_scanned at 5 s, run by run; their lower median.
    const at5 = cell.rows.filter((x: { path: string }) => x.path === 'ksm/pages_scanned').at(-1);
    const perPage = cell.ksmd_cpu_ms.kernel_runs.map((ms: number, i: number) => (ms * 1e6) / at5.runs[i]);
    const want = [...perPage].sort((x, y) => x - y)[1];
    const a = got['timing-100-20-smart1'].at_kernel_speed;
    assert.equal(a.kernel_ns_per_page, Math.round(want));
    assert.equal(a.matched, true);
    assert.ok(Math.abs(a.model_ns_per_page / want - 1) <= 0.006, JSON.stringify(a));
    assert.ok(a.factor > 0);
    assert.equal(a.agrees, a.out.length === 0);
    // A cell the file kept no CPU for is remodelled at the calibration's speed only.
    assert.equal(got.without.at_kernel_speed, undefined);
    assert.equal(typeof got.without.rows[0].model, 'number');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timing-grid refuses bad arguments and bad files with a message and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-grid-'));
  try {
    const notGrid = join(dir, 'not-grid.json');
    writeFileSync(notGrid, '{"a": {"rows": 3}}');
    const cases: [string[], RegExp][] = [
      [['--verdicts'], /usage: .*--verdicts GRID\.json/],
      [['--verdicts', join(dir, 'missing.json')], /missing\.json: cannot be read/],
      [['--verdicts', notGrid], /not-grid\.json: not a grid file of scripts\/timing-grid\.mjs/],
      [['--agreement', KEPT], /usage: .*--agreement EARLIER\.json LATER\.json/],
      [['--spread', KEPT], /usage: .*--spread GRID\.json GRID\.json/],
      [['--spread', KEPT, notGrid], /not-grid\.json: not a grid file of scripts\/timing-grid\.mjs/],
      [['--bogus'], /unknown argument '--bogus'/],
      [['--tries', '0'], /--tries needs a whole number above 0, not '0'/],
      [['--only', 'no-such-cell'], /no cell named no-such-cell/],
    ];
    for (const [args, message] of cases) {
      const r = grid(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: a stack trace`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
