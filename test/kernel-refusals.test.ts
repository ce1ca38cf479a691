/**
 * Where the kernel backend cannot run, `samepage run --backend kernel` and `samepage diff`
 * exit 2 with the reason, as one line without a stack trace, and change nothing: not root
 * (the CLI as `nobody`), /sys/kernel/mm/ksm read-only and the agent missing (each in a
 * private mount namespace, so the machine itself is untouched), another samepage run
 * holding KSM, and other processes already using KSM (named by pid).
 *
 * Needs root (to switch to nobody and to make mount namespaces); each test skips, saying
 * why, where its tool (setpriv, unshare) is missing or refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAgentPath } from '../src/backends/kernel/agent.ts';
import { KSM_DIR } from '../src/host/ksm_sysfs.ts';
import {
  holdKernelTestLockForFile,
  kernelSkipReasonAfterWait,
  settledKsm,
  snapshotKsm,
  startKsmOutsider,
  takeKsmLock,
} from '../src/backends/kernel/testing.ts';
import { CLI } from './samepage.ts';

const machineSkip = await holdKernelTestLockForFile();
if (machineSkip !== undefined) process.stdout.write(`# kernel refusal tests skipped: ${machineSkip}\n`);

/** How the kernel backend refuses while another samepage run holds KSM. */
const BUSY = /Another samepage kernel run/;

