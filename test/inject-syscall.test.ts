/**
 * The ptrace injector (native/inject-syscall.c through src/host/inject.ts) on live
 * processes this test starts: a samepage agent idle in read(2) (found by RIP-2) and a shell
 * busy in user space (found by a scan), each made to madvise and prctl, and left running
 * with its registers and memory as they were. Needs root (ptrace) and the built helpers;
 * skips, saying why, elsewhere. The targets become KSM users for a moment, so the kernel
 * tests' lock is held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, defaultAgentPath } from '../src/backends/kernel/agent.ts';
import { holdKernelTestLock } from '../src/backends/kernel/testing.ts';
import {
  INJECT_SYSCALL,
  injectSyscalls,
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  PR_GET_MEMORY_MERGE,
  PR_SET_MEMORY_MERGE,
} from '../src/host/inject.ts';
import { identify } from '../src/host/journal.ts';
import { readProcessKsmStat } from '../src/host/ksm_stat.ts';
import { missingHelper, nativeHelperPath, ptraceRefusal } from '../src/host/ksm_native.ts';
import { rangesWithFlag } from '../src/lib/proc_maps.ts';
import { readProcessMemory, readVmaFlags } from '../src/host/procfs.ts';

const skip = ptraceRefusal() ?? missingHelper(nativeHelperPath(INJECT_SYSCALL)) ?? missingHelper(defaultAgentPath());
if (skip !== undefined) process.stdout.write(`# injector tests skipped: ${skip}\n`);

const PAGES = 16;
const SIZE = PAGES * 4096;

/** The parts of the range that are VM_MERGEABLE ("mg" in smaps). */
function mergeable(pid: number, address: number, length: number): Array<{ start: number; length: number }> {
  return rangesWithFlag(readVmaFlags(pid) ?? [], address, length, 'mg');
}

test('an idle process madvises and prctls on request, keeps running, and its memory is intact', {
  skip: skip ?? false,
}, async () => {
  const release = await holdKernelTestLock();
  const agent = await Agent.spawn(defaultAgentPath(), 'target', 'sp-inject');
  try {
    const address = Number.parseInt(await agent.request(`mmap ${SIZE} 0 -1`), 16);
    await agent.request(`fill ${address} 0 ${SIZE} byte 7`);
    const pid = agent.pid;
    assert.deepEqual(mergeable(pid, address, SIZE), []);

    // Two calls in one stop: the second reads the flag the first did not change.
    const set = injectSyscalls(pid, [
      { call: 'madvise', address, length: SIZE, advice: MADV_MERGEABLE },
      { call: 'prctl', option: PR_GET_MEMORY_MERGE, arg: 0 },
    ]);
    assert.equal(set.error, undefined);
    assert.deepEqual(
      set.results.map((r) => [r.result, r.method]),
      [
        [0, 'rip-2'],
        [0, 'rip-2'],
      ],
    );
    assert.deepEqual(mergeable(pid, address, SIZE), [{ start: address, length: SIZE }]);
    assert.equal(readProcessKsmStat(pid)?.ksm_mergeable, true);

    const flag = injectSyscalls(pid, [
      { call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: 1 },
      { call: 'prctl', option: PR_GET_MEMORY_MERGE, arg: 0 },
      { call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: 0 },
      { call: 'madvise', address, length: SIZE, advice: MADV_UNMERGEABLE },
    ]);
    assert.equal(flag.error, undefined);
    assert.deepEqual(
      flag.results.map((r) => r.result),
      [0, 1, 0, 0],
    );
    assert.deepEqual(mergeable(pid, address, SIZE), []);
    assert.equal(readProcessKsmStat(pid)?.ksm_merge_any, false);

    // The agent still answers on its pipe (its read(2) was restarted) and its bytes are its own.
    await agent.request(`write ${address + 4096} 2a2b`);
    assert.deepEqual([...readProcessMemory(pid, address + 4094, 4)], [7, 7, 0x2a, 0x2b]);
    assert.equal(agent.alive(), true);

    // A range partly outside any mapping: madvise's own ENOMEM, and the process is unharmed.
    const hole = injectSyscalls(pid, [{ call: 'madvise', address: address + SIZE, length: 4096, advice: 12 }]);
    assert.equal(hole.results[0]?.result, -12);
    assert.equal(await agent.request(`write ${address} 01`), '');
  } finally {
    agent.signal('SIGKILL', defaultAgentPath());
    await agent.waitDead(3000);
    agent.close();
    release();
  }
});

test('a process busy in user space is reached through a syscall instruction found by a scan', {
  skip: skip ?? false,
}, async () => {
  const busy = spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  try {
    await once(busy, 'spawn');
    // Past its start-up (execve, the loader's system calls), into the loop.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pid = busy.pid!;
    const answer = injectSyscalls(pid, [{ call: 'prctl', option: PR_GET_MEMORY_MERGE, arg: 0 }]);
    assert.equal(answer.error, undefined);
    assert.equal(answer.results[0]?.result, 0);
    // Stopped at an instruction of its loop, not after a system call (a shell loop of `:`
    // makes none), so the injector borrowed a `syscall` of the vDSO or libc.
    assert.equal(answer.results[0]?.method, 'scan');
    assert.equal(busy.exitCode, null);
    const gone = injectSyscalls(999_999_999, [{ call: 'prctl', option: PR_GET_MEMORY_MERGE, arg: 0 }]);
    assert.match(gone.error ?? '', /does not exist/);
  } finally {
    busy.kill('SIGKILL');
    if (busy.exitCode === null && busy.signalCode === null) await once(busy, 'exit');
  }
});

test('with --start and --comm the injector touches only the process it was given; it reports how long it held it', {
  skip: skip ?? false,
}, async () => {
  const release = await holdKernelTestLock();
  const agent = await Agent.spawn(defaultAgentPath(), 'target', 'sp-guard');
  try {
    const address = Number.parseInt(await agent.request(`mmap ${SIZE} 0 -1`), 16);
    const pid = agent.pid;
    const start = identify(pid)!.start_time;
    const mark = [{ call: 'madvise', address, length: SIZE, advice: MADV_MERGEABLE }] as const;
    // Another start time: a reused pid. Another comm: a program that exec'd another one.
    const reused = injectSyscalls(pid, mark, undefined, { start: String(Number(start) + 1) });
    assert.equal(reused.final, true);
    assert.match(reused.error ?? '', /is another process now .*nothing was changed/);
    const other = injectSyscalls(pid, mark, undefined, { start, comm: 'firefox' });
    assert.equal(other.final, true);
    assert.match(other.error ?? '', /runs "sp-guard" now, not "firefox"/);
    assert.deepEqual(mergeable(pid, address, SIZE), [], 'nothing was marked');
    const ok = injectSyscalls(pid, mark, undefined, { start, comm: 'sp-guard', allowedOnly: true });
    assert.equal(ok.error, undefined);
    assert.equal(ok.results[0]?.result, 0);
    assert.ok(ok.pauseNs !== undefined && ok.pauseNs > 0, 'the pause is measured');
    assert.deepEqual(mergeable(pid, address, SIZE), [{ start: address, length: SIZE }]);
    assert.equal(await agent.request(`write ${address} 01`), '');
  } finally {
    agent.signal('SIGKILL', defaultAgentPath());
    await agent.waitDead(3000);
    agent.close();
    release();
  }
});
