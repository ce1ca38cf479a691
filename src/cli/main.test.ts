import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from './main.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../term/testing.ts';

test('main prints help explaining samepage and exits 0', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  assert.match(c.out(), /Usage: samepage/);
  assert.match(c.out(), /model of Linux 6\.18 memory management and KSM/);
  assert.match(c.out(), /Exit codes: 0 every expect held, 1 an expect failed or the run stopped early, 2 /);
});

test('main exits 2, not 1, on a usage error', async () => {
  for (const args of [['nope'], ['run'], ['run', 'x.yaml', '--seed', 'abc'], ['run', 'x.yaml', '--backend', 'vm']]) {
    const c = capture();
    assert.equal(await main(args, c.io), 2, args.join(' '));
    assert.match(c.err(), /error: /);
  }
});

test('help of a command that does not exist says so, exit 2; help of one that does is its help', async () => {
  const bad = capture();
  assert.equal(await main(['help', 'nosuch'], bad.io), 2);
  assert.match(bad.err(), /unknown command 'nosuch'/);
  assert.equal(bad.out(), '');
  const good = capture();
  assert.equal(await main(['help', 'run'], good.io), 0);
  assert.match(good.out(), /^Usage: samepage run /);
});

test('main reports an unreadable scenario as one line on stderr with exit 2', async () => {
  const c = capture();
  assert.equal(await main(['run', '/nonexistent/samepage-missing.yaml'], c.io), 2);
  assert.match(c.err(), /^samepage: /);
  assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack trace without SAMEPAGE_DEBUG=1');
  assert.equal(c.out(), '');
});

test('run --json --report DIR is refused before the run: one JSON document on stdout, exit 2', async () => {
  const c = capture();
  const dir = mkdtempSync(join(tmpdir(), 'samepage-report-'));
  try {
    assert.equal(await main(['run', 'scenarios/ksm-tests-merge.yaml', '--json', '--report', dir], c.io), 2);
    const doc = JSON.parse(c.out()) as { ok: boolean; error: string };
    assert.equal(doc.ok, false);
    assert.match(doc.error, /Cannot write the report to .*: it is a directory/);
    assert.doesNotMatch(c.err(), /running|full_scans/, 'nothing ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('main demo runs the thesis program and explains it, without the idle KSM+ table', async () => {
  const c = capture();
  assert.equal(await main(['demo'], c.io), 0);
  assert.match(c.out(), /record "merged" at \d+\.\d\d s\n/);
  assert.doesNotMatch(c.out(), /ksm\+/, 'KSM+ is idle in the demo');
  assert.match(c.out(), /At "merged" \(\d+\.\d\d s of virtual time\) ksmd keeps 40 shared pages/);
});

test('main demo fits COLUMNS, its explanation too, and keeps it on one line for a pipe', async () => {
  const narrow = capture();
  assert.equal(await main(['demo'], { ...narrow.io, env: { COLUMNS: '60' } }), 0);
  for (const line of narrow.out().split('\n')) assert.ok([...line].length <= 60, `${[...line].length}: ${line}`);
  assert.match(narrow.out(), /\nAt "merged" [^\n]*\n[^\n]*standing in for 10200/);
  const piped = capture();
  assert.equal(await main(['demo'], piped.io), 0);
  assert.match(piped.out(), /\nAt "merged" [^\n]* ksmd keeps 40 shared pages [^\n]*\(general_profit\)\.\n$/);
});

test('bench --reload and --rounds: only with --calibrate, and only passes or interleaved, 1-9 rounds, each refused with exit 2 before anything runs', async () => {
  for (const [args, message] of [
    [['bench', '--reload', 'interleaved'], /--reload needs --calibrate/],
    [['bench', '--rounds', '3'], /--rounds needs --calibrate/],
    [['bench', '--calibrate', '--rounds', '0'], /Expected 1 to 9 rounds, got "0"/],
    [['bench', '--calibrate', '--rounds', '10'], /Expected 1 to 9 rounds, got "10"/],
    [['bench', '--calibrate', '--rounds', '2.5'], /Expected 1 to 9 rounds, got "2\.5"/],
    [
      ['bench', '--calibrate', '--reload', 'sideways'],
      /argument 'sideways' is invalid\. Allowed choices are passes, interleaved/,
    ],
  ] as const) {
    const c = capture();
    assert.equal(await main([...args], c.io), 2, args.join(' '));
    assert.match(c.err(), message, args.join(' '));
    assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack trace');
  }
});
