/**
 * Checked against reality: real programs samepage did not write (python3 interpreters
 * holding known memory) are measured with `samepage stats`, snapshotted and predicted with
 * `samepage predict`, then merged for real with `samepage kernel enable` (ptrace-injected
 * PR_SET_MEMORY_MERGE); the live kernel's pages_sharing + ksm_zero_pages must come within
 * 5 % of the prediction.
 *
 * Needs root, a writable KSM, the native helpers and ptrace; skips, saying which, elsewhere.
 * It holds the kernel tests' lock and the samepage KSM lock for its whole run (the enabled
 * interpreters are KSM users that would skew any other run's global counters), saves every
 * KSM file first and restores it (run=2 first) before the interpreters' exit is awaited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreKsm, saveKsm } from '../src/host/ksm_sysfs.ts';
import { holdKernelTestLock, kernelSkipReason, takeKsmLock } from '../src/backends/kernel/testing.ts';
import { INJECT_SYSCALL } from '../src/host/inject.ts';
import { missingHelper, nativeHelperPath, ptraceRefusal } from '../src/host/ksm_native.ts';
import { realPython as python } from './python.ts';
import { samepage } from './samepage.ts';

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

function skipReason(): string | undefined {
  return (
    kernelSkipReason(true) ??
    missingHelper(nativeHelperPath(INJECT_SYSCALL)) ??
    ptraceRefusal() ??
    (python() === undefined ? 'python3 is not installed' : undefined)
  );
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ksmRead = (f: string): number => Number(readFileSync(`${KSM}/${f}`, 'utf8'));

async function startHolder(py: string): Promise<ChildProcess> {
  const child = spawn(py, ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')])) as [unknown];
  assert.ok(line instanceof Buffer && line.toString().startsWith('ready'), `python3 did not start: ${String(line)}`);
  return child;
}

/** Runs ksmd until pages_sharing + ksm_zero_pages is the same after two more full scans. */
async function mergeUntilSettled(): Promise<number> {
  writeFileSync(`${KSM}/pages_to_scan`, '20000');
  writeFileSync(`${KSM}/sleep_millisecs`, '10');
  writeFileSync(`${KSM}/run`, '1');
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
  const py = python()!;
  const dir = mkdtempSync(join(tmpdir(), 'samepage-real-'));
  const releaseTests = await holdKernelTestLock(600_000);
  const releaseKsm = await takeKsmLock();
  const saved = saveKsm();
  const children: ChildProcess[] = [];
  let problems: string[] = [];
  try {
    writeFileSync(`${KSM}/run`, '2'); // nothing merged before we measure
    for (let i = 0; i < PROGRAMS; i++) children.push(await startHolder(py));
    const pids = children.map((c) => String(c.pid));

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
    const measured = await mergeUntilSettled();
    const off = Math.abs(measured - prediction.saving_pages) / prediction.saving_pages;
    t.diagnostic(
      `stats saving ${stats.saving_pages}, predicted ${prediction.saving_pages}, live kernel ${measured} (${(100 * off).toFixed(2)} % apart)`,
    );
    assert.ok(
      off <= 0.05,
      `live kernel pages_sharing + ksm_zero_pages = ${measured}, predicted ${prediction.saving_pages}`,
    );
  } finally {
    problems = restoreKsm(saved);
    for (const c of children) c.kill('SIGKILL');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    releaseKsm();
    releaseTests();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems, [], 'KSM values not restored');
});
