/**
 * scripts/host-drift.mjs as its users run it, without the live machine: summing up a kept
 * samples file, and refusing bad arguments and bad files with a message and exit 2 before
 * anything on the machine is touched. (Its live measurement needs root and a quiet machine
 * for ten minutes: it is a benchmark, docs/cost-model-journal.md "How fast the host's speed moves".)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';

const ROOT = packageRoot(import.meta.dirname);
const SCRIPT = join(ROOT, 'scripts', 'host-drift.mjs');
const KEPT = join(ROOT, 'bench', 'results', 'host-drift-2026-12-04T1306.csv');

const drift = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });

test('host-drift --from sums up a kept samples file, as a table and as JSON', () => {
  const table = drift('--from', KEPT);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /600 one-second samples/);
  assert.match(table.stdout, /windows against the minute before each/);
  const json = drift('--from', KEPT, '--json');
  assert.equal(json.status, 0, json.stderr);
  const s = JSON.parse(json.stdout) as { spread: { n: number; p10: number; median: number; p90: number } };
  assert.equal(s.spread.n, 600);
  assert.ok(s.spread.p10 <= s.spread.median && s.spread.median <= s.spread.p90);
});

test("host-drift --from sums up a probe's samples beside ksmd's when the file has them", () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-drift-'));
  try {
    // 40 seconds: ksmd 10 % slower in the second 20 s, and the probe with it.
    const rows = Array.from({ length: 40 }, (_, i) => `${i + 1},${i < 20 ? 4000 : 4400},20480,${i < 20 ? 800 : 880}`);
    const file = join(dir, 'probe.csv');
    writeFileSync(file, `t_s,ns_per_page,pages,probe_ns_per_page\n${rows.join('\n')}\n`);
    const table = drift('--from', file);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /the probe beside ksmd/);
    const json = drift('--from', file, '--json');
    assert.equal(json.status, 0, json.stderr);
    const s = JSON.parse(json.stdout) as {
      probe: { seconds: number; windows: number; r: number; scaled: { beyondLimit: number } }[];
    };
    const twenty = s.probe.find((t) => t.seconds === 20);
    assert.equal(twenty?.windows, 2);
    assert.equal(twenty?.scaled.beyondLimit, 0, 'scaled by the probe, neither window is off');
    assert.equal(
      drift('--from', KEPT, '--json').stdout.includes('"probe"'),
      false,
      'no probe column, no probe section',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('host-drift refuses bad arguments and damaged files with a message and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-drift-'));
  try {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /unknown argument '--bogus'/],
      [['--seconds', 'x'], /--seconds needs a whole number above 0, not 'x'/],
      [['--from'], /--from needs a file/],
      [['--probe', '--from', KEPT], /--probe measures; --from reads the probe's samples from the file/],
      [['--from', join(dir, 'missing.csv')], /cannot read .*missing\.csv/],
    ];
    writeFileSync(join(dir, 'other.csv'), 'a,b\n1,2\n');
    cases.push([['--from', join(dir, 'other.csv')], /not a host-drift samples file/]);
    writeFileSync(join(dir, 'damaged.csv'), 't_s,ns_per_page,pages\n1,4000,20480\n2,oops,20480\n');
    cases.push([['--from', join(dir, 'damaged.csv')], /line 3: not three numbers/]);
    writeFileSync(join(dir, 'probe-damaged.csv'), 't_s,ns_per_page,pages,probe_ns_per_page\n1,4000,20480\n');
    cases.push([['--from', join(dir, 'probe-damaged.csv')], /line 2: not four numbers/]);
    writeFileSync(join(dir, 'empty.csv'), 't_s,ns_per_page,pages\n');
    cases.push([['--from', join(dir, 'empty.csv')], /no samples/]);
    for (const [args, message] of cases) {
      const r = drift(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
