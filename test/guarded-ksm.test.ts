/**
 * withGuardedKsm (src/host/ksm_guard.ts), which the benchmarks and scripts that set KSM's
 * knobs themselves go through: every writable KSM file is as before when the run returns,
 * throws, is refused a write by Linux, is stopped by SIGINT, SIGTERM or SIGHUP, or is
 * SIGKILLed (then the journal's watchdog puts them back).
 *
 * Skips, saying why, where KSM is not writable here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { holdKernelTestLockForFile, settledKsm, snapshotKsm } from '../src/backends/kernel/testing.ts';
import { withGuardedKsm } from '../src/host/ksm_guard.ts';
import { readKsmMergingPages } from '../src/host/ksm_stat.ts';
import { KSM_DIR, readSysfs } from '../src/host/ksm_sysfs.ts';

const skip = await holdKernelTestLockForFile();
if (skip !== undefined) process.stdout.write(`# guarded KSM tests skipped: ${skip}\n`);

const CHILD = join(import.meta.dirname, 'guarded-ksm-child.js');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const quiet = { pinKsmd: false, onWarning: (m: string): never => assert.fail(`warning: ${m}`) };

test('withGuardedKsm: the knobs set inside are back when the run returns, and when it throws', async (t) => {
  if (skip !== undefined) return void t.skip(skip);
  const before = (await settledKsm()).text;
  const seen = await withGuardedKsm(quiet, async (set) => {
    set('pages_to_scan', 4321);
    set('sleep_millisecs', 77);
    return readSysfs(`${KSM_DIR}/pages_to_scan`)?.trim();
  });
  assert.equal(seen, '4321');
  assert.deepEqual(snapshotKsm(), before);
  await assert.rejects(
    withGuardedKsm(quiet, async (set) => {
      // max_page_sharing refuses a change (EBUSY) while any KSM page exists, a stale one of a
      // process gone while ksmd was stopped too: unmerge first, as a user of it must.
      set('run', 2);
      set('max_page_sharing', 17);
      throw new Error('the run failed');
    }),
    /the run failed/,
  );
  assert.deepEqual(snapshotKsm(), before);
});

/** 256 pages of one byte, MADV_MERGEABLE, held until killed: another KSM user of the machine. */
const MERGEABLE_HOLDER =
  'import mmap, time\nm = mmap.mmap(-1, 256 * 4096, flags=mmap.MAP_PRIVATE)\nm.write(b"\\x5a" * (256 * 4096))\n' +
  'm.madvise(mmap.MADV_MERGEABLE)\nprint("ready", flush=True)\ntime.sleep(120)\n';

test("withGuardedKsm: putting back knobs that need no unmerging leaves another process's merged pages merged", async (t) => {
  if (skip !== undefined) return void t.skip(skip);
  if (spawnSync('python3', ['--version']).status !== 0) return void t.skip('python3 is not installed');
  const before = (await settledKsm()).text;
  const holder = spawn('python3', ['-c', MERGEABLE_HOLDER], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(holder.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'ready');
    const pid = holder.pid!;
    await withGuardedKsm(quiet, async (set) => {
      set('pages_to_scan', 1000);
      set('sleep_millisecs', 10);
      set('run', 1);
      for (let i = 0; i < 200 && Number(readKsmMergingPages(pid) ?? 0) < 256; i++) await sleep(50);
    });
    assert.deepEqual(snapshotKsm(), before);
    // The restore wrote pages_to_scan, sleep_millisecs and run, none of which needs run=2.
    assert.equal(readKsmMergingPages(pid), '256', 'the holder is still merged after the restore');
  } finally {
    holder.kill('SIGKILL');
    await once(holder, 'exit');
  }
});

test('withGuardedKsm: a write Linux refuses throws naming the errno, and what was set before is put back', async (t) => {
  if (skip !== undefined) return void t.skip(skip);
  const before = (await settledKsm()).text;
  await assert.rejects(
    withGuardedKsm(quiet, async (set) => {
      set('sleep_millisecs', 77);
      set('pages_to_scan', 'many'); // kstrtouint: -EINVAL
    }),
    /writing many to \/sys\/kernel\/mm\/ksm\/pages_to_scan failed: EINVAL/,
  );
  assert.deepEqual(snapshotKsm(), before);
});

/**
 * Starts the child, waits for `ready`, checks it changed the knobs, and returns it; a child
 * that fails the checks is SIGKILLed (its watchdog restores).
 */
async function heldChild(): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, [CHILD, 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'ready');
    assert.equal(readSysfs(`${KSM_DIR}/pages_to_scan`)?.trim(), '4321');
    assert.equal(readSysfs(`${KSM_DIR}/run`)?.trim(), '1');
    return child;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`withGuardedKsm: ${signal} puts every KSM file back before the process dies of it`, async (t) => {
    if (skip !== undefined) return void t.skip(skip);
    const before = (await settledKsm()).text;
    const child = await heldChild();
    const exited = once(child, 'exit');
    child.kill(signal);
    const [code, by] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.deepEqual([code, by], [null, signal], 'dies of the signal, as if it had not caught it');
    assert.deepEqual(snapshotKsm(), before);
  });
}

test("withGuardedKsm: after a SIGKILL the journal's watchdog puts every KSM file back", async (t) => {
  if (skip !== undefined) return void t.skip(skip);
  const before = (await settledKsm()).text;
  const child = await heldChild();
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  // The watchdog notices its owner is gone within a poll; give it 10 s.
  for (let i = 0; i < 100 && JSON.stringify(snapshotKsm()) !== JSON.stringify(before); i++) await sleep(100);
  assert.deepEqual(snapshotKsm(), before);
});
