/**
 * `samepage kernel` on this machine. Reading tests need only /sys/kernel/mm/ksm; the page
 * test needs /usr/bin/chromium; exec, exec --run and enable/disable need root (and ptrace
 * for enable/disable). Each skips, saying why, where it cannot run. Tests that make a
 * process a KSM user or write ksm/run hold the kernel tests' lock and the samepage KSM lock
 * (src/host/ksm_lock.ts), waiting for them, and restore every KSM value they saved.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProcessMemory } from '../host/procfs.ts';
import { holdKernelTestLock, saveKsmValues, takeKsmLock } from '../backends/kernel/testing.ts';
import { INJECT_SYSCALL } from '../host/inject.ts';
import { EXEC_MERGE, missingHelper, nativeHelperPath, ptraceRefusal } from '../host/ksm_native.ts';
import type { KsmStatus } from '../host/ksm_status.ts';
import { EVENTS_PATH } from '../host/ksm_watch.ts';
import { main } from './main.ts';
import { realPython as python } from '../../test/python.ts';
import { capture } from '../term/testing.ts';

const KSM = '/sys/kernel/mm/ksm';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function liveSkip(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (!existsSync(KSM)) return `${KSM} is missing (no KSM in this kernel)`;
  return undefined;
}

test('kernel status --json lists every sysfs file and the active processes by profit', async (t) => {
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  const c = capture();
  assert.equal(await main(['kernel', 'status', '--json'], c.io), 0, c.err());
  const s = JSON.parse(c.out()) as KsmStatus;
  assert.ok(typeof s.ksm.pages_sharing === 'number' && typeof s.ksm.run === 'number');
  assert.ok(s.ksm.advisor_mode === undefined || ['none', 'scan-time'].includes(String(s.ksm.advisor_mode)));
  const profits = s.processes.map((p) => p.ksm_process_profit);
  assert.deepEqual(
    profits,
    [...profits].sort((a, b) => b - a),
  );
  for (const p of s.processes) assert.equal(typeof p.ksm_merge_any, 'boolean');

  const human = capture();
  assert.equal(await main(['kernel', 'status'], human.io), 0, human.err());
  assert.match(human.out(), /pages_sharing\s*│\s*\d+/);
});

test('kernel status --by cgroup: who saves what adds up to the attributed total (root), or says why not', async (t) => {
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  const c = capture();
  assert.equal(await main(['kernel', 'status', '--by', 'cgroup', '--top', '3', '--json'], c.io), 0, c.err());
  const s = JSON.parse(c.out()) as KsmStatus;
  if (process.getuid?.() !== 0) {
    assert.match(s.attributionError ?? '', /root/);
    return;
  }
  const a = s.attribution;
  assert.ok(a !== undefined, s.attributionError);
  assert.equal(a.by, 'cgroup');
  assert.ok(a.groups.length <= 4, 'the top 3 and other at most');
  assert.equal(
    a.groups.reduce((x, g) => x + g.saved_bytes, 0),
    a.attribution.totals.attributed_bytes,
  );
  const human = capture();
  assert.equal(await main(['kernel', 'status', '--by', 'comm'], human.io), 0, human.err());
  assert.match(human.out(), /Who saves what, by comm/);
  assert.match(human.out(), /^Saved: .* the kernel counts pages_sharing \d+ \+ ksm_zero_pages \d+ = \d+/m);
  const bad = capture();
  assert.equal(await main(['kernel', 'status', '--by', 'unit'], bad.io), 2);
  assert.match(bad.err(), /Expected one of process, cgroup, comm, got "unit"/);
});

test('kernel export: --once prints the exposition; --listen serves it, OpenMetrics when asked', async (t) => {
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  const once = capture();
  assert.equal(await main(['kernel', 'export', '--once'], once.io), 0, once.err());
  assert.match(once.out(), /^# TYPE samepage_ksm_pages_sharing gauge$/m);
  assert.match(once.out(), /^samepage_ksm_full_scans_total \d+$/m);
  assert.doesNotMatch(once.out(), /# EOF/);
  const none = capture();
  assert.equal(await main(['kernel', 'export'], none.io), 2);
  assert.match(none.err(), /Give --listen HOST:PORT/);
  const c = capture();
  const running = main(['kernel', 'export', '--listen', '127.0.0.1:0'], c.io);
  let url: string | undefined;
  for (let i = 0; i < 100 && url === undefined; i++) {
    await sleep(50);
    url = /serving (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(c.err())?.[1];
  }
  try {
    assert.ok(url !== undefined, `no server URL on stderr: ${c.err()}`);
    const text = await fetch(url);
    assert.match(text.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await text.text(), /^samepage_ksm_run \d$/m);
    const om = await fetch(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;q=0.5' } });
    assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text; version=1\.0\.0/);
    assert.ok((await om.text()).endsWith('# EOF\n'));
    assert.equal((await fetch(url.replace('/metrics', '/nope'))).status, 404);
  } finally {
    process.emit('SIGINT', 'SIGINT');
  }
  assert.equal(await running, 0);
});

test('kernel watch --http serves events until Ctrl-C, appending snapshots on a pipe', async (t) => {
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  const c = capture();
  const running = main(['kernel', 'watch', '--interval', '100', '--http', '0'], c.io);
  let url: string | undefined;
  for (let i = 0; i < 100 && url === undefined; i++) {
    await sleep(50);
    url = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(c.err())?.[1];
  }
  try {
    assert.ok(url !== undefined, `no server URL on stderr: ${c.err()}`);
    const res = await fetch(`${url}${EVENTS_PATH.slice(1)}`);
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^event: ksm$/gm) ?? []).length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    assert.equal((text.match(/^event: ksm$/gm) ?? []).length, 2);
  } finally {
    process.emit('SIGINT', 'SIGINT');
  }
  assert.equal(await running, 0);
  assert.ok((c.out().match(/\/sys\/kernel\/mm\/ksm at /g) ?? []).length >= 2, 'snapshots are appended');
  assert.ok(!c.out().includes('\x1b['), 'no cursor movement on a pipe');
});

/** Why exec/enable tests cannot run here, or undefined. */
function rootSkip(helper: string): string | undefined {
  const why = liveSkip();
  if (why !== undefined) return why;
  if (process.getuid?.() !== 0) return 'not root';
  return missingHelper(nativeHelperPath(helper));
}

