/**
 * `samepage plus` on the live kernel (root, a writable /sys/kernel/mm/ksm, a C compiler):
 * the daemon as a user runs it, against target processes this test starts
 * (test/fixtures/plus-target.c). Every target checks its own memory when it ends, and
 * watches for a tracer every millisecond while it runs.
 *
 * - A process started later with a selected name is picked up and marked within a second of
 *   its first sampling round; its duplicates of merged pages merge.
 * - A process whose name is not selected is never attached (its watcher never sees a tracer,
 *   nothing of it is marked, the daemon's log never names it), although it holds the same pages.
 * - SIGTERM stops the daemon: every range is given back, KSM's run is put back, the control
 *   directory goes, no target is left stopped, and every target reads what it wrote.
 * - A target whose seccomp filter would kill it (or fail) on madvise(MADV_MERGEABLE) is
 *   reported and skipped, never killed: the injector runs the filter before any call.
 * - `- NAME` written to processes_to_scan gives back every range of that program at once, and
 *   its journal entry goes with them; the daemon runs on.
 * - SIGKILL of the daemon once it has marked a target: its watchdog (docs/crash-safety.md)
 *   gives every mark back and puts run back within 5 s, and the target reads what it wrote.
 * - SIGKILL of the daemon while its injector holds a target stopped (the injector's test
 *   hook, SAMEPAGE_TEST_INJECT_HOLD, keeps it there): the injector, a process of its own,
 *   finishes the mark and lets the target go; the watchdog's recovery waits for it and then
 *   gives the mark back; the target is neither stopped nor traced, and reads what it wrote.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdKernelTestLockForFile, saveKsmValues } from '../src/backends/kernel/testing.ts';
import { nativeHelperPath } from '../src/host/ksm_native.ts';
import { INJECT_SYSCALL } from '../src/host/inject.ts';
import { WATCHDOG } from '../src/host/watchdog.ts';
import { CLI, REPO } from './samepage.ts';

const skip = await (async (): Promise<string | undefined> => {
  for (const helper of [INJECT_SYSCALL, WATCHDOG])
    if (!existsSync(nativeHelperPath(helper))) return `${helper} is not built (node scripts/build-native.mjs)`;
  if (spawnSync('cc', ['--version']).status !== 0) return 'no C compiler for the target program';
  return holdKernelTestLockForFile();
})();

const dir = mkdtempSync(join(tmpdir(), 'samepage-plus-'));
const TARGET = join(dir, 'plus-target');
let restoreKsm: (() => Promise<string[]>) | undefined;
const children: ChildProcess[] = [];

before(async () => {
  if (skip !== undefined) return;
  const cc = spawnSync('cc', ['-O2', '-pthread', '-o', TARGET, join(REPO, 'test', 'fixtures', 'plus-target.c')], {
    encoding: 'utf8',
  });
  assert.equal(cc.status, 0, cc.stderr);
  restoreKsm = (await saveKsmValues()).restore;
});

// A test that fails half way leaves its daemon running, holding the KSM lock, and every later
// test's daemon would be refused: stop it (SIGTERM, so it gives its marks back) and wait.
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    if (d.child.exitCode !== null || d.child.signalCode !== null) continue;
    d.child.kill('SIGTERM');
    await d.exited();
  }
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (restoreKsm !== undefined) {
    const problems = await restoreKsm();
    assert.deepEqual(problems, [], 'KSM settings restored');
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Target {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Closes its stdin: it checks its memory and answers "ok TRACED" or "corrupt PAGE". */
  finish(): Promise<string>;
}

function lines(child: ChildProcess, which: 'stdout' | 'stderr'): { all: string[]; next: () => Promise<string> } {
  const all: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let buf = '';
  child[which]!.setEncoding('utf8');
  child[which]!.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      all.push(line);
      waiting.shift()?.(line);
    }
  });
  let read = 0;
  return {
    all,
    next: () =>
      read < all.length
        ? Promise.resolve(all[read++]!)
        : new Promise((r) =>
            waiting.push((l) => {
              read++;
              r(l);
            }),
          ),
  };
}

