/**
 * KsmdHolder when its thread dies: the wait fails, naming why, and the main thread holds
 * ksmd itself unless the guard has stopped the thread. The dying thread
 * (fixtures/dying_hold_worker.ts) writes nothing, so no live KSM is needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StepError } from '../../scenario/backend.ts';
import { KsmdHolder } from './ksmd_holder.ts';

const DYING = new URL('./fixtures/dying_hold_worker.js', import.meta.url);

/** A holder on the dying thread, and the holds its main thread made. */
function dyingHolder(rc = 0): { holder: KsmdHolder; holds: number[] } {
  const holds: number[] = [];
  const holder = new KsmdHolder({
    pollMs: 5,
    workerUrl: DYING,
    holdKsmd: () => {
      holds.push(rc);
      return rc;
    },
  });
  return { holder, holds };
}

test('KsmdHolder: a thread that dies mid-wait fails the wait, and the main thread writes run=0 once', async () => {
  const { holder, holds } = dyingHolder();
  await assert.rejects(holder.fullScans(3, 10_000), (e: unknown) => {
    assert.ok(e instanceof StepError);
    assert.match(e.message, /the thread that holds ksmd failed: died in full_scans; ksmd is held \(run=0\)/);
    return true;
  });
  assert.deepEqual(holds, [0]);
  // It died with BUSY at 1: the guard must not wait 5 s for a dead thread to clear it.
  assert.equal(holder.stopSync(), undefined);
  await assert.rejects(holder.batch(1000), /ksmd cannot be held: the thread that holds ksmd failed/);
  assert.deepEqual(holds, [0], 'no second hold');
});

test('KsmdHolder: where run=0 cannot be written either, the failure says so', async () => {
  const { holder, holds } = dyingHolder(-16);
  await assert.rejects(holder.fullScans(1, 10_000), /ksmd could not be held \(errno 16\) until the restore/);
  assert.deepEqual(holds, [-16]);
});

test('KsmdHolder: a thread that dies once the guard has stopped it leaves ksm/run to the guard', async () => {
  const { holder, holds } = dyingHolder();
  const wait = holder.batch(10_000);
  // Let the thread take the command before STOP comes.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(holder.stopSync(), undefined);
  await assert.rejects(wait, /the thread that holds ksmd failed: died in batch$/);
  assert.deepEqual(holds, [], 'the guard restores ksm/run: the main thread wrote nothing');
});

test('KsmdHolder: close() mid-wait ends the wait as stopped, and the thread ending then holds nothing', async () => {
  const { holder, holds } = dyingHolder();
  const wait = holder.batch(10_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(holder.close(), undefined);
  assert.deepEqual(await wait, { kind: 'stopped' });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(holds, []);
  await assert.rejects(holder.fullScans(1, 1000), /ksmd cannot be held: stopped/);
});
