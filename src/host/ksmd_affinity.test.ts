import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpusAllowed, findKsmdPid, firstCpu, pinKsmd, restoreKsmd } from './ksmd_affinity.ts';
import { holdKernelTestLock } from './ksm_lock.ts';
import { ksmUnusableReason } from './ksm_sysfs.ts';

test('firstCpu takes the lowest CPU of a Cpus_allowed_list', () => {
  assert.equal(firstCpu('0-1'), 0);
  assert.equal(firstCpu('3'), 3);
  assert.equal(firstCpu('4-7,1,9'), 1);
  assert.equal(firstCpu(''), undefined);
  assert.equal(firstCpu('x'), undefined);
});

test("cpusAllowed reads this process's CPUs and says nothing of a missing pid", () => {
  assert.match(cpusAllowed(process.pid) ?? '', /^\d+([-,]\d+)*$/);
  assert.equal(cpusAllowed(2 ** 22 + 1), undefined);
});

/** Why the live round trip cannot run here, or undefined. */
function liveSkip(): string | undefined {
  const machine = ksmUnusableReason();
  if (machine !== undefined) return machine;
  if (findKsmdPid() === undefined) return 'no ksmd thread';
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'taskset (util-linux) is not installed';
  }
  return undefined;
}

test('pinKsmd holds ksmd on its lowest CPU and restoreKsmd puts its CPUs back', {
  skip: liveSkip() ?? false,
}, async () => {
  const release = await holdKernelTestLock(600_000);
  const pid = findKsmdPid()!;
  const before = cpusAllowed(pid)!;
  try {
    const pin = pinKsmd();
    assert.ok(typeof pin !== 'string', `not pinned: ${String(pin)}`);
    assert.equal(pin.saved, before);
    assert.equal(cpusAllowed(pid), String(firstCpu(before)));
    assert.equal(restoreKsmd(pin), undefined);
    assert.equal(cpusAllowed(pid), before);
    // Restoring twice is harmless: nothing to do.
    assert.equal(restoreKsmd(pin), undefined);
  } finally {
    if (cpusAllowed(pid) !== before)
      execFileSync('taskset', ['--pid', '--cpu-list', before, String(pid)], { stdio: 'ignore' });
    release();
  }
});