async function target(comm: string, pages: number, seed: number, copies: number, filter?: string): Promise<Target> {
  const args = [comm, String(pages), String(seed), String(copies), ...(filter === undefined ? [] : [filter])];
  const child = spawn(TARGET, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const out = lines(child, 'stdout');
  const ready = await out.next();
  const pid = Number(/^ready (\d+)$/.exec(ready)?.[1]);
  assert.ok(pid > 0, ready);
  return {
    pid,
    child,
    finish: async () => {
      child.stdin!.end();
      return out.next();
    },
  };
}

interface Daemon {
  readonly child: ChildProcess;
  readonly log: string[];
  readonly ctl: string;
  exited(): Promise<number | null>;
}

function daemon(names: string[], env: Record<string, string> = {}, run = true): Daemon {
  const ctl = mkdtempSync(join(dir, 'ctl-'));
  const child = spawn(
    process.execPath,
    [CLI, 'plus', ...(run ? ['--run'] : []), '--dir', join(ctl, 'ksm+'), '--socket', join(ctl, 'plus.sock'), ...names],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  );
  children.push(child);
  const log = lines(child, 'stderr').all;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const d = { child, log, ctl, exited: () => exit };
  daemons.push(d);
  return d;
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function ksmStat(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/ksm_stat`, 'utf8').split('\n')) {
    const m = /^(\w+):?\s+(\S+)/.exec(line);
    if (m !== null) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** Bytes of the process's VMAs that are VM_MERGEABLE (smaps' "mg"). */
function mergeableBytes(pid: number): number {
  let n = 0;
  let range: [number, number] | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (head !== null) range = [Number.parseInt(head[1]!, 16), Number.parseInt(head[2]!, 16)];
    else if (line.startsWith('VmFlags:') && range !== undefined && / mg( |$)/.test(line)) n += range[1] - range[0];
  }
  return n;
}

function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/** The time of the first log line matching `re`, in ms since the epoch. */
function logTime(log: readonly string[], re: RegExp): number | undefined {
  const line = log.find((l) => re.test(l));
  return line === undefined ? undefined : Date.parse(line.slice(0, line.indexOf(' ')));
}

const readRun = (): string => readFileSync('/sys/kernel/mm/ksm/run', 'utf8').trim();

/** Whether a `samepage kernel recover --by watchdog` runs (a watchdog found its owner dead). */
function recoveryRunning(): boolean {
  return readdirSync('/proc').some((p) => {
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return argv.includes('recover') && argv.includes('watchdog');
    } catch {
      return false;
    }
  });
}

/** TracerPid of /proc/PID/status. */
function tracer(pid: number): number {
  return Number(/^TracerPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

test('plus: a new process of a selected name is marked within 1 s of its first round; an unselected one is never attached; SIGTERM gives everything back', {
  skip,
}, async () => {
  const runBefore = readRun();
  const a = await target('plus-t-a', 64, 11, 2);
  const c = await target('plus-t-c', 64, 11, 1);
  const d = daemon(['plus-t-a', 'plus-t-b']);
  // a's two blocks hold the same 64 pages: they merge.
  await until('plus-t-a merging', () => Number(ksmStat(a.pid).get('ksm_merging_pages')) >= 128);
  const spawned = Date.now();
  const b = await target('plus-t-b', 64, 11, 1);
  await until('plus-t-b marked', () => logTime(d.log, new RegExp(`^\\S+ mark pid ${b.pid} `)) !== undefined);
  const selected = logTime(d.log, new RegExp(`^\\S+ select pid ${b.pid} `))!;
  const marked = logTime(d.log, new RegExp(`^\\S+ mark pid ${b.pid} `))!;
  assert.ok(selected - spawned <= 1000, `picked up ${selected - spawned} ms after it started`);
  assert.ok(marked - selected <= 1000, `marked ${marked - selected} ms after its first round began`);
  await until('plus-t-b merging', () => Number(ksmStat(b.pid).get('ksm_merging_pages')) >= 64);
  assert.equal(readRun(), '1', '--run holds run=1');
  // c holds the same pages as a and b but its name is not selected.
  assert.equal(mergeableBytes(c.pid), 0);
  assert.equal(ksmStat(c.pid).get('ksm_mergeable'), 'no');
  assert.ok(!d.log.some((l) => l.includes(`pid ${c.pid} `)), 'the daemon never names the unselected process');
  assert.ok(mergeableBytes(a.pid) > 0 && mergeableBytes(b.pid) > 0);

  d.child.kill('SIGTERM');
  assert.equal(await d.exited(), 0, d.log.slice(-5).join('\n'));
  assert.equal(mergeableBytes(a.pid), 0, 'every range given back');
  assert.equal(mergeableBytes(b.pid), 0);
  assert.equal(readRun(), runBefore, 'run put back');
  assert.equal(existsSync(join(d.ctl, 'ksm+')), false, 'the control files and their directory are gone');
  for (const t of [a, b, c]) assert.ok(!['t', 'T'].includes(state(t.pid)), `${t.pid} is not left stopped`);
  assert.match(await c.finish(), /^ok 0$/, 'the unselected process never saw a tracer and reads what it wrote');
  assert.match(await a.finish(), /^ok \d+$/);
  assert.match(await b.finish(), /^ok \d+$/);
});

test('plus: "- NAME" in processes_to_scan gives that program\'s marks back, and the daemon runs on', {
  skip,
}, async () => {
  const a = await target('plus-t-r', 32, 15, 2);
  const d = daemon(['plus-t-r']);
  await until('plus-t-r marked', () => mergeableBytes(a.pid) > 0);
  const file = join(d.ctl, 'ksm+', 'processes_to_scan');
  writeFileSync(file, '- plus-t-r\n');
  await until('the marks given back', () => mergeableBytes(a.pid) === 0, 5_000);
  assert.equal(readFileSync(file, 'utf8').includes('plus-t-r'), false, 'the name is no longer listed');
  // The line comes through a pipe after the unmark itself: wait for it, on a busy machine too.
  await until('the unmark logged', () => d.log.some((l) => new RegExp(`unmark pid ${a.pid} `).test(l)), 5_000);
  assert.equal(d.child.exitCode, null, 'the daemon runs on');
  d.child.kill('SIGTERM');
  assert.equal(await d.exited(), 0);
  assert.match(await a.finish(), /^ok \d+$/);
});

test('plus: a name no process has and KSM left stopped are said at the start; removing what is not selected is refused', {
  skip,
}, async () => {
  const runBefore = readRun();
  // The KSM note needs ksmd stopped, as the tests leave it; where someone runs it, only the name's.
  const stopped = runBefore !== '1';
  const d = daemon(['plus-t-nobody'], {}, false);
  await until('its notes', () => d.log.filter((l) => / note: /.test(l)).length >= (stopped ? 2 : 1), 10_000);
  assert.ok(
    d.log.some((l) => / note: no process of comm "plus-t-nobody" runs now/.test(l)),
    d.log.join('\n'),
  );
  if (stopped)
    assert.ok(
      d.log.some((l) => / note: KSM is stopped .*--run holds it at 1/.test(l)),
      d.log.join('\n'),
    );
  const ask = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'plus', ...args, '--socket', join(d.ctl, 'plus.sock')], { encoding: 'utf8' });
  const typo = ask('remove', 'plus-t-nobdy');
  assert.notEqual(typo.status, 0, 'a removal of what is not selected fails');
  assert.match(typo.stderr, /ENOENT: the program "plus-t-nobdy" is not selected/);
  assert.match(ask('remove', '--pid', '999999').stderr, /ENOENT: process 999999 is not selected/);
  assert.equal(ask('remove', 'plus-t-nobody').status, 0);
  assert.equal(readRun(), runBefore, 'without --run the daemon does not start ksmd');
  d.child.kill('SIGTERM');
  assert.equal(await d.exited(), 0);
});

test('plus: a log reader that goes away (stderr closed) does not stop the daemon; it carries on and stops cleanly', {
  skip,
}, async () => {
  const a = await target('plus-t-e', 32, 17, 2);
  const d = daemon(['plus-t-e']);
  await until('plus-t-e marked', () => mergeableBytes(a.pid) > 0);
  d.child.stderr!.destroy(); // the daemon's next log line meets EPIPE
  const file = join(d.ctl, 'ksm+', 'processes_to_scan');
  writeFileSync(file, '- plus-t-e\n');
  await until('the marks given back', () => mergeableBytes(a.pid) === 0, 5_000);
  writeFileSync(file, '+ plus-t-e\n');
  await until('plus-t-e marked again', () => mergeableBytes(a.pid) > 0);
  assert.equal(d.child.exitCode, null, 'the daemon runs on without its log');
  d.child.kill('SIGTERM');
  assert.equal(await d.exited(), 0);
  assert.equal(mergeableBytes(a.pid), 0, 'every range given back');
  assert.equal(existsSync(join(d.ctl, 'ksm+')), false, 'the control files and their directory are gone');
  assert.equal(existsSync(join(d.ctl, 'plus.sock')), false, 'the socket is gone');
  assert.match(await a.finish(), /^ok \d+$/);
});

test('plus: SIGKILL of the daemon: its watchdog gives every mark back and puts run back within 5 s', {
  skip,
}, async () => {
  const runBefore = readRun();
  const a = await target('plus-t-k', 32, 12, 2);
  const d = daemon(['plus-t-k']);
  await until('plus-t-k marked', () => mergeableBytes(a.pid) > 0);
  assert.equal(readRun(), '1');
  d.child.kill('SIGKILL');
  await d.exited();
  // The watchdog's promise (docs/crash-safety.md): everything back within 5 s.
  await until('the marks given back', () => mergeableBytes(a.pid) === 0, 5_000);
  await until('run put back', () => readRun() === runBefore, 5_000);
  assert.ok(!['t', 'T'].includes(state(a.pid)), 'the target is not left stopped');
  assert.match(await a.finish(), /^ok \d+$/, 'the target reads what it wrote and exits normally');
  rmSync(d.ctl, { recursive: true, force: true });
});

test('plus: SIGKILL of the daemon during an injection: the target is let go, the mark is given back, the target reads what it wrote', {
  skip,
}, async () => {
  const runBefore = readRun();
  const hold = join(dir, 'inject-hold');
  const a = await target('plus-t-h', 32, 16, 2);
  const d = daemon(['plus-t-h'], { SAMEPAGE_TEST_INJECT_HOLD: hold });
  await until('the injector holding the target', () => existsSync(hold));
  const injector = tracer(a.pid);
  assert.ok(injector > 0, 'the target is traced while held');
  assert.equal(readFileSync(`/proc/${injector}/comm`, 'utf8').trim(), 'samepage-inject');
  assert.equal(state(a.pid), 't', 'the target is stopped by its tracer');
  assert.equal(mergeableBytes(a.pid), 0, 'nothing is marked yet');
  d.child.kill('SIGKILL');
  await d.exited();
  // The watchdog's recovery starts while the injection is held, and must wait for it: it
  // is given 3 s from its start, more than it takes to read the journal and the target.
  await until('the watchdog running its recovery', () => recoveryRunning(), 10_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(state(a.pid), 't', "still held: the daemon's death does not end the injection");
  writeFileSync(hold, 'go\n');
  await until('the injector gone', () => !existsSync(`/proc/${injector}`), 10_000);
  await until(
    'the mark given back and run put back',
    () => mergeableBytes(a.pid) === 0 && readRun() === runBefore,
    15_000,
  );
  assert.ok(
    d.log.some((l) => new RegExp(`restored.*process ${a.pid} \\(plus-t-h\\): MADV_UNMERGEABLE`).test(l)),
    `the watchdog gave the mark back after it was made:\n${d.log.slice(-8).join('\n')}`,
  );
  assert.ok(!['t', 'T'].includes(state(a.pid)), 'the target is not left stopped');
  assert.equal(tracer(a.pid), 0, 'the target is not left traced');
  assert.match(await a.finish(), /^ok \d+$/, 'the target reads what it wrote and exits normally');
  rmSync(d.ctl, { recursive: true, force: true });
});

test('plus: a target whose seccomp filter forbids madvise is reported and skipped, never killed', {
  skip,
}, async () => {
  const kill = await target('plus-t-sk', 32, 13, 2, 'seccomp-kill');
  const errno = await target('plus-t-se', 32, 14, 2, 'seccomp-errno');
  const d = daemon(['plus-t-sk', 'plus-t-se']);
  const refused = (pid: number): string | undefined =>
    d.log.find((l) => new RegExp(`skip pid ${pid} .*seccomp`).test(l));
  await until('both refused', () => refused(kill.pid) !== undefined && refused(errno.pid) !== undefined);
  assert.match(
    refused(kill.pid)!,
    /seccomp filter that would kill the process on its call 1 \(madvise\); not attempted/,
  );
  assert.match(refused(errno.pid)!, /seccomp filter that would fail with an errno on its call 1 \(madvise\)/);
  d.child.kill('SIGTERM');
  assert.equal(await d.exited(), 0);
  for (const t of [kill, errno]) {
    assert.equal(mergeableBytes(t.pid), 0);
    assert.match(await t.finish(), /^ok \d+$/, 'alive, and reads what it wrote');
  }
});
