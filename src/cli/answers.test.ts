/**
 * Every non-zero exit says why, in text and in --json; --report never replaces an input;
 * predict says when it did not settle and puts its prediction in the report, and when its
 * cost model was calibrated on another machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrationSet } from '../backends/model/calibration.ts';
import { DEFAULT_COST } from '../ksm/cost.ts';
import { writeSnapshot } from '../host/snapshot.ts';
import { main } from './main.ts';
import { capture } from '../term/testing.ts';

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-answers-'));
  try {
    await f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MERGE = `version: 1
name: merge
ksm: { run: 1, pages_to_scan: 100 }
steps:
  - spawn: { proc: a, comm: app }
  - mmap: { proc: a, region: r, size: 40KiB }
  - fill: { proc: a, region: r, pattern: { byte: 7 } }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - wait: { full_scans: 2 }
  - expect: { /sys/kernel/mm/ksm/pages_sharing: 9 }
`;

test('run --report refuses to write over its own scenario, and leaves it as it was', () =>
  withDir(async (dir) => {
    const file = join(dir, 'x.yaml');
    writeFileSync(file, MERGE);
    const c = capture();
    assert.equal(await main(['run', file, '--report', file], c.io), 2);
    assert.equal(
      c.err(),
      `samepage: --report ${file} is the input file ${file}: the report would replace it; name another file\n`,
    );
    assert.equal(readFileSync(file, 'utf8'), MERGE);
  }));

test('run --json of an invalid file prints why on stdout too, problem by problem', () =>
  withDir(async (dir) => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: 1\nname: bad\nsteps:\n  - wait: { ms: 0 }\n');
    const c = capture();
    assert.equal(await main(['run', file, '--json'], c.io), 2);
    assert.deepEqual(JSON.parse(c.out()), {
      ok: false,
      exit: 2,
      error: `${file}: steps[0].wait.ms (line 4): Milliseconds must be at least 1, got 0`,
      problems: [{ path: 'steps[0].wait.ms', line: 4, message: 'Milliseconds must be at least 1, got 0' }],
    });
    const u = capture();
    assert.equal(await main(['run', file, '--json', '--seed', 'x'], u.io), 2);
    assert.match((JSON.parse(u.out()) as { error: string }).error, /--seed <n>.*Expected a non-negative integer/);
  }));

test('a run that runs out of model memory names machine.ram, and the verdict says where it stopped', () =>
  withDir(async (dir) => {
    const file = join(dir, 'oom.yaml');
    writeFileSync(
      file,
      'version: 1\nname: oom\nmachine: { ram: 1MiB }\nsteps:\n  - spawn: { proc: a, comm: x }\n' +
        '  - mmap: { proc: a, region: r, size: 2MiB }\n  - fill: { proc: a, region: r, pattern: { random: 1 } }\n',
    );
    const c = capture();
    assert.equal(await main(['run', file], c.io), 1);
    const why =
      "fill of a/r ran out of memory: every page frame of the model machine's 1.0 MiB of RAM is in use " +
      '(machine.ram in the scenario; on Linux the OOM killer would act). Give it more, e.g. machine: { ram: 2MiB }';
    assert.match(c.out(), new RegExp(`FAILED: the run stopped at steps\\[2\\]\\.fill \\(line 7\\): ${esc(why)}\\n$`));
    assert.doesNotMatch(c.out(), /expect failed/);
    const j = capture();
    assert.equal(await main(['run', file, '--json'], j.io), 1);
    assert.equal((JSON.parse(j.out()) as { error: string }).error, `steps[2].fill (line 7): ${why}`);
  }));

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('compare says which policy failed and why when it exits 1, in text and --json, and refuses a policy twice', () =>
  withDir(async (dir) => {
    const file = join(dir, 'x.yaml');
    writeFileSync(file, MERGE);
    const c = capture();
    assert.equal(await main(['compare', file], c.io), 1);
    assert.match(
      c.err(),
      /samepage: the workload failed under ksm\+: 1 expect failed: step 5 \/sys\/kernel\/mm\/ksm\/pages_sharing: expected 9, actual 0\n/,
    );
    const j = capture();
    assert.equal(await main(['compare', file, '--json'], j.io), 1);
    const results = (JSON.parse(j.out()) as { results: Array<{ policy: string; ok: boolean; failure?: string }> })
      .results;
    assert.deepEqual(
      results.map((r) => [r.policy, r.ok, r.failure]),
      [
        ['ksm', true, undefined],
        ['ksm+', false, '1 expect failed: step 5 /sys/kernel/mm/ksm/pages_sharing: expected 9, actual 0'],
      ],
    );
    const twice = capture();
    assert.equal(await main(['compare', file, '--policy', 'ksm,ksm'], twice.io), 2);
    assert.match(twice.err(), /Policy "ksm" is given twice: each runs once/);
  }));

/** A snapshot of two processes holding 20 equal pages each. */
function snapshot(dir: string): string {
  const file = join(dir, 'a.snap');
  const page = Buffer.alloc(4096, 7);
  const buf = Buffer.concat(Array(20).fill(page));
  writeSnapshot(
    file,
    [1, 2].map((pid) => {
      const base = 0x7f00_0000_0000 + pid * 0x1000_0000;
      return {
        pid,
        comm: 'app',
        vmas: [{ start: base, end: base + 20 * 4096, perms: 'rw-p', offset: 0, path: '' }],
        pages: function* () {
          for (let i = 0; i < 20; i++) yield { address: base + i * 4096, buffer: buf, offset: i * 4096 };
        },
      };
    }),
  );
  return file;
}

