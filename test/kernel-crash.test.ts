/**
 * The crash suite: every samepage command that changes the live machine, SIGKILLed at
 * several points, leaves it as it was, within 5 s (its watchdog) or at the next samepage
 * command, with no helper process left (docs/crash-safety.md).
 *
 * Each command runs as a real CLI child with SAMEPAGE_TEST_PAUSE_AT_CHANGE=N
 * (src/host/live_changes.ts), which stops it before its Nth live change; a first run with a
 * number past the end lists the changes (a survey), from which the kill points are chosen:
 * before the first change, between changes, mid-wait (before the run=0 that ends the first
 * wait, with ksmd running on the command's knobs) and during the restore. The test kills
 * the samepage process it started, and nothing else; the machine's state (every writable
 * /sys/kernel/mm/ksm file, ksmd's CPU list, MERGE_ANY of the test's own processes) is then
 * polled until it is as before. Where it is not, the test puts it back before failing.
 * After each recovery nothing may stay counted in KSM (pages_shared, rmap_items, ...): run
 * and diff are killed on two scenarios, one with max_page_sharing, whose restore writes
 * run=2 by itself, and one without, where only the journal's ksm_items entry reaps.
 *
 * Also: a person's knob written during a run survives recovery; with the watchdog killed
 * too, `kernel status` shows the pending recovery and the next run recovers before saving
 * its originals; a journal of a reused pid is recovered while the pid's new process runs;
 * madvised ranges of a dead owner are taken out of KSM again.
 *
 * Needs root, a writable KSM, the agent, the watchdog and the injector; skips, saying why,
 * elsewhere. Set SAMEPAGE_CRASH_MATRIX=FILE to get the matrix (command x kill point -> what
 * was left, what recovered it, how long it took) as JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Agent, defaultAgentPath } from '../src/backends/kernel/agent.ts';
import {
  holdKernelTestLockForFile,
  kernelSkipReasonAfterWait,
  liveAgents,
  settledKsm,
  takeKsmLock,
} from '../src/backends/kernel/testing.ts';
import { injectSyscalls, INJECT_SYSCALL } from '../src/host/inject.ts';
import {
  bootId,
  ensureJournalDir,
  identify,
  JOURNAL_DIR,
  JournalFile,
  listJournals,
  readRecoveryLog,
} from '../src/host/journal.ts';
import { cpusAllowed, findKsmdPid, setTaskCpus } from '../src/host/ksmd_affinity.ts';
import { missingHelper, nativeHelperPath, ptraceRefusal } from '../src/host/ksm_native.ts';
import { readProcessKsmStat } from '../src/host/ksm_stat.ts';
import {
  countedKsmItems,
  KSM_DIR,
  ksmItemCounts,
  readSysfs,
  restorableValue,
  restoreKsm,
  writeSysfs,
} from '../src/host/ksm_sysfs.ts';
import { TEST_PAUSE_AT_CHANGE } from '../src/host/change_pause.ts';
import { rangesWithFlag } from '../src/lib/proc_maps.ts';
import { isAlive, readVmaFlags } from '../src/host/procfs.ts';
import type { RecoveryReport } from '../src/host/recover.ts';
import { WATCHDOG } from '../src/host/watchdog.ts';
import { CLI, REPO } from './samepage.ts';

const machineSkip = await holdKernelTestLockForFile();
const skip =
  machineSkip ??
  (await kernelSkipReasonAfterWait()) ??
  missingHelper(nativeHelperPath(WATCHDOG)) ??
  missingHelper(nativeHelperPath(INJECT_SYSCALL)) ??
  ptraceRefusal();
if (skip !== undefined) process.stdout.write(`# kernel crash tests skipped: ${skip}\n`);

/** The longest a recovery may take after a SIGKILL (the watchdog's promise). */
const RECOVERY_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A small scenario: knobs unlike Linux's defaults, two full scans with ksmd running. */
const SCENARIO = `version: 1
name: crash-suite
ksm: { pages_to_scan: 10, sleep_millisecs: 30, max_page_sharing: 10 }
steps:
  - spawn: { proc: a, comm: sp-crash }
  - mmap: { proc: a, region: r, size: 64KiB }
  - fill: { proc: a, region: r, pattern: { byte: 7 } }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - sysfs: { path: ksm/run, value: "1" }
  - wait: { full_scans: 2 }
  - record: { label: end }
`;

