/**
 * The founding documents' shell snippets (test/fixtures/seed-shell/) print under
 * `samepage shell` what /bin/bash prints on the live kernel in the same state: one process
 * with 1024 pages of 16 contents and 16 pages of random bytes, all mergeable, after two full
 * scans at pages_to_scan 2000 (16 pages shared, 1008 sharing, 16 unshared). The state is set
 * up with the same scenario steps on both: on the kernel by the kernel backend (which also
 * holds ksmd still after the wait, so nothing moves while bash reads), on the model by the
 * shell's step commands.
 *
 * The values allowed to differ, each named where it is normalised:
 * - `date`: the wall clock on Linux, the model's boot plus virtual time here;
 * - pages_scanned and pages_skipped: Linux counts them since boot, the model since its start;
 * - where an error happened: bash -c adds `line N: ` to some messages (a builtin's, after
 *   the first line); samepage shell words every message as bash -c does on line 1;
 * - the endless monitoring loops: bash is stopped after its first round (1.5 s, while it
 *   sleeps), the model by --max-time at its first sleep (the notice of that is left out, and
 *   neither exit status is compared).
 *
 * Needs root, a writable /sys/kernel/mm/ksm, the agent and no other KSM user; the KSM values
 * are saved before and restored after, under the kernel tests' lock. Skips, saying why, elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKernelBackend } from '../src/backends/kernel/index.ts';
import {
  bareScenario,
  holdKernelTestLockForFile,
  kernelSkipReason,
  saveKsmValues,
} from '../src/backends/kernel/testing.ts';
import { packageRoot } from '../src/lib/package_root.ts';
import { parseStep } from '../src/scenario/parse.ts';
import { runStep, type Collected } from '../src/scenario/run.ts';
import { runShell } from '../src/shell/testing.ts';

const machineSkip = await holdKernelTestLockForFile();
const FIXTURES = join(packageRoot(import.meta.dirname), 'test', 'fixtures', 'seed-shell');

const SETUP = [
  'spawn: { proc: w, comm: sp-shell-cmp }',
  'mmap: { proc: w, region: dup, size: 4MiB }',
  'fill: { proc: w, region: dup, pattern: { page-mod: 16, seed: 7 } }',
  'mmap: { proc: w, region: uniq, size: 64KiB }',
  'fill: { proc: w, region: uniq, pattern: { random: 3 } }',
  'madvise: { proc: w, region: dup, advice: MADV_MERGEABLE }',
  'madvise: { proc: w, region: uniq, advice: MADV_MERGEABLE }',
  'sysfs: { path: ksm/pages_to_scan, value: "2000" }',
  'sysfs: { path: ksm/run, value: "1" }',
  'wait: { full_scans: 2 }',
];

/** Snippets in the order they run on the kernel: those that only read first, the writes last. */
const SNIPPETS: ReadonlyArray<{ file: string; loop?: true }> = [
  { file: '000-effect.sh' },
  { file: '000-watch-pages.sh' },
  { file: '000-advice.sh' },
  { file: '000-monitor.sh', loop: true },
  { file: '000-ksm-stats.sh', loop: true },
  { file: '000-numa.sh' },
  { file: '001-figure-5-9.sh' },
  { file: '000-tune.sh' },
  { file: '000-enable.sh' },
];

interface Printed {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

const BASH_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', TZ: 'UTC' };

/**
 * `bash -c SCRIPT` on the live kernel (samepage shell words its messages as bash -c does: no
 * script name, no line number); a loop is stopped once its first round is out.
 */
async function liveBash(script: string, loop: boolean): Promise<Printed> {
  if (!loop) {
    const r = spawnSync('/bin/bash', ['--norc', '--noprofile', '-c', script], {
      encoding: 'utf8',
      env: BASH_ENV,
      argv0: 'bash',
    });
    return { stdout: r.stdout, stderr: r.stderr, code: r.status };
  }
  const child = spawn('/bin/bash', ['--norc', '--noprofile', '-c', script], {
    env: BASH_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
    argv0: 'bash',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise((resolve) => child.once('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  child.kill('SIGKILL');
  await closed;
  return { stdout, stderr, code: null };
}

/** `date`'s default format (LC_ALL=C) on both sides, whatever time it shows. */
const DATE = /\b[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [A-Z]+ \d{4}\b/g;
/** A location bash adds to a message. */
const LINE_PREFIX = /^bash: line \d+: /gm;
/** The notice --max-time prints when it ends the model's loop. */
const LIMIT_NOTICE = /^samepage shell: stopped at .*\n/gm;
/** The pages_* files in glob order, and which count since boot on Linux. */
const PAGES_FILES = readdirSync('/sys/kernel/mm/ksm')
  .filter((f) => f.startsWith('pages_'))
  .sort();
const SINCE_BOOT = new Set(['pages_scanned', 'pages_skipped']);

function normalise(file: string, p: Printed): Printed {
  let stdout = p.stdout.replace(DATE, '<date>');
  if (file === '000-watch-pages.sh') {
    stdout = stdout
      .split('\n')
      .map((line, i) => (SINCE_BOOT.has(PAGES_FILES[i] ?? '') ? `<${PAGES_FILES[i]}>` : line))
      .join('\n');
  }
  return { stdout, stderr: p.stderr.replace(LIMIT_NOTICE, '').replace(LINE_PREFIX, 'bash: '), code: p.code };
}

test("the documents' shell snippets print the same under samepage shell as under bash on the kernel", async (t) => {
  const skip = machineSkip ?? kernelSkipReason() ?? (existsSync('/bin/bash') ? undefined : 'no /bin/bash');
  if (skip !== undefined) {
    t.skip(skip);
    return;
  }
  const { restore } = await saveKsmValues();
  const backend = createKernelBackend({ lockWaitMs: 600_000, onWarning: () => undefined });
  const live: Printed[] = [];
  try {
    await backend.start(bareScenario('shell-vs-bash'));
    const out: Collected = { records: [], expects: [], calls: [] };
    for (const [i, line] of SETUP.entries()) {
      const parsed = parseStep(line);
      assert.ok(parsed.ok, line);
      const outcome = await runStep(parsed.step, i, backend, out, {});
      assert.equal(outcome.stop, false, line);
    }
    for (const s of SNIPPETS) live.push(await liveBash(readFileSync(join(FIXTURES, s.file), 'utf8'), s.loop === true));
  } finally {
    await backend.stop();
    await restore();
  }
  for (const [i, s] of SNIPPETS.entries()) {
    const script = readFileSync(join(FIXTURES, s.file), 'utf8');
    const model = await runShell(`${SETUP.join('\n')}\n${script}`, s.loop === true ? 0 : 3_600_000);
    const ours = normalise(s.file, { ...model, code: s.loop === true ? null : model.code });
    const theirs = normalise(s.file, live[i]!);
    assert.deepEqual(ours, theirs, s.file);
  }
  // The state both were in: 16 contents shared by 1024 pages (the setup's page-mod 16).
  assert.match(live[0]!.stdout, /^共享页面数: 16$/m);
});