/** A scenario anyone can read: the kernel backend must refuse before its first step. */
function scenarioFile(): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-refusal-'));
  chmodSync(dir, 0o755);
  const file = join(dir, 'refused.yaml');
  const text =
    'version: 1\nname: refused\nksm:\n  pages_to_scan: 1234\nsteps:\n  - spawn: { proc: a, comm: sp-refused }\n';
  writeFileSync(file, text, { mode: 0o644 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args...` to completion. */
function run(command: string, args: readonly string[]): Promise<Outcome> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Both commands: `run FILE --backend kernel` and `diff FILE` (whose --json says where it stopped). */
function commands(file: string): ReadonlyArray<readonly string[]> {
  return [
    [CLI, 'run', file, '--backend', 'kernel'],
    [CLI, 'diff', file, '--json'],
  ];
}

interface RefusalOptions {
  /** Only this command. */
  readonly only?: 'run';
  /** How to read the KSM files; default settledKsm (under the KSM lock). */
  readonly snapshot?: () => Promise<Record<string, string | undefined>>;
}

/**
 * Runs both commands through `wrap` (a prefix such as setpriv) and asserts exit 2 with
 * `reason` as the single stderr line, and /sys/kernel/mm/ksm untouched.
 */
async function assertRefused(
  wrap: readonly string[],
  file: string,
  reason: RegExp,
  opts: RefusalOptions = {},
): Promise<void> {
  const snapshot = opts.snapshot ?? (async () => (await settledKsm()).text);
  for (const args of commands(file).filter((a) => opts.only === undefined || a[1] === opts.only)) {
    const before = await snapshot();
    const [command, ...rest] = [...wrap, process.execPath, ...args];
    let out = await run(command ?? '', rest);
    // Another worktree's run may hold KSM when ours starts: wait for it, unless that is the point.
    for (let i = 0; i < 1200 && !reason.test(out.stderr) && BUSY.test(out.stderr); i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      out = await run(command ?? '', rest);
    }
    const what = args.slice(1, 2).join(' ');
    assert.equal(out.code, 2, `${what}: ${out.stdout}${out.stderr}`);
    assert.match(out.stderr, new RegExp(`^samepage: ${reason.source}\\n$`), `${what}: stderr`);
    assert.deepEqual(await snapshot(), before, `${what}: changed /sys/kernel/mm/ksm`);
    if (what === 'diff') {
      const json = JSON.parse(out.stdout) as { files: unknown[]; stopped: { file: string; reason: string } };
      assert.deepEqual(json.files, []);
      assert.equal(json.stopped.file, file);
      assert.match(json.stopped.reason, reason);
    } else {
      assert.equal(out.stdout, '');
    }
  }
}

/** Why `tool args` cannot be used here, or undefined when it runs `true` fine. */
function toolSkip(tool: string, args: readonly string[]): string | undefined {
  const r = spawnSync(tool, [...args, 'true'], { stdio: 'ignore' });
  if (r.error !== undefined) return `${tool} is not available (${r.error.message})`;
  return r.status === 0 ? undefined : `${tool} ${args.join(' ')} is refused here (exit ${r.status})`;
}

const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
const NEW_MOUNTS = ['unshare', '--mount'];

test('without root, the kernel backend exits 2 saying it needs root', {
  skip: machineSkip ?? toolSkip(AS_NOBODY[0] ?? '', AS_NOBODY.slice(1)) ?? false,
}, async () => {
  const s = scenarioFile();
  try {
    await assertRefused(AS_NOBODY, s.file, /The kernel backend needs root: it writes \/sys\/kernel\/mm\/ksm .*/);
  } finally {
    s.remove();
  }
});

test('with /sys/kernel/mm/ksm read-only, the kernel backend exits 2 saying it is not writable', {
  skip: machineSkip ?? toolSkip('unshare', ['--mount']) ?? false,
}, async () => {
  const s = scenarioFile();
  try {
    // A read-only bind of the KSM directory over itself, only inside the new namespace.
    const script = `mount --bind ${KSM_DIR} ${KSM_DIR} && mount -o remount,bind,ro ${KSM_DIR} && exec "$@"`;
    const wrap = [...NEW_MOUNTS, 'sh', '-c', script, 'sh'];
    await assertRefused(
      wrap,
      s.file,
      /\/sys\/kernel\/mm\/ksm is not writable here \(EROFS\), e\.g\. a read-only \/sys in a container/,
    );
  } finally {
    s.remove();
  }
});

test('without the agent, the kernel backend exits 2 saying how to build it', {
  skip: machineSkip ?? toolSkip('unshare', ['--mount']) ?? false,
}, async () => {
  const s = scenarioFile();
  try {
    // An empty tmpfs over native/build, only inside the new namespace.
    const build = join(defaultAgentPath(), '..');
    const wrap = [...NEW_MOUNTS, 'sh', '-c', `mount -t tmpfs samepage-test ${build} && exec "$@"`, 'sh'];
    const agent = defaultAgentPath().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await assertRefused(
      wrap,
      s.file,
      new RegExp(
        `The samepage agent is missing at ${agent}\\. Build it with \`node scripts/build-native\\.mjs\` .*gcc\\)`,
      ),
    );
  } finally {
    s.remove();
  }
});

test('beside another samepage run, the kernel backend exits 2 naming its pid', {
  skip: machineSkip ?? false,
}, async () => {
  const s = scenarioFile();
  const release = await takeKsmLock();
  try {
    // run only: diff waits up to 10 minutes for the other run to finish, by design. With
    // the lock held here, no samepage run can change the files between the snapshots.
    const reason = new RegExp(`Another samepage kernel run \\(pid ${process.pid}, node\\) is using KSM; .*`);
    await assertRefused([], s.file, reason, { only: 'run', snapshot: async () => snapshotKsm() });
  } finally {
    release();
    s.remove();
  }
});

test('beside another KSM user, the kernel backend exits 2 naming its pid', {
  skip: machineSkip ?? false,
}, async (t) => {
  const busy = await kernelSkipReasonAfterWait();
  if (busy !== undefined) return void t.skip(busy);
  const s = scenarioFile();
  const outsider = await startKsmOutsider('sp-ksm-user');
  try {
    await assertRefused(
      [],
      s.file,
      new RegExp(
        `Other processes already use KSM, whose counters are global: .*${outsider.pid} \\(sp-ksm-user: ksm_mergeable yes\\).*`,
      ),
    );
  } finally {
    await outsider.stop();
    s.remove();
  }
});
