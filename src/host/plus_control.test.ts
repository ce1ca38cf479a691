import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlDirectory, LAST_ERROR } from './plus_control.ts';

function directory(root: string): ControlDirectory {
  return new ControlDirectory({
    dir: join(root, 'ksm+'),
    socket: join(root, 'plus.sock'),
    files: [{ name: 'pages_to_scan', show: () => '2000\n', store: () => 0 }],
    request: () => ({ ok: true }),
    onChange: () => undefined,
    log: () => undefined,
  });
}

test('ControlDirectory: close removes the files, the socket and the directory it made', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samepage-ctl-'));
  try {
    const ctl = directory(root);
    await ctl.open();
    assert.equal(readFileSync(join(ctl.dir, 'pages_to_scan'), 'utf8'), '2000\n');
    assert.ok(existsSync(join(ctl.dir, LAST_ERROR)) && existsSync(ctl.socketPath));
    ctl.close();
    assert.equal(existsSync(ctl.dir), false, 'no empty directory left behind');
    assert.equal(existsSync(ctl.socketPath), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ControlDirectory: close leaves the directory, and a file someone else put there, in place', async () => {
  const root = mkdtempSync(join(tmpdir(), 'samepage-ctl-'));
  try {
    const ctl = directory(root);
    await ctl.open();
    writeFileSync(join(ctl.dir, 'notes.txt'), 'mine\n');
    ctl.close();
    assert.equal(readFileSync(join(ctl.dir, 'notes.txt'), 'utf8'), 'mine\n');
    assert.equal(existsSync(join(ctl.dir, 'pages_to_scan')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
