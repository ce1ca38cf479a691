import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpusAllowed, findKsmdPid, firstCpu } from './ksmd_affinity.ts';
import { holdKernelTestLock } from './ksm_lock.ts';
import { ksmUnusableReason } from './ksm_sysfs.ts';
import { LiveChanges } from './live_changes.ts';

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

test('LiveChanges.pinKsmd holds ksmd on its lowest CPU, journaled, and restore puts its CPUs back', {
  skip: liveSkip() ?? false,
}, async () => {
  const release = await holdKernelTestLock(600_000);
  const pid = findKsmdPid()!;
  const before = cpusAllowed(pid)!;
  const dir = mkdtempSync(join(tmpdir(), 'samepage-journal-'));
  try {
    const changes = LiveChanges.open({ dir, watchdog: false });
    assert.equal(changes.pinKsmd(), undefined);
    assert.equal(cpusAllowed(pid), String(firstCpu(before)));
    if (before !== String(firstCpu(before))) {
      // On a machine with more than one CPU the change was journaled before it was made.
      assert.deepEqual(
        changes.entries.map((e) => (e.kind === 'ksmd_cpus' ? [e.pid, e.original, e.written] : e.kind)),
        [[pid, before, [String(firstCpu(before))]]],
      );
    }
    const outcomes = changes.restore();
    assert.ok(
      outcomes.every((o) => o.result === 'restored'),
      JSON.stringify(outcomes),
    );
    assert.equal(cpusAllowed(pid), before);
    assert.deepEqual(changes.entries, []);
    // Restoring twice is harmless: nothing is left to do.
    assert.deepEqual(changes.restore(), []);
    changes.close();
  } finally {
    if (cpusAllowed(pid) !== before)
      execFileSync('taskset', ['--pid', '--cpu-list', before, String(pid)], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    release();
  }
});
