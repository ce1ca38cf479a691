/**
 * `samepage diff` on synthetic runs (its output, --json, exit codes, a backend that becomes
 * unavailable), and once on the live kernel where it can run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendUnavailable } from '../backends/kernel/errors.ts';
import { holdKernelTestLock, kernelSkipReason } from '../backends/kernel/testing.ts';
import type { RunResult } from '../scenario/records.ts';
import type { Scenario } from '../scenario/types.ts';
import { scenarioDiffOf, type DiffRunner, type ScenarioDiff } from '../differential/diff.ts';
import { syntheticRun as result } from '../differential/testing.ts';
import { renderDiff, type DiffJson } from '../report/diff.ts';
import { diffCommand, type DiffIo } from './diff.ts';
import { ScenarioFileError } from '../scenario/load.ts';
import { main, packageRoot } from './main.ts';
import { capture } from '../term/testing.ts';

function scenarioDiff(kernel: RunResult, model: RunResult, warnings: string[] = []): ScenarioDiff {
  return scenarioDiffOf(kernel, model, warnings);
}

test('diff does not call runs that stopped early an agreement, even with no value differing', async () => {
  const kernel = result('kernel', 9, {
    ok: false,
    error: 'steps[10].wait: Timed out after 60201 ms waiting for 2 full scans (1 done)',
  });
  const model = result('model', 9, { ok: false, error: 'steps[10].wait: no process is registered with KSM' });
  const d = scenarioDiff(kernel, model);
  assert.equal(d.differences.length, 0);
  assert.match(
    renderDiff('a.yaml', d, false),
    /^two \(a\.yaml\): no value differs, but a run stopped early\n {2}kernel run stopped: /,
  );
  await withFiles([scenarioText('one')], async (files) => {
    assert.equal(
      await diffCommand(files, { json: false, seed: 0, runner: fakeRunner({ one: d }, []) }, diffIo().io),
      1,
    );
  });
});

/** A DiffIo whose output is collected. */
function diffIo(): { io: DiffIo; out: () => string } {
  const c = capture();
  return { io: { stdout: c.io.stdout, stderr: c.io.stderr, color: false }, out: c.out };
}