test('predict refuses --max-scans 0, warns when it did not settle, and puts the prediction in --report', () =>
  withDir(async (dir) => {
    const snap = snapshot(dir);
    const zero = capture();
    assert.equal(await main(['predict', snap, '--max-scans', '0'], zero.io), 2);
    assert.match(zero.err(), /--max-scans <n>.*Expected a whole number of at least 1/);

    const one = capture();
    assert.equal(await main(['predict', snap, '--max-scans', '1', '--json'], one.io), 0);
    const p = (JSON.parse(one.out()) as { prediction: { settled: boolean; unsettled?: string } }).prediction;
    assert.equal(p.settled, false);
    assert.equal(p.unsettled, 'the counters still changed after 1 full scan (the limit; 3 still in a row settle them)');
    assert.match(one.err(), /samepage: warning: Not settled: the counters still changed after 1 full scan /);

    const report = join(dir, 'p.html');
    const r = capture();
    assert.equal(await main(['predict', snap, '--report', report], r.io), 0);
    assert.match(r.out(), /pages merging frees \(pages_sharing \+ ksm_zero_pages\) │ +39 │ 156\.0 KiB/);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /<h2>Prediction under KSM<\/h2>/);
    assert.match(
      html,
      /<th scope="row">pages merging frees \(pages_sharing \+ ksm_zero_pages\)<\/th><td>39<\/td><td>156\.0 KiB<\/td>/,
    );
    // Times in the unit that suits them (formatDuration): "3.2 ms", "1.5 s", "1 min 02 s".
    assert.match(html, /<th scope="row">KSM scanner CPU<\/th><td>[\d.]+ (µs|ms|s)<\/td>/);
    assert.match(html, /<th scope="row">virtual time to settle<\/th><td>[\d.]+ (ms|s)<\/td>/);
  }));

test('predict fits COLUMNS: its tables and its sentences alike', () =>
  withDir(async (dir) => {
    const snap = snapshot(dir);
    const narrow = capture();
    assert.equal(await main(['predict', snap], { ...narrow.io, env: { COLUMNS: '50' } }), 0);
    for (const line of narrow.out().split('\n')) assert.ok([...line].length <= 50, `${[...line].length}: ${line}`);
    assert.match(narrow.out(), /^Times and CPU come from the calibration/m);
  }));

test('predict warns when its cost model was calibrated on another machine, and predicts with it', () =>
  withDir(async (dir) => {
    const snap = snapshot(dir);
    const cost = join(dir, 'cost-model.json');
    const machine = { cpu_model: 'a CPU samepage never ran on', cpus: 4096 };
    writeFileSync(cost, JSON.stringify({ version: 1, cost: DEFAULT_COST, machine }));
    const saved = process.env.SAMEPAGE_COST_MODEL;
    process.env.SAMEPAGE_COST_MODEL = cost;
    try {
      const c = capture();
      assert.equal(await main(['predict', snap, '--json'], c.io), 0);
      // --json names the files the times came from, and the CPU they were measured on.
      assert.deepEqual((JSON.parse(c.out()) as { calibration: unknown }).calibration, {
        cost_model: cost,
        timer: calibrationSet().timerPath,
        measured_on: 'a CPU samepage never ran on (4096 CPUs)',
      });
      const table = capture();
      assert.equal(await main(['predict', snap], table.io), 0);
      assert.match(
        table.out(),
        /Times and CPU come from the calibration .*cost-model\.json, measured on a CPU samepage never ran on \(4096 CPUs\)\.\n$/,
      );
      assert.match(
        c.err(),
        /samepage: warning: the model's cost model \(.*cost-model\.json\) was calibrated on a CPU samepage never ran on \(4096 CPUs\), this machine is .*samepage bench --calibrate/,
      );
    } finally {
      if (saved === undefined) delete process.env.SAMEPAGE_COST_MODEL;
      else process.env.SAMEPAGE_COST_MODEL = saved;
    }
  }));
