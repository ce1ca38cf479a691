/**
 * Checked against reality: real programs samepage did not write (python3 interpreters
 * holding known memory) are measured with `samepage stats`, snapshotted and predicted with
 * `samepage predict`, then merged for real with `samepage kernel enable` (ptrace-injected
 * PR_SET_MEMORY_MERGE); the live kernel's pages_sharing + ksm_zero_pages must come within
 * 5 % of the prediction. At the default knobs, predict's time until pages_sharing settles
 * (virtual, from ksmd's cost model and the machine's timer) must come within 10 % of the
 * live kernel's wall time, for the python3 interpreters and for a second real program,
 * Node.js (three instances that built the same 200,000 objects, then idle); each time is
 * compared only once the same pages merged as predicted (pages_sharing within 5 %).
 *
 * Needs root, a writable KSM, the native helpers and ptrace; skips, saying which, elsewhere.
 * It holds the kernel tests' lock and the samepage KSM lock for its whole run (the enabled
 * interpreters are KSM users that would skew any other run's global counters). Its KSM
 * writes go through samepage's MachineGuard, as a kernel run's do: journaled before each
 * write, and every KSM file put back (restoreKsm's order) at the end, on Ctrl-C, SIGTERM or
 * SIGHUP, and by the journal's watchdog after a SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MachineGuard } from '../src/host/ksm_guard.ts';
import { holdKernelTestLock, kernelSkipReason, takeKsmLock } from '../src/backends/kernel/testing.ts';
import { INJECT_SYSCALL } from '../src/host/inject.ts';
import { missingHelper, nativeHelperPath, ptraceRefusal } from '../src/host/ksm_native.ts';
import { realPython as python } from './python.ts';
import { samepage } from './samepage.ts';
import { liveSettle } from '../src/measure/settle.ts';

const KSM = '/sys/kernel/mm/ksm';
/** Interpreters started, and what each holds (pages of 4 KiB). */
const PROGRAMS = 3;
const ONES_PAGES = 4096; // bytes 0x01: one content, period-1
const CYCLE_PAGES = 2048; // bytes 0..255 repeated: one content, period-256
const RANDOM_PAGES = 1024; // os.urandom: no duplicates

/** Holds the memory, says "ready", then waits on stdin without touching it again. */
const HOLDER = `
import os, sys
ones = bytearray(b"\\x01" * (${ONES_PAGES} * 4096))
cycle = bytearray(bytes(range(256)) * (${CYCLE_PAGES} * 16))
noise = bytearray(os.urandom(${RANDOM_PAGES} * 4096))
print("ready", flush=True)
sys.stdin.read()
`;

/**
 * A second real program: Node.js, each instance building the same 200,000 small objects on
 * its V8 heap (what a service loads at start), then idle; its duplicates are whatever V8
 * and the C library make of that, not laid out by the test. predict describes the memory
 * as snapshotted, so the heap must hold still: each instance collects its garbage before
 * it says ready and runs without V8's memory reducer, which otherwise collects again some
 * seconds after start. Measured with the reducer on: RssAnon fell from about 31 to 24-25 MB while
 * ksmd ran and the live kernel merged 947 pages against 3,337 predicted; with it off and
 * the heap collected, 1,108 against 1,108.
 */
const NODE_HOLDER = `
const a = [];
for (let i = 0; i < 200000; i++) a.push({ k: 'item' + (i % 1000), v: i % 7 });
globalThis.keep = a;
gc();
gc();
process.stdout.write('ready\\n');
process.stdin.resume();
`;

/** A program under test: how to start one instance that holds its memory and waits. */
interface Program {
  readonly name: string;
  readonly command: () => string | undefined;
  readonly args: readonly string[];
}

const PYTHON: Program = { name: 'python3', command: () => python(), args: ['-c', HOLDER] };
const NODE: Program = {
  name: 'node',
  command: () => process.execPath,
  args: ['--expose-gc', '--no-memory-reducer', '-e', NODE_HOLDER],
};

