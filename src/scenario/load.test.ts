import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, MAX_SCENARIO_BYTES } from './load.ts';

test('loadScenario reads and parses a file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samepage-load-'));
  try {
    const file = join(dir, 's.yaml');
    await writeFile(file, 'version: 1\nname: s\nsteps:\n  - spawn: { proc: a, comm: x }\n');
    const r = await loadScenario(file);
    assert.ok(r.ok);
    assert.equal(r.ok && r.scenario.name, 's');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadScenario reports a missing file or a directory as a problem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samepage-load-'));
  try {
    const missing = join(dir, 'nope.yaml');
    assert.deepEqual(await loadScenario(missing), {
      ok: false,
      problems: [
        { path: '', line: undefined, message: `Cannot read scenario file "${missing}": the file does not exist` },
      ],
    });
    const r = await loadScenario(dir);
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : (r.problems[0]?.message ?? ''), /it is a directory; only regular files are read$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('loadScenario refuses a device, a FIFO and a file over MAX_SCENARIO_BYTES before reading them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'samepage-load-'));
  try {
    const device = await loadScenario('/dev/zero');
    assert.deepEqual(device.ok ? [] : device.problems.map((p) => p.message), [
      'Cannot read scenario file "/dev/zero": it is a character device; only regular files are read',
    ]);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO without a writer would block: refused by its kind, never opened.
    const f = await loadScenario(fifo);
    assert.match(
      f.ok ? '' : (f.problems[0]?.message ?? ''),
      /it is a FIFO \(named pipe\); only regular files are read$/,
    );
    const big = join(dir, 'big.yaml');
    await writeFile(big, '');
    await truncate(big, MAX_SCENARIO_BYTES + 1);
    const b = await loadScenario(big);
    assert.match(
      b.ok ? '' : (b.problems[0]?.message ?? ''),
      /it holds 33554433 bytes, and samepage reads at most 33554432 \(32 MiB\)$/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
