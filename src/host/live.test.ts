/**
 * The live reader on real processes: three Python processes hold known memory, and the
 * statistics must find it. Needs root (to read other processes' memory and frame numbers)
 * and python3; skips, saying why, without them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { LiveReader, livePageSource, openLiveProcesses } from './live.ts';
import { pidsByName } from './targets.ts';

const MiB = 1 << 20;
const PAGES_PER_64MIB = (64 * MiB) / 4096;
/** Each process renames itself, so a stray python3 on the machine cannot join the count. */
const COMM = `sp-live-${process.pid % 100000}`;

/** 64 MiB of 0xFF, 8 MiB of written zeros, 4 MiB of random bytes, then wait. */
const PROGRAM = `
import os, sys, time
open('/proc/self/comm', 'w').write(sys.argv[1])
ones = bytearray(b'\\xff' * (64 << 20))
zeros = bytearray(b'\\x00' * (8 << 20))
noise = os.urandom(4 << 20)
print('ready', flush=True)
time.sleep(600)
`;

/** The real interpreter: pyenv's python3 is a shell shim that would stand between us. */
function python(): string | undefined {
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function startHolder(exe: string): Promise<ChildProcess> {
  const child = spawn(exe, ['-c', PROGRAM, COMM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit')])) as [unknown];
  if (!(line instanceof Buffer) || !line.toString().startsWith('ready'))
    throw new Error(`python3 did not start: ${String(line)}`);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

test('live statistics find the duplicate pages of real processes, and survive vanished ones', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip("not root: reading other processes' memory and frame numbers needs root");
    return;
  }
  const exe = python();
  if (exe === undefined) {
    t.skip('python3 is not installed');
    return;
  }
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) children.push(await startHolder(exe));
    const pids = children.map((c) => c.pid!);

    await t.test('pidsByName resolves the comm to exactly the three processes', () => {
      assert.deepEqual(
        pidsByName(COMM),
        [...pids].sort((a, b) => a - b),
      );
    });

    await t.test('the 0xFF, zero and random pages are all found', () => {
      const warnings: string[] = [];
      const reader = new LiveReader({ onWarning: (m) => warnings.push(m) });
      const procs = openLiveProcesses(reader, pids);
      try {
        const stats = new DuplicateStatistics();
        stats.addAll(livePageSource(procs));
        const r = stats.result({ top: 10 });
        const ones = r.top.find((g) => g.class === 'ones');
        const zero = r.top.find((g) => g.class === 'zero');
        // malloc's header puts the buffer 16 bytes into its mapping: one page less per process.
        assert.ok(ones !== undefined && ones.count >= 3 * (PAGES_PER_64MIB - 1), JSON.stringify(r.top));
        assert.ok(ones.count <= 3 * PAGES_PER_64MIB + 64, `ones ${ones.count}`);
        assert.ok(zero !== undefined && zero.count >= 3 * (2048 - 1), JSON.stringify(r.top));
        assert.equal(r.top[0], ones);
        assert.ok(r.unique_pages >= 3 * 1023, `unique ${r.unique_pages}`);
        for (const pid of pids) {
          const p = r.by_process[String(pid)];
          assert.ok(
            p !== undefined && p.comm === COMM && p.saving_pages >= PAGES_PER_64MIB - 2 + 2048 - 2,
            JSON.stringify(p),
          );
        }
        assert.deepEqual(warnings, []);
      } finally {
        for (const p of procs) p.close();
        reader.close();
      }
    });

    await t.test('a pid that is gone, or exits between planning and reading, is a warning', async () => {
      const gone = spawn(exe, ['-c', 'pass']);
      await once(gone, 'exit');
      const warnings: string[] = [];
      const reader = new LiveReader({ onWarning: (m) => warnings.push(m) });
      const procs = openLiveProcesses(reader, [gone.pid!, ...pids]);
      try {
        assert.equal(procs.length, 3);
        assert.match(warnings[0] ?? '', new RegExp(`${gone.pid}`));
        await stop(children[2]!);
        const stats = new DuplicateStatistics();
        stats.addAll(livePageSource(procs));
        assert.equal(stats.result().by_process[String(pids[2])], undefined);
        assert.ok(stats.pages >= 2 * PAGES_PER_64MIB);
        assert.ok(
          warnings.some((w) => w.includes(`Process ${pids[2]}`) && w.includes('vanished')),
          warnings.join('\n'),
        );
      } finally {
        for (const p of procs) p.close();
        reader.close();
      }
    });
  } finally {
    await Promise.all(children.map(stop));
  }
});