test('kernel exec runs a program with MERGE_ANY set and passes its exit code through', async (t) => {
  const why = rootSkip(EXEC_MERGE);
  if (why !== undefined) return void t.skip(why);
  const py = python();
  if (py === undefined) return void t.skip('python3 is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'samepage-exec-'));
  const releaseTests = await holdKernelTestLock(600_000);
  const releaseKsm = await takeKsmLock(); // the program is a KSM user while it runs
  try {
    const out = join(dir, 'ksm_stat');
    const prog = `import os, sys; open(sys.argv[1], 'w').write(open('/proc/self/ksm_stat').read() + 'child ' + os.popen('cat /proc/self/ksm_stat').read()); sys.exit(7)`;
    const c = capture();
    assert.equal(await main(['kernel', 'exec', py, '-c', prog, out], c.io), 7, c.err());
    const text = readFileSync(out, 'utf8');
    assert.match(text, /^ksm_merge_any: yes$/m);
    assert.match(text, /child [\s\S]*ksm_merge_any: yes/, 'a child of the program inherits MERGE_ANY');

    const missing = capture();
    assert.equal(await main(['kernel', 'exec', '--', 'samepage-no-such-program'], missing.io), 127);
    // The helper alone says why it did not start (on the inherited stderr): no note about
    // ksmd for a program that never ran.
    assert.equal(missing.err(), '');
  } finally {
    releaseKsm();
    releaseTests();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kernel exec --run holds ksm/run at 1 for the program and restores it after', async (t) => {
  const why = rootSkip(EXEC_MERGE);
  if (why !== undefined) return void t.skip(why);
  const py = python();
  if (py === undefined) return void t.skip('python3 is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'samepage-exec-'));
  const releaseTests = await holdKernelTestLock(600_000);
  const ksm = await saveKsmValues();
  try {
    const runBefore = ksm.saved.find((s) => s.path.endsWith('/run'))?.value;
    const out = join(dir, 'run');
    const prog = `import sys; open(sys.argv[1], 'w').write(open('/sys/kernel/mm/ksm/run').read())`;
    const c = capture();
    assert.equal(
      await main(['kernel', 'exec', '--run', '--report-after', '0', '--', py, '-c', prog, out], c.io),
      0,
      c.err(),
    );
    assert.equal(readFileSync(out, 'utf8').trim(), '1');
    // Restored by the command itself, before our own restore below.
    assert.equal(readFileSync(`${KSM}/run`, 'utf8').trim(), runBefore);
  } finally {
    const problems = await ksm.restore();
    releaseTests();
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(problems, []);
  }
});

/** A python3 holding 64 MiB of 0x55 that answers "N" on stdin with the byte at offset N. */
const HOLDER = `
import ctypes, sys
b = bytearray(b"\\x55" * (64 << 20))
addr = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))
print("ready", addr, flush=True)
for line in sys.stdin:
    print(b[int(line)], flush=True)
`;

async function ask(child: ChildProcess, offset: number): Promise<string> {
  const answer = once(child.stdout!, 'data');
  child.stdin!.write(`${offset}\n`);
  const [data] = (await Promise.race([answer, sleep(5000).then(() => [Buffer.from('timeout')])])) as [Buffer];
  return data.toString().trim();
}

function mergeAny(pid: number): string | undefined {
  return /^ksm_merge_any:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/ksm_stat`, 'utf8'))?.[1];
}

test('kernel enable/disable --pid make a running process set and clear MERGE_ANY, and it keeps running', async (t) => {
  const why = rootSkip(INJECT_SYSCALL) ?? ptraceRefusal();
  if (why !== undefined) return void t.skip(why);
  const py = python();
  if (py === undefined) return void t.skip('python3 is not installed');
  const releaseTests = await holdKernelTestLock(600_000);
  const releaseKsm = await takeKsmLock(); // the target is a KSM user while enabled
  // Each reply is read as one 'data' chunk: block-buffered stdout (print's flush=True) writes
  // it in one go, where PYTHONUNBUFFERED=1 (set in some shells) splits "ready" from its number.
  const { PYTHONUNBUFFERED: _unbuffered, ...env } = process.env;
  const child = spawn(py, ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'], env });
  try {
    const [line] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit')])) as [unknown];
    const ready = line instanceof Buffer ? /^ready (\d+)/.exec(line.toString()) : null;
    assert.ok(ready?.[1] !== undefined, `python3 did not start: ${String(line)}`);
    const pid = child.pid!;
    const addr = Number(ready[1]);
    assert.equal(mergeAny(pid), 'no');

    // Can ptrace attach at all here (Yama, containers)? Probe with the real helper.
    const c = capture();
    const code = await main(['kernel', 'enable', '--pid', String(pid), '--json'], c.io);
    const reports = JSON.parse(c.out() || '[]') as Array<{
      pid: number;
      ok: boolean;
      result?: number;
      error?: string;
      ksm_merge_any?: boolean;
    }>;
    if (code !== 0 && /PTRACE_SEIZE.*not permitted/i.test(reports[0]?.error ?? ''))
      return void t.skip(`ptrace is not permitted here: ${reports[0]?.error ?? ''}`);
    assert.equal(code, 0, `${c.out()}${c.err()}`);
    assert.deepEqual(
      reports.map((r) => [r.pid, r.ok, r.result, r.ksm_merge_any]),
      [[pid, true, 0, true]],
    );
    assert.equal(mergeAny(pid), 'yes');
    // Still alive, answering, and its memory is intact.
    assert.equal(await ask(child, 12345), '85');
    assert.deepEqual([...readProcessMemory(pid, addr + 4096 * 100, 4)], [0x55, 0x55, 0x55, 0x55]);

    const d = capture();
    assert.equal(await main(['kernel', 'disable', '--pid', String(pid)], d.io), 0, d.err());
    assert.match(
      d.out(),
      new RegExp(`^${pid} \\(python3?[^)]*\\): prctl\\(PR_SET_MEMORY_MERGE, 0\\) = 0; ksm_merge_any: no$`, 'm'),
    );
    assert.equal(mergeAny(pid), 'no');
    assert.equal(await ask(child, 7), '85');
    assert.equal(child.exitCode, null);
  } finally {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    releaseKsm();
    releaseTests();
  }
});

test('kernel enable refuses a name no comm can have, and reports a missing process', async (t) => {
  const why = rootSkip(INJECT_SYSCALL) ?? ptraceRefusal();
  if (why !== undefined) return void t.skip(why);
  const long = capture();
  assert.equal(await main(['kernel', 'enable', 'a-name-longer-than-15'], long.io), 2);
  assert.match(long.err(), /at most 15 bytes/);
  const none = capture();
  assert.equal(await main(['kernel', 'enable', 'sp-none-such'], none.io), 1);
  assert.match(none.err(), /no process has the comm "sp-none-such"/);
  const both = capture();
  assert.equal(await main(['kernel', 'disable'], both.io), 2);
});

test('kernel recover with nothing left to recover says so and exits 0; kernel status --json lists the journals', async (t) => {
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  // Other test files' samepage runs write journals too: wait for them to end.
  const releaseTests = await holdKernelTestLock(600_000);
  try {
    const first = capture();
    await main(['kernel', 'recover'], first.io);
    const again = capture();
    assert.equal(await main(['kernel', 'recover'], again.io), 0, again.err());
    assert.equal(again.out(), 'Nothing to recover: no journal of a dead samepage process is left.\n');
    const json = capture();
    assert.equal(await main(['kernel', 'recover', '--json'], json.io), 0, json.err());
    assert.deepEqual(JSON.parse(json.out()), []);
    const status = capture();
    assert.equal(await main(['kernel', 'status', '--json'], status.io), 0, status.err());
    const journals = (JSON.parse(status.out()) as { journals: Array<{ state: string }> }).journals;
    assert.ok(Array.isArray(journals));
    assert.deepEqual(
      journals.filter((j) => j.state !== 'alive'),
      [],
    );
  } finally {
    releaseTests();
  }
});