/**
 * The same without max_page_sharing, whose restore writes run=2 by itself: what the agents
 * left counted in KSM is then reaped by the journal's ksm_items entry alone.
 */
const PLAIN_KNOBS = SCENARIO.replace(', max_page_sharing: 10 }', ' }');

/** The same, with a long timed wait to act in while ksmd runs. */
const LONG_WAIT = SCENARIO.replace('  - wait: { full_scans: 2 }', '  - wait: { full_scans: 1 }\n  - wait: { ms: 300 }');

/** What a crash must leave as it found: KSM's writable files, ksmd's CPUs, MERGE_ANY of our processes. */
interface MachineState {
  readonly ksm: Record<string, string | undefined>;
  readonly ksmd: string | undefined;
  readonly mergeAny: Record<string, boolean | undefined>;
}

function machineState(pids: readonly number[] = []): MachineState {
  const ksm: Record<string, string | undefined> = {};
  for (const [file, text] of Object.entries(snapshot())) ksm[file] = text;
  const ksmd = findKsmdPid();
  return {
    ksm,
    ksmd: ksmd === undefined ? undefined : cpusAllowed(ksmd),
    mergeAny: Object.fromEntries(pids.map((p) => [String(p), readProcessKsmStat(p)?.ksm_merge_any])),
  };
}

/** Every writable KSM file as the value that restores it. */
function snapshot(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const file of WRITABLE) {
    const text = readSysfs(`${KSM_DIR}/${file}`);
    out[file] = text === undefined ? undefined : restorableValue(text);
  }
  return out;
}

const WRITABLE = [
  'advisor_max_cpu',
  'advisor_max_pages_to_scan',
  'advisor_min_pages_to_scan',
  'advisor_mode',
  'advisor_target_scan_time',
  'max_page_sharing',
  'merge_across_nodes',
  'pages_to_scan',
  'run',
  'sleep_millisecs',
  'smart_scan',
  'stable_node_chains_prune_millisecs',
  'use_zero_pages',
].filter((f) => readSysfs(`${KSM_DIR}/${f}`) !== undefined);

/** What differs between two states, as `ksm/run 0->1` phrases. */
function differences(before: MachineState, after: MachineState): string[] {
  const out: string[] = [];
  for (const [f, v] of Object.entries(before.ksm))
    if (after.ksm[f] !== v) out.push(`ksm/${f} ${v ?? '?'}->${after.ksm[f] ?? '?'}`);
  if (after.ksmd !== before.ksmd) out.push(`ksmd CPUs ${before.ksmd ?? '?'}->${after.ksmd ?? '?'}`);
  for (const [p, v] of Object.entries(before.mergeAny))
    if (after.mergeAny[p] !== v) out.push(`MERGE_ANY of ${p} ${String(v)}->${String(after.mergeAny[p])}`);
  return out;
}

/** Puts the machine back as `before` says, after a failed recovery, so that the next test starts clean. */
async function repair(before: MachineState, saved: Awaited<ReturnType<typeof settledKsm>>['saved']): Promise<void> {
  const now = machineState(Object.keys(before.mergeAny).map(Number));
  if (isDeepStrictEqual(now, before)) return;
  const release = await takeKsmLock();
  try {
    if (!isDeepStrictEqual(now.ksm, before.ksm)) restoreKsm(saved);
    const ksmd = findKsmdPid();
    if (ksmd !== undefined && before.ksmd !== undefined && now.ksmd !== before.ksmd) setTaskCpus(ksmd, before.ksmd);
    for (const [p, v] of Object.entries(before.mergeAny))
      if (v !== undefined && now.mergeAny[p] !== v)
        injectSyscalls(Number(p), [{ call: 'prctl', option: 67, arg: v ? 1 : 0 }]);
  } finally {
    release();
  }
}

/** A samepage CLI child and what it wrote on stderr. */
interface Cli {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCli(args: readonly string[], pauseAt: number | undefined): Cli {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  if (pauseAt !== undefined) env[TEST_PAUSE_AT_CHANGE] = String(pauseAt);
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: REPO });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, closed };
}