/** Scenario files in a temporary directory; `body` gets their paths. */
async function withFiles(texts: readonly string[], body: (files: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-diff-test-'));
  try {
    const files = texts.map((t, i) => {
      const f = join(dir, `s${i}.yaml`);
      writeFileSync(f, t);
      return f;
    });
    await body(files);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const scenarioText = (name: string): string => `version: 1\nname: ${name}\nsteps:\n  - spawn: { proc: a, comm: a }\n`;

/** A runner that hands out synthetic results by scenario name, and logs what it ran. */
function fakeRunner(byName: Record<string, ScenarioDiff | Error>, ran: string[]): DiffRunner {
  return async (scenario: Scenario) => {
    ran.push(scenario.name);
    const r = byName[scenario.name];
    if (r === undefined || r instanceof Error) throw r ?? new Error(`no result for ${scenario.name}`);
    return { ...r, scenario: scenario.name };
  };
}

test('diffCommand exits 0 when every file agrees and 1 when one differs, in order, as text or --json', async () => {
  const agree = scenarioDiff(result('kernel', 9), result('model', 9));
  const differ = scenarioDiff(result('kernel', 9), result('model', 8));
  await withFiles([scenarioText('one'), scenarioText('two')], async (files) => {
    const ran: string[] = [];
    const text = diffIo();
    assert.equal(
      await diffCommand(files, { json: false, seed: 0, runner: fakeRunner({ one: agree, two: agree }, ran) }, text.io),
      0,
    );
    assert.deepEqual(ran, ['one', 'two']);
    assert.match(
      text.out(),
      /^one \(.*s0\.yaml\): kernel and model agree\ntwo \(.*s1\.yaml\): kernel and model agree\n$/,
    );

    const json = diffIo();
    const code = await diffCommand(
      files,
      { json: true, seed: 0, runner: fakeRunner({ one: agree, two: differ }, []) },
      json.io,
    );
    assert.equal(code, 1);
    const parsed = JSON.parse(json.out()) as DiffJson;
    assert.deepEqual(Object.keys(parsed), ['files']);
    assert.deepEqual(
      parsed.files.map((f) => [f.file, f.scenario, f.differences.length, f.kernelOk, f.modelOk]),
      [
        [files[0], 'one', 0, true, true],
        [files[1], 'two', 1, true, true],
      ],
    );
    assert.deepEqual(parsed.files[1]?.differences, [
      { label: 'merged', path: 'ksm/pages_sharing', kernel: 9, model: 8 },
    ]);
  });
});

/** A runner that returns `runs` in turn, and counts its calls. */
function sequenceRunner(runs: readonly ScenarioDiff[]): { runner: DiffRunner; calls: () => number } {
  let calls = 0;
  const runner: DiffRunner = async (scenario: Scenario) => ({
    ...runs[Math.min(calls++, runs.length - 1)]!,
    scenario: scenario.name,
  });
  return { runner, calls: () => calls };
}

test('diffCommand --attempts measures a disagreeing file again, agrees only on a run that agrees, and shows the others', async () => {
  const agree = scenarioDiff(result('kernel', 9), result('model', 9));
  const lag = scenarioDiff(result('kernel', 8), result('model', 9));
  await withFiles([scenarioText('one')], async (files) => {
    // The second run agrees: exit 0, the first run's differences still shown.
    const later = sequenceRunner([lag, agree]);
    const text = diffIo();
    assert.equal(await diffCommand(files, { json: false, seed: 0, attempts: 3, runner: later.runner }, text.io), 0);
    assert.equal(later.calls(), 2, 'no run after the one that agreed');
    assert.match(
      text.out(),
      /^one \(.*s0\.yaml\): kernel and model agree on kernel run 2\n {2}kernel run 1 disagreed \(1 difference\):\n/,
    );
    assert.match(text.out(), /│ merged +│ ksm\/pages_sharing +│ +8 │ +9 │/);

    // Every run disagrees: exit 1 after exactly `attempts` runs, each kept in --json.
    const never = sequenceRunner([lag]);
    const json = diffIo();
    assert.equal(await diffCommand(files, { json: true, seed: 0, attempts: 3, runner: never.runner }, json.io), 1);
    assert.equal(never.calls(), 3);
    const file = (JSON.parse(json.out()) as DiffJson).files[0];
    assert.equal(file?.differences.length, 1);
    assert.deepEqual(
      file?.earlierRuns?.map((r) => r.differences.length),
      [1, 1],
    );

    // The default is one run, even when it disagrees.
    const once = sequenceRunner([lag, agree]);
    assert.equal(await diffCommand(files, { json: false, seed: 0, runner: once.runner }, diffIo().io), 1);
    assert.equal(once.calls(), 1);
  });
});

test('diffCommand refuses an invalid file before running any, naming every problem', async () => {
  await withFiles(
    [scenarioText('fine'), 'version: 1\nname: bad\nsteps:\n  - mmap: { proc: a, region: r, size: 12 }\n'],
    async (files) => {
      const ran: string[] = [];
      const run = diffCommand(files, { json: true, seed: 0, runner: fakeRunner({}, ran) }, diffIo().io);
      await assert.rejects(run, (err: Error) => {
        assert.ok(err instanceof ScenarioFileError);
        assert.match(err.message, /s1\.yaml: steps\[0\]\.mmap\.size \(line 4\)/);
        return true;
      });
      assert.deepEqual(ran, []);
    },
  );
});

test('diffCommand --json still prints the files done when the kernel backend becomes unavailable', async () => {
  const agree = scenarioDiff(result('kernel', 9), result('model', 9));
  const gone = new BackendUnavailable('Other processes already use KSM, whose counters are global: 4242 (qemu)');
  await withFiles([scenarioText('one'), scenarioText('two'), scenarioText('three')], async (files) => {
    const ran: string[] = [];
    const out = diffIo();
    const run = diffCommand(
      files,
      { json: true, seed: 0, runner: fakeRunner({ one: agree, two: gone, three: agree }, ran) },
      out.io,
    );
    await assert.rejects(run, BackendUnavailable);
    assert.deepEqual(ran, ['one', 'two'], 'nothing runs after the backend became unavailable');
    const parsed = JSON.parse(out.out()) as DiffJson;
    assert.deepEqual(
      parsed.files.map((f) => f.scenario),
      ['one'],
    );
    assert.deepEqual(parsed.stopped, { file: files[1], reason: gone.message });
  });
});

test('samepage diff exits 2 naming the problem for an invalid or missing file, without a stack trace', async () => {
  await withFiles(['version: 1\nsteps: []\n'], async ([file]) => {
    const c = capture();
    assert.equal(await main(['diff', file ?? '', '--json'], c.io), 2);
    assert.match(c.err(), /^samepage: .*s0\.yaml: name/m);
    assert.doesNotMatch(c.err(), /\n\s+at /);
    // --json says why on stdout too.
    const out = JSON.parse(c.out()) as { ok: boolean; exit: number; error: string };
    assert.deepEqual([out.ok, out.exit], [false, 2]);
    assert.match(out.error, /s0\.yaml: name \(line 1\): Name is required/);
  });
  const c = capture();
  assert.equal(await main(['diff', '/nonexistent/samepage-diff.yaml'], c.io), 2);
  assert.match(c.err(), /^samepage: .*\/nonexistent\/samepage-diff\.yaml/);
  for (const bad of ['0', '-1', 'two']) {
    const a = capture();
    assert.equal(
      await main(['diff', '--attempts', bad, '/nonexistent/samepage-diff.yaml'], a.io),
      2,
      `--attempts ${bad}`,
    );
    assert.match(a.err(), /attempts.*at least 1/);
  }
});

const liveSkip = kernelSkipReason(true);

test('samepage diff --json on the live kernel: a shipped scenario agrees, exit 0', {
  skip: liveSkip ?? false,
}, async () => {
  const release = await holdKernelTestLock();
  try {
    const c = capture();
    const file = join(packageRoot(), 'scenarios', 'ksm-tests-merge.yaml');
    const code = await main(['diff', file, '--json'], c.io);
    assert.equal(code, 0, c.out() + c.err());
    const parsed = JSON.parse(c.out()) as DiffJson;
    assert.deepEqual(Object.keys(parsed), ['files']);
    // Warnings (ksmd past a boundary, another KSM user) depend on the machine, not the shape.
    const { warnings: _machineNotes, ...only } = parsed.files[0] ?? { warnings: undefined };
    assert.deepEqual(only, { file, scenario: 'ksm-tests-merge', differences: [], kernelOk: true, modelOk: true });
  } finally {
    release();
  }
});
