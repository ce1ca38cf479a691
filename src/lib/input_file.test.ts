import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, linkSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openInputFile, overwritesInput, readInputFile } from './input_file.ts';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-input-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('readInputFile reads a regular file within its bound and refuses one past it', () => {
  withDir((dir) => {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'hello');
    const r = readInputFile(f, 'test file', 5);
    assert.equal(r.ok && r.bytes.toString(), 'hello');
    assert.deepEqual(readInputFile(f, 'test file', 4), {
      ok: false,
      problem: `Cannot read test file "${f}": it holds 5 bytes, and samepage reads at most 4 (4 B)`,
    });
  });
});

test('readInputFile reads a pseudo-file that says it holds 0 bytes to its end', () => {
  const r = readInputFile('/proc/self/status', 'test file', 1024 * 1024);
  assert.ok(r.ok);
  assert.match(r.ok ? r.bytes.toString() : '', /^Name:.*\n[\s\S]*VmRSS:[\s\S]*\n$/);
});

test('openInputFile names the kind of a file that is not regular, and a missing one', () => {
  withDir((dir) => {
    assert.deepEqual(openInputFile('/dev/null', 'snapshot'), {
      ok: false,
      problem: 'Cannot read snapshot "/dev/null": it is a character device; only regular files are read',
    });
    assert.deepEqual(openInputFile(dir, 'snapshot'), {
      ok: false,
      problem: `Cannot read snapshot "${dir}": it is a directory; only regular files are read`,
    });
    assert.deepEqual(openInputFile(join(dir, 'none'), 'snapshot'), {
      ok: false,
      problem: `Cannot read snapshot "${join(dir, 'none')}": the file does not exist`,
    });
    const f = join(dir, 'x');
    writeFileSync(f, 'abc');
    const opened = openInputFile(f, 'snapshot');
    assert.equal(opened.ok && opened.size, 3);
    if (opened.ok) closeSync(opened.fd);
  });
});

test('overwritesInput sees an input by its path, a symbolic link or a hard link, and nothing new', () => {
  withDir((dir) => {
    const input = join(dir, 'in.yaml');
    writeFileSync(input, 'x');
    const sym = join(dir, 'sym.html');
    symlinkSync(input, sym);
    const hard = join(dir, 'hard.html');
    linkSync(input, hard);
    assert.equal(overwritesInput(input, [input]), input);
    assert.equal(overwritesInput(sym, [input]), input);
    assert.equal(overwritesInput(hard, [input]), input);
    assert.equal(overwritesInput(join(dir, 'new.html'), [input]), undefined);
    const other = join(dir, 'other.html');
    writeFileSync(other, 'y');
    assert.equal(overwritesInput(other, [input]), undefined);
  });
});