async function waitFor(what: string, ready: () => boolean, ms: number, diagnostics: () => string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}\n${diagnostics()}`);
    await sleep(10);
  }
}

/** The live changes a command makes, from a run with the hook listing them (its first journal session). */
async function survey(args: readonly string[]): Promise<string[]> {
  const cli = startCli(args, 1_000_000);
  await cli.closed;
  const changes: string[] = [];
  for (const m of cli.stderr().matchAll(/^samepage: test: live change (\d+): (.*)$/gm)) {
    if (Number(m[1]) !== changes.length + 1) break; // a second session (bench's next workload)
    changes.push(m[2] ?? '');
  }
  assert.ok(changes.length > 0, `no live change listed by samepage ${args.join(' ')}\n${cli.stderr()}`);
  return changes;
}

/** Kill points chosen from a survey: 1-based change numbers, with a name. */
type KillPoint = readonly [string, number];

/**
 * Where to kill a command that runs a scenario: before its first change, between changes
 * (while the defaults are written; with the scenario's knobs set, just before ksmd runs),
 * mid-wait (before the run=0 that ends the first wait: ksmd running on the command's
 * knobs), after that wait (ksmd held, its merges counted), and during the restore (its first
 * and its last write). `all` false keeps the
 * first, mid-wait and restore points: commands that share the kernel backend's path.
 */
function killPoints(changes: readonly string[], all: boolean): KillPoint[] {
  const at = (pred: (w: string) => boolean, from = 0): number => {
    const i = changes.findIndex((w, k) => k >= from && pred(w));
    assert.ok(i >= 0, `no such change in:\n${changes.join('\n')}`);
    return i + 1;
  };
  const firstRun = at((w) => w === `${KSM_DIR}/run=1`);
  const firstRestore = at((w) => w.startsWith('restore '));
  const points: KillPoint[] = [['before the first change', 1]];
  if (all) {
    points.push(['between changes (defaults being written)', Math.max(2, Math.floor(firstRun / 2))]);
    points.push(['between changes (knobs set, ksmd not yet running)', firstRun]);
  }
  const held = at((w) => w === `${KSM_DIR}/run=0`, firstRun);
  points.push(['mid-wait (ksmd running)', held]);
  // ksmd held after the wait, what it merged still counted and run 0, so ksmd will not reap
  // the dead agents' items itself: only the restore's run=2 does. It is the restore's first
  // write when that is the reap, as it is now; otherwise a point of its own.
  if (held + 1 !== firstRestore) points.push(['after the wait (ksmd held, its merges counted)', held + 1]);
  points.push(['during restore (its first write)', firstRestore]);
  if (all) points.push(['during restore (its last write)', changes.length]);
  return points;
}

/** One row of the crash matrix. */
interface MatrixRow {
  readonly command: string;
  readonly point: string;
  readonly left: readonly string[];
  readonly recoveredBy: string;
  readonly restored: readonly string[];
  /** From the SIGKILL to the machine as before (0 when nothing was left changed). */
  readonly ms: number;
  /** From the SIGKILL to the recovery done: journal gone, watchdog exited. */
  readonly doneMs: number;
  /** KSM's item counters that were not 0 when the command was killed, as `name value` (undefined: not read). */
  readonly countedAtKill?: readonly string[];
}

const matrix: MatrixRow[] = [];

/** Journals whose owner is `pid`. */
function journalsOf(pid: number): string[] {
  return listJournals(JOURNAL_DIR).filter((p) => p.includes(`/owner-${pid}-`));
}

/** Recoveries of `pid`'s journals logged since `since` (the log outlives pids, which the kernel reuses). */
function recoveriesOf(pid: number, since: number): RecoveryReport[] {
  return (readRecoveryLog(JOURNAL_DIR) as RecoveryReport[]).filter(
    (r) => r.owner?.pid === pid && Date.parse(r.time) >= since,
  );
}

/**
 * Starts `args` paused at change `pauseAt` (or at `ready`), SIGKILLs it, and checks that the
 * machine is back as before within RECOVERY_MS, the journal and every helper gone.
 */
async function crashAndCheck(
  command: string,
  point: string,
  args: readonly string[],
  opts: {
    pauseAt?: number;
    ready?: (stderr: string) => boolean;
    pids?: readonly number[];
    /** The command's own agents were KSM's only users: nothing may stay counted after the recovery. */
    reaped?: boolean;
  },
): Promise<MatrixRow> {
  const settled = await settledKsm();
  const pids = opts.pids ?? [];
  const before = machineState(pids);
  const startedAt = Date.now();
  const cli = startCli(args, opts.pauseAt);
  const what = `${command}, SIGKILL ${point}`;
  try {
    const paused = opts.pauseAt === undefined ? undefined : new RegExp(`paused before live change ${opts.pauseAt}: `);
    await waitFor(
      `the pause (${what})`,
      () => (paused?.test(cli.stderr()) ?? false) || (opts.ready?.(cli.stderr()) ?? false),
      60_000,
      cli.stderr,
    );
    const pid = cli.child.pid!;
    const journal = journalsOf(pid)[0];
    assert.ok(journal !== undefined, `${what}: no journal of ${pid} in ${JOURNAL_DIR}`);
    const loaded = JournalFile.load(journal);
    const watchdog = typeof loaded === 'string' ? undefined : loaded.owner.watchdog_pid;
    assert.ok(watchdog !== undefined && isAlive(watchdog), `${what}: no live watchdog in ${journal}`);
    const atKill = machineState(pids);
    const countedAtKill = countedKsmItems();
    const t0 = performance.now();
    cli.child.kill('SIGKILL');
    await waitFor(
      `the machine as before (${what})`,
      () => isDeepStrictEqual(machineState(pids), before),
      RECOVERY_MS,
      () => [differences(before, machineState(pids)).join(', '), cli.stderr()].join('\n'),
    );
    const ms = Math.round(performance.now() - t0);
    await waitFor(`no journal of ${pid}`, () => journalsOf(pid).length === 0, RECOVERY_MS, cli.stderr);
    await waitFor(`the watchdog ${watchdog} gone`, () => !isAlive(watchdog), RECOVERY_MS, cli.stderr);
    const doneMs = Math.round(performance.now() - t0);
    // The watchdog wrote its report on the dead owner's stderr before it exited. (A program
    // that `kernel exec` started holds that pipe open for its own life.)
    await Promise.race([cli.closed, sleep(200)]);
    // The command's agents (not the test's own targets) are gone: they read the end of their pipe.
    const strays = (): number[] => liveAgents().filter((p) => !pids.includes(p));
    await waitFor(
      'no agent left',
      () => strays().length === 0,
      RECOVERY_MS,
      () => strays().join(' '),
    );
    const [report] = recoveriesOf(pid, startedAt);
    assert.ok(report !== undefined, `${what}: no recovery logged for ${pid}\n${cli.stderr()}`);
    assert.equal(report.left, 0, `${what}: ${JSON.stringify(report.outcomes)}`);
    if (opts.reaped === true) {
      const counted = Object.entries(ksmItemCounts()).filter(([, v]) => v !== '0');
      assert.deepEqual(counted, [], `${what}: KSM still counts the agents' items\n${JSON.stringify(report.outcomes)}`);
    }
    const row: MatrixRow = {
      command,
      point,
      left: differences(before, atKill),
      recoveredBy: report.by,
      restored: report.outcomes.filter((o) => o.result === 'restored').map((o) => o.target),
      ms,
      doneMs,
      countedAtKill,
    };
    matrix.push(row);
    return row;
  } finally {
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await repair(before, settled.saved);
  }
}

