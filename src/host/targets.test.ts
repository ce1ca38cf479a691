/**
 * The comm rule against the live kernel: a shell renames itself through /proc/PID/comm
 * (which takes the bytes as written: fs/proc/base.c comm_write), and what the kernel then
 * shows is what readComm, commOf and the lookups must agree with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readComm } from './procfs.ts';
import { kernelComm } from '../lib/comm.ts';
import { commRefusal, pidsByComm, pidsByName, selectTargets } from './targets.ts';

/** A shell that writes `name` (printf-escaped) to its own comm, then waits; `stop` ends it. */
async function renamedShell(name: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const sh = spawn('sh', ['-c', `printf '${name}' > /proc/$$/comm && echo ready && read line`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(sh.stdout, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'ready\n');
  return {
    pid: sh.pid ?? 0,
    stop: async () => {
      const exited = once(sh, 'exit');
      sh.stdin.end();
      await exited;
    },
  };
}

const linuxOnly = process.platform === 'linux' ? false : 'needs Linux /proc';

test('readComm keeps the spaces a name begins and ends with, and a newline of the name itself', {
  skip: linuxOnly,
}, async () => {
  const spaced = await renamedShell(' two  words ');
  const newline = await renamedShell('nl\\n');
  try {
    // The kernel adds one newline after the name; only that one is taken off.
    assert.equal(readComm(spaced.pid), ' two  words ');
    assert.equal(readComm(newline.pid), 'nl\n');
    assert.deepEqual(pidsByComm(' two  words '), [spaced.pid]);
    assert.deepEqual(pidsByComm('two  words'), []);
  } finally {
    await spaced.stop();
    await newline.stop();
  }
});

test('a name longer than 15 bytes is cut by the kernel: pidsByName finds it, an exact lookup refuses it', {
  skip: linuxOnly,
}, async () => {
  const long = 'abcdefghijklmnopqrstu';
  const sh = await renamedShell(long);
  try {
    assert.equal(readComm(sh.pid), 'abcdefghijklmno', 'the kernel keeps TASK_COMM_LEN - 1 bytes');
    assert.equal(kernelComm(long), readComm(sh.pid));
    assert.deepEqual(pidsByName(long), [sh.pid]);
    assert.match(commRefusal(long) ?? '', /cannot be a comm: .* at most 15 bytes .*"abcdefghijklmno"/);
    assert.throws(() => selectTargets(long, undefined), /cannot be a comm/);
    assert.deepEqual(selectTargets('abcdefghijklmno', undefined), [sh.pid]);
  } finally {
    await sh.stop();
  }
});

test('selectTargets wants a name or a pid, and never samepage itself', () => {
  assert.throws(() => selectTargets(undefined, undefined), /either a process NAME or --pid/);
  assert.throws(() => selectTargets('x', 1), /either a process NAME or --pid/);
  assert.throws(() => selectTargets(undefined, process.pid), /samepage itself/);
  assert.deepEqual(selectTargets(undefined, 1), [1]);
  assert.equal(commRefusal('python3'), undefined);
});