function skipReason(program: Program = PYTHON): string | undefined {
  return (
    kernelSkipReason(true) ??
    missingHelper(nativeHelperPath(INJECT_SYSCALL)) ??
    ptraceRefusal() ??
    (program.command() === undefined ? `${program.name} is not installed` : undefined)
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ksmRead = (f: string): number => Number(readFileSync(`${KSM}/${f}`, 'utf8'));

async function startHolder(program: Program): Promise<ChildProcess> {
  const child = spawn(program.command()!, program.args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')])) as [unknown];
  assert.ok(
    line instanceof Buffer && line.toString().startsWith('ready'),
    `${program.name} did not start: ${String(line)}`,
  );
  return child;
}

/** Writes a KSM file (a path under /sys/kernel/mm/ksm) through the run's guard; 0 or -errno. */
type KsmWrite = (path: string, value: string) => number;

/**
 * Runs `body` with PROGRAMS fresh instances of `program` holding their memory and nothing merged
 * (run=2), under the kernel tests' lock and the samepage KSM lock; `write` changes KSM files
 * through a MachineGuard, which puts every one back (restoreKsm's order) before the instances' exit
 * is awaited, or on a signal. ksmd is left on its CPUs: the times are compared as users run it.
 */
async function withHolders(
  program: Program,
  body: (pids: string[], dir: string, write: KsmWrite) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-real-'));
  const releaseTests = await holdKernelTestLock(600_000);
  const releaseKsm = await takeKsmLock();
  const children: ChildProcess[] = [];
  const warnings: string[] = [];
  const guard = new MachineGuard({
    killAgents: () => {
      for (const c of children) c.kill('SIGKILL');
    },
    onWarning: (m) => warnings.push(m),
  });
  const write: KsmWrite = (path, value) => guard.writeSysfs(path, value);
  try {
    guard.arm(true, false);
    assert.equal(write(`${KSM}/run`, '2'), 0, 'run=2'); // nothing merged before we measure
    for (let i = 0; i < PROGRAMS; i++) children.push(await startHolder(program));
    await body(
      children.map((c) => String(c.pid)),
      dir,
      write,
    );
  } finally {
    guard.release();
    for (const c of children) c.kill('SIGKILL');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    releaseKsm();
    releaseTests();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(warnings, [], 'KSM values not restored');
}

/** Runs ksmd until pages_sharing + ksm_zero_pages is the same after two more full scans. */
async function mergeUntilSettled(write: KsmWrite): Promise<number> {
  for (const [file, value] of [
    ['pages_to_scan', '20000'],
    ['sleep_millisecs', '10'],
    ['run', '1'],
  ] as const)
    assert.equal(write(`${KSM}/${file}`, value), 0, `${file}=${value}`);
  const saving = (): number => ksmRead('pages_sharing') + ksmRead('ksm_zero_pages');
  let last = -1;
  for (let round = 0; round < 30; round++) {
    const target = ksmRead('full_scans') + 2;
    for (let t = 0; ksmRead('full_scans') < target; t++) {
      assert.ok(t < 1200, 'ksmd made no full scan in 60 s');
      await sleep(50);
    }
    const now = saving();
    if (now === last) return now;
    last = now;
  }
  return last;
}

test('real python3 programs: stats finds the known duplicates, predict agrees, the live kernel merges within 5 % of it', async (t) => {
  const why = skipReason();
  if (why !== undefined) return void t.skip(why);
  await withHolders(PYTHON, async (pids, dir, write) => {
    // 1. stats: the two known duplicate contents, with their classes and counts. The buffers
    // are not page aligned, so each loses a page at its edges.
    const s = await samepage(['stats', '--pid', ...pids, '--json']);
    assert.equal(s.code, 0, s.err);
    const stats = JSON.parse(s.out) as {
      pages: number;
      saving_pages: number;
      top: Array<{ count: number; class: string }>;
    };
    const ones = stats.top.find((g) => g.class === 'period-1' && g.count >= PROGRAMS * (ONES_PAGES - 1));
    const cycle = stats.top.find((g) => g.class === 'period-256' && g.count >= PROGRAMS * (CYCLE_PAGES - 1));
    assert.ok(
      ones !== undefined,
      `no period-1 group of ${PROGRAMS * (ONES_PAGES - 1)}+ pages: ${JSON.stringify(stats.top.slice(0, 5))}`,
    );
    assert.ok(
      cycle !== undefined,
      `no period-256 group of ${PROGRAMS * (CYCLE_PAGES - 1)}+ pages: ${JSON.stringify(stats.top.slice(0, 5))}`,
    );
    assert.ok(stats.saving_pages >= ones.count + cycle.count - 2);

    // 2. snapshot + predict under KSM: the model's saving is stats' saving minus the extra
    // KSM pages max_page_sharing (256) makes each big group keep.
    const snap = join(dir, 'py.snap');
    const w = await samepage(['snapshot', '--pid', ...pids, '-o', snap]);
    assert.equal(w.code, 0, w.err);
    const p = await samepage(['predict', snap, '--policy', 'ksm', '--json']);
    assert.equal(p.code, 0, p.err);
    const prediction = (JSON.parse(p.out) as { prediction: { saving_pages: number; pages: number } }).prediction;
    assert.equal(prediction.pages, stats.pages);
    const chainPages = Math.ceil(ones.count / 256) - 1 + Math.ceil(cycle.count / 256) - 1;
    assert.ok(
      prediction.saving_pages <= stats.saving_pages,
      `predicted ${prediction.saving_pages} > stats ${stats.saving_pages}`,
    );
    assert.ok(
      stats.saving_pages - prediction.saving_pages <= chainPages + 0.01 * stats.saving_pages,
      `predicted ${prediction.saving_pages}, stats ${stats.saving_pages}: more apart than max_page_sharing explains (${chainPages})`,
    );

    // 3. merge for real: enable each interpreter, run ksmd until the counters settle.
    for (const pid of pids) {
      const e = await samepage(['kernel', 'enable', '--pid', pid]);
      assert.equal(e.code, 0, `${e.out}${e.err}`);
    }
    const measured = await mergeUntilSettled(write);
    const off = Math.abs(measured - prediction.saving_pages) / prediction.saving_pages;
    t.diagnostic(
      `stats saving ${stats.saving_pages}, predicted ${prediction.saving_pages}, live kernel ${measured} (${(100 * off).toFixed(2)} % apart)`,
    );
    assert.ok(
      off <= 0.05,
      `live kernel pages_sharing + ksm_zero_pages = ${measured}, predicted ${prediction.saving_pages}`,
    );
  });
});

/** Linux 6.18's defaults of the knobs that decide ksmd's pace (predict's too). */
const DEFAULT_PACE: ReadonlyArray<readonly [string, string]> = [
  ['advisor_mode', 'none'],
  ['pages_to_scan', '100'],
  ['sleep_millisecs', '20'],
  ['smart_scan', '1'],
  ['max_page_sharing', '256'],
  ['use_zero_pages', '0'],
];

for (const program of [PYTHON, NODE]) {
  test(`real ${program.name} programs at the default knobs: predict's time until pages_sharing settles is within 10 % of the live kernel's`, async (t) => {
    const why = skipReason(program);
    if (why !== undefined) return void t.skip(why);
    await withHolders(program, async (pids, dir, write) => {
      for (const [file, value] of DEFAULT_PACE) assert.equal(write(`${KSM}/${file}`, value), 0, `${file}=${value}`);
      const snap = join(dir, `${program.name}.snap`);
      const w = await samepage(['snapshot', '--pid', ...pids, '-o', snap]);
      assert.equal(w.code, 0, w.err);
      const p = await samepage(['predict', snap, '--policy', 'ksm', '--json']);
      assert.equal(p.code, 0, p.err);
      const prediction = (
        JSON.parse(p.out) as {
          prediction: {
            merged_settle_s: number;
            pages_sharing: number;
            full_scans: number;
            cpu_s: number;
            run_s: number;
          };
        }
      ).prediction;
      for (const pid of pids) {
        const e = await samepage(['kernel', 'enable', '--pid', pid]);
        assert.equal(e.code, 0, `${e.out}${e.err}`);
      }
      // From run=1 until pages_sharing has not moved for 3 full scans, as predict settles,
      // and on for as many full scans as predict ran, for ksmd's CPU over the same span.
      const live = await liveSettle(write, { scans: prediction.full_scans });
      const off = (prediction.merged_settle_s - live.settleS) / live.settleS;
      t.diagnostic(
        `pages_sharing settled after ${prediction.merged_settle_s.toFixed(2)} s predicted, ${live.settleS.toFixed(2)} s ` +
          `on the live kernel (${(100 * off).toFixed(1)} %; ksmd waited ${live.ksmdQueuedMs.toFixed(0)} ms for a CPU ` +
          `in ${live.wallS.toFixed(1)} s); pages_sharing ${prediction.pages_sharing} predicted ` +
          `(${prediction.full_scans} full scans, the quiet ones included), ${live.pagesSharing} live, last changed ` +
          `in full scan ${live.settleScans + 1}; ksmd's CPU ${(prediction.cpu_s * 1e3).toFixed(0)} ms in ` +
          `${prediction.run_s.toFixed(2)} s predicted, ${(live.ksmdCpuS * 1e3).toFixed(0)} ms in ${live.wallS.toFixed(2)} s ` +
          `(${live.fullScans} full scans) live`,
      );
      // The times compare the same merging only if the same pages merged.
      assert.ok(
        Math.abs(live.pagesSharing - prediction.pages_sharing) <= 0.05 * prediction.pages_sharing,
        `pages_sharing ${live.pagesSharing} live, ${prediction.pages_sharing} predicted: the memory changed after the snapshot`,
      );
      // A busy machine delays ksmd's wake-ups: its time then says nothing about the model.
      if (live.ksmdQueuedMs > 0.01 * live.wallS * 1000)
        return void t.skip(`the machine was busy: ksmd waited ${live.ksmdQueuedMs.toFixed(0)} ms for a CPU`);
      assert.ok(
        Math.abs(off) <= 0.1,
        `predicted ${prediction.merged_settle_s.toFixed(2)} s, live kernel ${live.settleS.toFixed(2)} s`,
      );
    });
  });
}
