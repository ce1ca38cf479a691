/**
 * Interrupting `samepage run FILE --backend kernel` anywhere leaves /sys/kernel/mm/ksm
 * exactly as it was and no agent alive. A scenario with every step kind runs as a real CLI
 * child; SAMEPAGE_TEST_PAUSE_AT_STEP (src/term/test_pause.ts) stops it at the start of step
 * N, and the test sends SIGINT or SIGTERM there, for every N; it also interrupts inside a
 * timed wait with ksmd running, and checks the same after a complete run, a failed expect
 * and a step the backend refuses.
 *
 * Skips, saying why, where the kernel backend cannot run. Runs the CLI one at a time (KSM is
 * global): about 30 s on a 2-CPU VM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { cpusAllowed, findKsmdPid } from '../src/host/ksmd_affinity.ts';
import {
  holdKernelTestLockForFile,
  kernelSkipReasonAfterWait,
  liveAgents,
  settledKsm,
  takeKsmLock,
} from '../src/backends/kernel/testing.ts';
import { KSM_DIR, KSM_ITEM_COUNTERS, ksmItemCounts, readSysfs, restoreKsm } from '../src/host/ksm_sysfs.ts';
import { CLI } from './samepage.ts';

/** The test hook of `samepage run` (src/term/test_pause.ts): pause at the start of step N. */
const TEST_PAUSE_VARIABLE = 'SAMEPAGE_TEST_PAUSE_AT_STEP';
import { parseScenario } from '../src/scenario/parse.ts';

const machineSkip = await holdKernelTestLockForFile();
// Other KSM users are usually another worktree's run about to finish: give them a minute.
const skip = machineSkip ?? (await kernelSkipReasonAfterWait());
if (skip !== undefined) process.stdout.write(`# kernel interrupt tests skipped: ${skip}\n`);

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Every step kind, with knobs unlike Linux's defaults (so a missed restore shows), pages
 * merged before the later steps, and a timed wait while ksmd runs (step WAIT_MS).
 */
const EVERY_STEP = `version: 1
name: interrupt-every-step
ksm:
  pages_to_scan: 1000
  max_page_sharing: 10
  use_zero_pages: 1
  smart_scan: 0
steps:
  - spawn: { proc: a, comm: sp-intr-a }
  - mmap: { proc: a, region: r, size: 64KiB }
  - fill: { proc: a, region: r, pattern: { byte: 7 } }
  - write: { proc: a, region: r, offset: 4096, bytes: "dead" }
  - read: { proc: a, region: r, offset: 0, size: 4096, sha256: ${sha256(Buffer.alloc(4096, 7))} }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - prctl: { proc: a, option: PR_SET_MEMORY_MERGE, arg: 1 }
  - fork: { proc: a, child: b }
  - sysfs: { path: ksm/sleep_millisecs, value: "30" }
  - sysfs: { path: ksm/run, value: "1" }
  - wait: { full_scans: 2 }
  - expect: { /sys/kernel/mm/ksm/pages_sharing: ">= 1" }
  - record: { label: merged }
  - wait: { ms: 400 }
  - exec: { proc: b, comm: sp-intr-b }
  - munmap: { proc: a, region: r }
  - exit: { proc: b }
  - record: { label: end }
`;
const WAIT_MS = 13;

/** One CLI run: how it ended and what it said. */
interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How to interrupt a run: the signal, after the stderr line `when` matches and `ready` resolves. */
interface Interrupt {
  readonly signal: NodeJS.Signals;
  readonly when: RegExp;
  readonly ready?: () => Promise<void>;
}