function scenarioFile(text: string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-crash-'));
  const file = join(dir, 'crash.yaml');
  writeFileSync(file, text);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

for (const [command, args, all, scenario] of [
  ['run --backend kernel', (f: string) => ['run', f, '--backend', 'kernel'], true, SCENARIO],
  ['run --backend kernel on plain knobs', (f: string) => ['run', f, '--backend', 'kernel'], true, PLAIN_KNOBS],
  ['diff', (f: string) => ['diff', f], false, SCENARIO],
  ['diff on plain knobs', (f: string) => ['diff', f], false, PLAIN_KNOBS],
  ['bench --pages 64 --scans 1', () => ['bench', '--pages', '64', '--scans', '1', '--json'], false, SCENARIO],
  [
    'bench --calibrate --dry-run --pages 64',
    () => ['bench', '--calibrate', '--dry-run', '--pages', '64', '--json'],
    false,
    SCENARIO,
  ],
] as const) {
  const where = all
    ? 'before and between its changes, mid-wait and mid-restore'
    : 'before its first change, mid-wait and mid-restore';
  test(`${command} SIGKILLed ${where}: the watchdog puts everything back within 5 s`, {
    skip: skip ?? false,
  }, async () => {
    const s = scenarioFile(scenario);
    try {
      const changes = await survey(args(s.file));
      const rows: MatrixRow[] = [];
      for (const [point, n] of killPoints(changes, all)) {
        const row = await crashAndCheck(command, `${point}: change ${n}, ${changes[n - 1]}`, args(s.file), {
          pauseAt: n,
          reaped: true,
        });
        rows.push(row);
        assert.equal(row.recoveredBy, 'watchdog');
        // Killed before its first change it left nothing; killed with ksmd running, something.
        if (n === 1) assert.deepEqual(row.left, []);
        if (point.startsWith('mid-wait') || point.includes('knobs set')) assert.notDeepEqual(row.left, []);
      }
      // Without max_page_sharing only the journal's ksm_items entry writes run=2: some kill
      // must have left merged pages counted, or the check after each recovery proves nothing.
      if (scenario === PLAIN_KNOBS)
        assert.ok(
          rows.some((r) => (r.countedAtKill?.length ?? 0) > 0),
          `no kill point left KSM's items counted: ${rows.map((r) => r.point).join('; ')}`,
        );
    } finally {
      s.done();
    }
  });
}

test('kernel exec --run SIGKILLed before it sets run, while the program runs, and while it restores run: run comes back', {
  skip: skip ?? false,
}, async () => {
  const program = ['sh', '-c', 'echo program $$ >&2; exec sleep 30'];
  const pidOf = (stderr: string): number | undefined => {
    const m = /^program (\d+)$/m.exec(stderr);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  const cases: Array<[string, readonly string[], { pauseAt?: number; ready?: (e: string) => boolean }]> = [
    [
      'before the first change: change 1, run=1',
      ['kernel', 'exec', '--run', '--report-after', '0', '--', ...program],
      { pauseAt: 1 },
    ],
    [
      'mid-program (run held at 1)',
      ['kernel', 'exec', '--run', '--report-after', '0', '--', ...program],
      { ready: (e) => pidOf(e) !== undefined && /ksm\/run set to 1/.test(e) },
    ],
    [
      'during restore: change 2, run back',
      ['kernel', 'exec', '--run', '--report-after', '0', '--', 'sh', '-c', 'echo program $$ >&2'],
      { pauseAt: 2 },
    ],
  ];
  for (const [point, args, opts] of cases) {
    let stderr = '';
    try {
      const row = await crashAndCheck('kernel exec --run', point, args, {
        ...opts,
        ...(opts.ready === undefined
          ? {}
          : {
              ready: (e: string): boolean => {
                stderr = e;
                return opts.ready?.(e) ?? false;
              },
            }),
      });
      assert.equal(row.recoveredBy, 'watchdog');
      const run = machineState().ksm.run;
      if (point.startsWith('mid-program') && run !== '1') assert.deepEqual(row.left, [`ksm/run ${run}->1`]);
      if (point.startsWith('before')) assert.deepEqual(row.left, []);
    } finally {
      // The program is the user's and outlives samepage; here it is ours to end.
      const p = pidOf(stderr);
      if (p !== undefined && isAlive(p)) process.kill(p, 'SIGKILL');
    }
  }
});

/** `count` agents with one comm, for `kernel enable NAME`. */
async function agents(comm: string, count: number): Promise<{ pids: number[]; stop: () => Promise<void> }> {
  const started: Agent[] = [];
  for (let i = 0; i < count; i++) started.push(await Agent.spawn(defaultAgentPath(), `t${i}`, comm));
  return {
    pids: started.map((a) => a.pid),
    stop: async () => {
      for (const a of started) a.signal('SIGKILL', defaultAgentPath());
      await Promise.all(started.map((a) => a.waitDead(3000)));
      for (const a of started) a.close();
    },
  };
}

test('kernel enable NAME SIGKILLed before, between and near the end of its injections: every process is as it was', {
  skip: skip ?? false,
}, async () => {
  const comm = `sp-en${process.pid % 100_000}`;
  const targets = await agents(comm, 3);
  try {
    for (const [point, n] of [
      ['before the first change: change 1', 1],
      ['between changes: change 2, after 1 of 3 processes', 2],
      ['between changes: change 3, after 2 of 3 processes', 3],
    ] as const) {
      const row = await crashAndCheck('kernel enable NAME (3 processes)', point, ['kernel', 'enable', comm], {
        pauseAt: n,
        pids: targets.pids,
      });
      assert.equal(row.left.length, n - 1, row.left.join(', '));
      assert.equal(row.restored.length, n - 1);
    }
    // A completed enable is meant to last: nothing is undone, and no journal is left.
    const startedAt = Date.now();
    const done = startCli(['kernel', 'enable', comm], undefined);
    assert.equal((await done.closed).code, 0, done.stderr());
    assert.deepEqual(
      targets.pids.map((p) => readProcessKsmStat(p)?.ksm_merge_any),
      [true, true, true],
    );
    assert.deepEqual(journalsOf(done.child.pid!), []);
    assert.deepEqual(recoveriesOf(done.child.pid!, startedAt), []);
  } finally {
    await targets.stop();
  }
});

test("a person's change to a knob during a run survives the recovery after SIGKILL, and the recovery says so", {
  skip: skip ?? false,
}, async () => {
  const s = scenarioFile(LONG_WAIT);
  const settled = await settledKsm();
  const original = settled.text.sleep_millisecs?.trim();
  try {
    const args = ['run', s.file, '--backend', 'kernel'];
    const changes = await survey(args);
    const run1 = changes.indexOf(`${KSM_DIR}/run=1`);
    const midWait = changes.indexOf(`${KSM_DIR}/run=0`, run1) + 1;
    const before = machineState();
    const startedAt = Date.now();
    const cli = startCli(args, midWait);
    try {
      await waitFor('the pause', () => /paused before live change/.test(cli.stderr()), 60_000, cli.stderr);
      // The person: neither the original nor the scenario's 30.
      const mine = original === '777' ? '778' : '777';
      assert.equal(writeSysfs(`${KSM_DIR}/sleep_millisecs`, mine), 0);
      cli.child.kill('SIGKILL');
      const wanted = { ...before.ksm, sleep_millisecs: mine };
      await waitFor(
        'the recovery',
        () => isDeepStrictEqual(machineState().ksm, wanted),
        RECOVERY_MS,
        () => differences({ ...before, ksm: wanted }, machineState()).join(', '),
      );
      await cli.closed;
      const [report] = recoveriesOf(cli.child.pid!, startedAt);
      const kept = report?.outcomes.find((o) => o.target === `${KSM_DIR}/sleep_millisecs`);
      assert.equal(kept?.result, 'kept');
      assert.match(
        kept?.detail ?? '',
        new RegExp(`left at ${mine}, which someone wrote after samepage \\(samepage wrote 30`),
      );
      assert.match(cli.stderr(), /samepage: watchdog: Recovered .* kept .*sleep_millisecs: left at 77/);
      assert.equal(machineState().ksmd, before.ksmd);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
      await cli.closed;
      if (original !== undefined) writeSysfs(`${KSM_DIR}/sleep_millisecs`, original);
      await repair(before, settled.saved);
    }
  } finally {
    s.done();
  }
});

test('with its watchdog killed too, kernel status shows the pending recovery and the next run recovers before saving its originals', {
  skip: skip ?? false,
}, async () => {
  const s = scenarioFile(LONG_WAIT);
  const settled = await settledKsm();
  const before = machineState();
  try {
    const args = ['run', s.file, '--backend', 'kernel'];
    const changes = await survey(args);
    const midWait = changes.indexOf(`${KSM_DIR}/run=0`, changes.indexOf(`${KSM_DIR}/run=1`)) + 1;
    const startedAt = Date.now();
    const cli = startCli(args, midWait);
    await waitFor('the pause', () => /paused before live change/.test(cli.stderr()), 60_000, cli.stderr);
    const journal = journalsOf(cli.child.pid!)[0]!;
    const loaded = JournalFile.load(journal);
    assert.ok(typeof loaded !== 'string' && loaded.owner.watchdog_pid !== undefined);
    // Both gone at once, as the OOM killer or a reboot-less crash of everything might do.
    process.kill(loaded.owner.watchdog_pid, 'SIGKILL');
    cli.child.kill('SIGKILL');
    await cli.closed;
    await sleep(500);
    const damaged = machineState();
    assert.notDeepEqual(damaged, before, 'nothing was left changed: the point of this test is missed');

    const status = startCli(['kernel', 'status'], undefined);
    await status.closed;
    const statusJson = spawnJson(['kernel', 'status', '--json']);
    const views = (await statusJson).journals as Array<{ journal: string; state: string }>;
    assert.deepEqual(
      views.filter((v) => v.journal === journal).map((v) => v.state),
      ['dead'],
    );
    assert.match(status.stderr(), /`samepage kernel recover` undoes them/);
    assert.match(
      status.stdout(),
      new RegExp(`samepage process ${cli.child.pid} \\(samepage\\.js run .*\\): DEAD: pending recovery`),
    );
    assert.match(status.stdout(), /\/sys\/kernel\/mm\/ksm\/run: originally \d; samepage wrote/);

    // The next run recovers first: it then saves, and at its end restores, the true originals.
    const next = startCli(['run', s.file, '--backend', 'kernel'], undefined);
    const end = await next.closed;
    assert.equal(end.code, 0, next.stderr());
    assert.match(
      next.stderr(),
      new RegExp(
        `Recovered what samepage process ${cli.child.pid} \\(samepage\\.js run .*\\) left when it died: restored`,
      ),
    );
    assert.deepEqual(differences(before, machineState()), []);
    assert.equal(recoveriesOf(cli.child.pid!, startedAt)[0]?.by, 'the next samepage run, before its own changes');
  } finally {
    await repair(before, settled.saved);
    s.done();
  }
});

/** Runs samepage with --json and parses its stdout. */
function spawnJson(args: readonly string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', () => {
      try {
        resolve(JSON.parse(out) as Record<string, unknown>);
      } catch (err) {
        reject(err);
      }
    });
  });
}

