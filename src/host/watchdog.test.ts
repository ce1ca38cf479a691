/**
 * native/watchdog.c on its own, with a `sleep` as the owner and a shell command as the
 * recovery: it runs the recovery when the owner dies, at once when the pid it was given
 * no longer has the owner's start time, and never when the journal is deleted first.
 * Needs the built helper only (no root).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identify } from './journal.ts';
import { missingHelper, nativeHelperPath } from './ksm_native.ts';
import { testPauseHook, TEST_PAUSE_AT_CHANGE } from './change_pause.ts';
import { WATCHDOG } from './watchdog.ts';

const helper = nativeHelperPath(WATCHDOG);
const skip = process.platform !== 'linux' ? 'not Linux' : missingHelper(helper);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, ready: () => boolean, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Setup {
  readonly dir: string;
  readonly journal: string;
  readonly marker: string;
  readonly owner: ChildProcess;
  readonly start: string;
  watchdog(startTime?: string): ChildProcess;
  done(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-watchdog-'));
  const journal = join(dir, 'owner-1-1-1.json');
  const marker = join(dir, 'recovered');
  writeFileSync(journal, '{}\n');
  const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(owner, 'spawn');
  const start = identify(owner.pid!)!.start_time;
  const dogs: ChildProcess[] = [];
  return {
    dir,
    journal,
    marker,
    owner,
    start,
    watchdog: (startTime = start) => {
      const dog = spawn(
        helper,
        [String(owner.pid), startTime, journal, '/bin/sh', '-c', `echo "$0" > ${marker}`, 'ran'],
        { stdio: 'ignore' },
      );
      dogs.push(dog);
      return dog;
    },
    done: async () => {
      owner.kill('SIGKILL');
      for (const d of dogs) if (d.exitCode === null && d.signalCode === null) d.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('the watchdog runs the recovery once the owner dies with its journal still there', {
  skip: skip ?? false,
}, async () => {
  const s = await setup();
  try {
    const dog = s.watchdog();
    const exited = once(dog, 'exit');
    await sleep(100);
    assert.equal(existsSync(s.marker), false, 'ran while the owner lives');
    s.owner.kill('SIGKILL');
    await until('the recovery', () => existsSync(s.marker));
    assert.equal(readFileSync(s.marker, 'utf8'), 'ran\n');
    assert.deepEqual(await exited, [0, null]);
  } finally {
    await s.done();
  }
});

test('the watchdog exits without recovering once the journal is deleted', { skip: skip ?? false }, async () => {
  const s = await setup();
  try {
    const dog = s.watchdog();
    const exited = once(dog, 'exit');
    await sleep(100);
    // Rewritten atomically (another name renamed over it) is not deleted: it keeps waiting.
    writeFileSync(`${s.journal}.tmp`, '{"n":2}\n');
    renameSync(`${s.journal}.tmp`, s.journal);
    await sleep(100);
    assert.equal(dog.exitCode, null);
    rmSync(s.journal);
    assert.deepEqual(await exited, [0, null]);
    s.owner.kill('SIGKILL');
    await sleep(100);
    assert.equal(existsSync(s.marker), false);
  } finally {
    await s.done();
  }
});

test("the watchdog recovers at once when the pid no longer has the owner's start time (a reused pid)", {
  skip: skip ?? false,
}, async () => {
  const s = await setup();
  try {
    s.watchdog(String(Number(s.start) - 1));
    await until('the recovery', () => existsSync(s.marker));
    assert.equal(s.owner.exitCode, null, 'the process that now has the pid is left alone');
  } finally {
    await s.done();
  }
});

test('the test hook of live changes is off unless set, and refuses what is not a change number', () => {
  assert.equal(testPauseHook({}), undefined);
  assert.equal(testPauseHook({ [TEST_PAUSE_AT_CHANGE]: '' }), undefined);
  assert.throws(() => testPauseHook({ [TEST_PAUSE_AT_CHANGE]: 'x' }), /must be a change number/);
  assert.equal(typeof testPauseHook({ [TEST_PAUSE_AT_CHANGE]: '3' }), 'function');
});
