import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandRuns } from './command_path.ts';

test('commandRuns finds what execvp would run, on PATH or by its path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-path-'));
  try {
    writeFileSync(join(dir, 'prog'), '#!/bin/sh\n');
    chmodSync(join(dir, 'prog'), 0o755);
    writeFileSync(join(dir, 'data'), 'not a program\n');
    chmodSync(join(dir, 'data'), 0o644);
    assert.equal(commandRuns('prog', `/nonexistent:${dir}`), true);
    assert.equal(commandRuns(join(dir, 'prog'), ''), true);
    assert.equal(commandRuns('prog', '/nonexistent'), false);
    assert.equal(commandRuns('samepage-no-such-program', process.env.PATH), false);
    assert.equal(commandRuns(join(dir, 'missing'), dir), false);
    assert.equal(commandRuns('sh', undefined), true, 'PATH unset searches /bin:/usr/bin');
    assert.equal(commandRuns(dir, dir), false, 'a directory does not run');
    assert.equal(commandRuns('', dir), false);
    assert.equal(commandRuns('data', dir), false, 'no execute bit, even for root');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