/** Runs the CLI on `file` with the pause variable at `pauseAt`, interrupting it as asked. */
function runCli(file: string, pauseAt: number, interrupt: Interrupt | undefined): Promise<Outcome> {
  const child = spawn(process.execPath, [CLI, 'run', file, '--backend', 'kernel'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', [TEST_PAUSE_VARIABLE]: String(pauseAt) },
  });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (interrupt === undefined || sent || !interrupt.when.test(stderr)) return;
    sent = true;
    void (interrupt.ready?.() ?? Promise.resolve()).then(() => child.kill(interrupt.signal));
  });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** What other samepage runs (other worktrees' tests) make the CLI refuse: worth a retry. */
const BUSY = /Another samepage kernel run|Other processes already use KSM/;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** ksmd's CPU list now (the backend holds ksmd on one CPU during a run). */
function ksmdCpus(): string | undefined {
  const pid = findKsmdPid();
  return pid === undefined ? undefined : cpusAllowed(pid);
}

/** Nothing counted: what every run must leave in KSM_ITEM_COUNTERS. */
const NO_ITEMS = Object.fromEntries(KSM_ITEM_COUNTERS.map((c) => [c, '0']));

/** Agents left alive, after giving SIGKILLed ones a moment to be reaped. */
async function survivingAgents(): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    if (liveAgents().length === 0) return [];
    await sleep(20);
  }
  return liveAgents();
}

/**
 * Runs the CLI (again while another samepage run holds KSM) and asserts the cleanup: every
 * writable KSM file as before, no agent alive. Where the run failed to clean up, the test
 * does it before failing, so the machine is left as it was found.
 */
async function runAndCheck(
  file: string,
  pauseAt: number,
  interrupt: Interrupt | undefined,
  what: string,
): Promise<Outcome> {
  const deadline = performance.now() + 300_000;
  for (;;) {
    const before = await settledKsm();
    const ksmdBefore = ksmdCpus();
    const out = await runCli(file, pauseAt, interrupt);
    if (out.code === 2 && BUSY.test(out.stderr) && performance.now() < deadline) {
      await sleep(250);
      continue;
    }
    const agents = await survivingAgents();
    for (const pid of agents) process.kill(pid, 'SIGKILL');
    const after = await settledKsm();
    const items = ksmItemCounts();
    if (!isDeepStrictEqual(after.text, before.text) || !isDeepStrictEqual(items, NO_ITEMS)) {
      const release = await takeKsmLock();
      try {
        // run=2 reaps what the agents left counted; the restore then puts run back.
        if (!isDeepStrictEqual(items, NO_ITEMS)) writeFileSync(`${KSM_DIR}/run`, '2');
        restoreKsm(before.saved);
      } finally {
        release();
      }
    }
    assert.deepEqual(agents, [], `${what}: agents alive after the run\n${out.stderr}`);
    assert.deepEqual(after.text, before.text, `${what}: /sys/kernel/mm/ksm differs from before the run\n${out.stderr}`);
    // The run reaps what its agents left in KSM, interrupted or not: no process used KSM
    // before it (the backend refuses to start otherwise), so nothing may stay counted.
    assert.deepEqual(items, NO_ITEMS, `${what}: KSM still counts the agents' pages\n${out.stderr}`);
    assert.equal(ksmdCpus(), ksmdBefore, `${what}: ksmd's CPUs differ from before the run\n${out.stderr}`);
    return out;
  }
}

/** The scenario files, written once into a temporary directory. */
function scenarioFiles(): { dir: string; every: string; failing: string; refused: string; plain: string } {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-interrupt-'));
  const every = join(dir, 'every-step.yaml');
  writeFileSync(every, EVERY_STEP);
  const failing = join(dir, 'failing-expect.yaml');
  writeFileSync(failing, EVERY_STEP.replace('pages_sharing: ">= 1"', 'pages_sharing: 123456789'));
  // 4 PiB: more than the agent's region arena, so the backend refuses the mmap.
  const refused = join(dir, 'refused-step.yaml');
  writeFileSync(
    refused,
    EVERY_STEP.replace('  - fork:', '  - mmap: { proc: a, region: huge, size: 4503599627370496 }\n  - fork:'),
  );
  // max_page_sharing at its default: the restore then writes no run=2, which would reap
  // what the agents left in KSM by itself.
  const plain = join(dir, 'plain-knobs.yaml');
  writeFileSync(plain, EVERY_STEP.replace('  max_page_sharing: 10\n', ''));
  return { dir, every, failing, refused, plain };
}

