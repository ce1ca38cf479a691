import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { busyTicksOfStat, othersBusyMeter } from './others_busy.ts';

test('busy ticks are user, nice, system, irq, softirq and steal of the all-CPU line, not idle or iowait', () => {
  const text = 'cpu  10 20 30 1000 2000 5 6 7 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\nintr 1\n';
  assert.equal(busyTicksOfStat(text), 10 + 20 + 30 + 5 + 6 + 7);
  // A kernel without steal (before 2.6.11) has 7 fields.
  assert.equal(busyTicksOfStat('cpu 1 2 3 4 5 6 7\n'), 1 + 2 + 3 + 6 + 7);
  assert.equal(busyTicksOfStat('intr 1\n'), undefined);
  assert.equal(busyTicksOfStat('cpu 1 x 3 4 5 6 7\n'), undefined);
});

test('a process that spins for a second while the meter runs shows as others, and not when it is named as ours', async (t) => {
  if (!existsSync('/proc/stat')) return void t.skip('no /proc/stat');
  const spin = async (ours: boolean): Promise<number | undefined> => {
    // Spins for a second, then idles until killed (alive, so the meter can read it at stop).
    const code = 'const end = Date.now() + 1000; while (Date.now() < end); setInterval(() => {}, 1000);';
    const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
    try {
      const stop = othersBusyMeter(undefined, () => (ours ? [process.pid, child.pid ?? 0] : [process.pid]));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return stop();
    } finally {
      child.kill('SIGKILL');
    }
  };
  const others = await spin(false);
  assert.ok(others !== undefined && others >= 700, `a second of spinning counted ${others} ms`);
  const ours = await spin(true);
  assert.ok(ours !== undefined && ours < others / 2, `named as ours it still counted ${ours} ms (others: ${others})`);
});
