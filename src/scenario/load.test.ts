import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from './load.ts';

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
    assert.match(r.ok ? '' : (r.problems[0]?.message ?? ''), /it is a directory$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