test('a journal whose pid now belongs to another process is recognised as stale and recovered; the live owner of another is left alone', {
  skip: skip ?? false,
}, async () => {
  const settled = await settledKsm();
  const original = settled.text.sleep_millisecs?.trim() ?? '20';
  const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(stranger, 'spawn');
  const files: string[] = [];
  try {
    const who = identify(stranger.pid!)!;
    const value = original === '41' ? '42' : '41';
    // The journal of an owner that had this pid before: same pid, an earlier start time.
    const stale = JournalFile.create(
      JOURNAL_DIR,
      { pid: who.pid, start_time: String(Number(who.start_time) - 1), boot_id: bootId(), command: 'a killed samepage' },
      1n,
    );
    files.push(stale.path);
    stale.add([{ kind: 'sysfs', path: `${KSM_DIR}/sleep_millisecs`, original, written: [value] }]);
    // A journal of the running process itself: its owner is alive, so it is not recovered.
    const live = JournalFile.create(JOURNAL_DIR, { ...who, boot_id: bootId(), command: 'a running samepage' }, 2n);
    files.push(live.path);
    live.add([{ kind: 'sysfs', path: `${KSM_DIR}/sleep_millisecs`, original, written: [value] }]);
    assert.equal(writeSysfs(`${KSM_DIR}/sleep_millisecs`, value), 0);

    const status = (await spawnJson(['kernel', 'status', '--json'])).journals as Array<{
      journal: string;
      state: string;
    }>;
    assert.deepEqual(
      status.filter((v) => files.includes(v.journal)).map((v) => [v.journal, v.state]),
      [
        [stale.path, 'dead'],
        [live.path, 'alive'],
      ],
    );
    const reports = (await spawnJsonArray(['kernel', 'recover', '--json'])).filter((r) => files.includes(r.journal));
    assert.deepEqual(
      reports.map((r) => [r.journal, r.state, r.outcomes.map((o) => o.result)]),
      [[stale.path, 'dead', ['restored']]],
    );
    assert.equal(readSysfs(`${KSM_DIR}/sleep_millisecs`)?.trim(), original);
    assert.deepEqual(
      listJournals(JOURNAL_DIR).filter((p) => files.includes(p)),
      [live.path],
    );
  } finally {
    stranger.kill('SIGKILL');
    for (const f of files) rmSync(f, { force: true });
    writeSysfs(`${KSM_DIR}/sleep_millisecs`, original);
  }
});