test('the every-step scenario parses and has every step kind', () => {
  const parsed = parseScenario(EVERY_STEP, 'every-step.yaml');
  assert.ok(parsed.ok);
  const kinds = new Set(parsed.scenario.steps.map((s) => s.kind));
  const all = [
    'spawn',
    'mmap',
    'fill',
    'write',
    'read',
    'madvise',
    'prctl',
    'fork',
    'exec',
    'munmap',
    'exit',
    'sysfs',
    'wait',
    'expect',
    'record',
  ];
  assert.deepEqual([...kinds].sort(), all.sort());
  assert.deepEqual(parsed.scenario.steps[WAIT_MS], { kind: 'wait', unit: 'ms', count: 400 });
});

test('a kernel run interrupted at the start of any step restores sysfs and leaves no agent', {
  skip: skip ?? false,
}, async () => {
  const files = scenarioFiles();
  try {
    const parsed = parseScenario(EVERY_STEP, 'every-step.yaml');
    assert.ok(parsed.ok);
    for (const [index, step] of parsed.scenario.steps.entries()) {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const what = `${signal} at steps[${index}].${step.kind}`;
        const paused = new RegExp(`samepage: test: paused at steps\\[${index}\\]\\.${step.kind}\\n`);
        const out = await runAndCheck(files.every, index, { signal, when: paused }, what);
        assert.match(out.stderr, paused, `${what}: never paused`);
        assert.equal(out.signal, signal, `${what}: ended with code ${out.code}\n${out.stderr}`);
      }
    }
  } finally {
    rmSync(files.dir, { recursive: true, force: true });
  }
});

/** Runs `body` for SIGINT, then for SIGTERM, over scenario files removed afterwards. */
async function forEachSignal(
  body: (files: ReturnType<typeof scenarioFiles>, signal: 'SIGINT' | 'SIGTERM') => Promise<void>,
): Promise<void> {
  const files = scenarioFiles();
  try {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) await body(files, signal);
  } finally {
    rmSync(files.dir, { recursive: true, force: true });
  }
}

test(
  'a kernel run interrupted inside a timed wait, with ksmd running, restores sysfs and leaves no agent',
  {
    skip: skip ?? false,
  },
  () =>
    forEachSignal(async (files, signal) => {
      const out = await runAndCheck(
        files.every,
        Number.MAX_SAFE_INTEGER,
        {
          signal,
          when: new RegExp(`samepage: test: steps\\[${WAIT_MS}\\]\\.wait starts\\n`),
          // The backend lets ksmd run (run=1) only inside waits.
          ready: async () => {
            for (let i = 0; i < 200 && readSysfs(`${KSM_DIR}/run`)?.trim() !== '1'; i++) await sleep(2);
          },
        },
        `${signal} inside the timed wait`,
      );
      assert.equal(out.signal, signal, `ended with code ${out.code}\n${out.stderr}`);
    }),
);

test(
  'a kernel run interrupted after a merge leaves nothing counted in KSM, even where the restore writes no run=2',
  {
    skip: skip ?? false,
  },
  () =>
    forEachSignal(async (files, signal) => {
      const what = `${signal} after the merge, knobs restored without run=2`;
      const paused = new RegExp(`samepage: test: paused at steps\\[${WAIT_MS}\\]\\.wait\\n`);
      const out = await runAndCheck(files.plain, WAIT_MS, { signal, when: paused }, what);
      assert.match(out.stderr, paused, `${what}: never paused`);
      assert.equal(out.signal, signal, `${what}: ended with code ${out.code}\n${out.stderr}`);
    }),
);

test('a kernel run that completes, fails an expect, or has a step refused restores sysfs and leaves no agent', {
  skip: skip ?? false,
}, async () => {
  const files = scenarioFiles();
  try {
    const done = await runAndCheck(files.every, Number.MAX_SAFE_INTEGER, undefined, 'complete run');
    assert.equal(done.code, 0, done.stdout + done.stderr);

    const failed = await runAndCheck(files.failing, Number.MAX_SAFE_INTEGER, undefined, 'failed expect');
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stdout, /pages_sharing/);

    const refused = await runAndCheck(files.refused, Number.MAX_SAFE_INTEGER, undefined, 'refused step');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.match(refused.stdout, /steps\[7\]\.mmap: expected success, actual .*no room below the region arena/);
    // The run stopped there: later steps never ran.
    assert.doesNotMatch(refused.stderr, /steps\[8\]/);
  } finally {
    rmSync(files.dir, { recursive: true, force: true });
  }
});