function spawnJsonArray(args: readonly string[]): Promise<RecoveryReport[]> {
  return spawnJson(args) as unknown as Promise<RecoveryReport[]>;
}

test('madvised ranges of a process are taken out of KSM again when the samepage process that madvised them is killed', {
  skip: skip ?? false,
}, async () => {
  const target = await Agent.spawn(defaultAgentPath(), 'target', 'sp-madv');
  const size = 16 * 4096;
  try {
    const address = Number.parseInt(await target.request(`mmap ${size} 0 -1`), 16);
    await target.request(`fill ${address} 0 ${size} byte 9`);
    const mergeable = (): number => rangesWithFlag(readVmaFlags(target.pid) ?? [], address, size, 'mg').length;
    assert.equal(mergeable(), 0);
    const startedAt = Date.now();
    const owner = spawn(
      process.execPath,
      [join(REPO, 'dist', 'test', 'journal-owner.js'), 'madvise', String(target.pid), String(address), String(size)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    owner.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = once(owner, 'close');
    await waitFor(
      'the owner ready',
      () => /^(ready|err) /m.test(out),
      30_000,
      () => out,
    );
    assert.match(out, /^ready /m);
    assert.equal(mergeable(), 1);
    assert.equal(readProcessKsmStat(target.pid)?.ksm_mergeable, true);
    const t0 = performance.now();
    owner.kill('SIGKILL');
    await waitFor(
      'the range unmerged',
      () => mergeable() === 0,
      RECOVERY_MS,
      () => out,
    );
    const ms = Math.round(performance.now() - t0);
    await closed;
    // The watchdog logs its recovery once it is done (its output is not on a pipe we read).
    await waitFor(
      'the recovery logged',
      () => recoveriesOf(owner.pid!, startedAt).length > 0,
      RECOVERY_MS,
      () => out,
    );
    const [report] = recoveriesOf(owner.pid!, startedAt);
    assert.deepEqual(
      report?.outcomes.map((o) => [o.kind, o.result]),
      [['madvise', 'restored']],
    );
    matrix.push({
      command: 'a journaled madvise (as the KSM+ daemon makes them)',
      point: 'after its change',
      left: ['1 range MADV_MERGEABLE'],
      recoveredBy: report?.by ?? '?',
      restored: report?.outcomes.map((o) => o.target) ?? [],
      ms,
      doneMs: Math.round(performance.now() - t0),
    });
    // The process goes on: its memory is its own.
    await target.request(`write ${address} 01`);
  } finally {
    target.signal('SIGKILL', defaultAgentPath());
    await target.waitDead(3000);
    target.close();
  }
});

test("as another user, kernel status shows KSM and says the journals are root's; kernel recover exits 2 saying it needs root", {
  skip: skip ?? false,
}, (t) => {
  const asNobody = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
  const probe = spawnSync(asNobody[0]!, [...asNobody.slice(1), 'true'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0)
    return void t.skip('setpriv cannot run a command as nobody here');
  ensureJournalDir(JOURNAL_DIR);
  const run = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(asNobody[0]!, [...asNobody.slice(1), process.execPath, CLI, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
  const status = run(['kernel', 'status']);
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, /pages_sharing/);
  assert.match(status.stderr, /Cannot read \/run\/samepage, where samepage journals its live changes: it is root's/);
  const recover = run(['kernel', 'recover']);
  assert.equal(recover.status, 2, recover.stderr);
  assert.match(recover.stderr, /^samepage: samepage kernel recover needs root: Cannot read \/run\/samepage/m);
});

test('the crash matrix', { skip: skip ?? false }, (t) => {
  for (const r of matrix)
    t.diagnostic(
      `${r.command} | ${r.point} | left: ${r.left.join(', ') || 'nothing'} | counted: ${r.countedAtKill?.join(', ') || 'nothing'} | by ${r.recoveredBy} | as before after ${r.ms} ms, recovery done after ${r.doneMs} ms`,
    );
  const out = process.env.SAMEPAGE_CRASH_MATRIX;
  if (out !== undefined && out !== '') writeFileSync(out, `${JSON.stringify(matrix, null, 2)}\n`);
  assert.ok(matrix.length > 0);
});
