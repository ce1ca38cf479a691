/**
 * What journaling a live change costs (not a test: nothing asserts on time). Times, median
 * of many, in a journal directory of its own on /run (a tmpfs, where /run/samepage lives;
 * /tmp where there is no /run):
 *   - one journaled change: the journal rewritten atomically (write, fsync, rename, fsync
 *     of the directory) with a journal of N entries, for N = 1, 30 (a kernel-backend run)
 *     and 1000 (a KSM+ daemon's madvised ranges);
 *   - adding 100 ranges to one madvise entry in one call, beside adding them one call each;
 *   - opening a journal: recovery scan, the file, and the watchdog started.
 * Writes nothing to the machine.
 *
 *   node dist/bench/journal.js
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bootId, identify, JournalFile, type NewEntry } from '../src/host/journal.ts';
import { LiveChanges } from '../src/host/live_changes.ts';
import { median } from '../src/lib/statistics.ts';

function micros(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1000;
}

function main(): void {
  const base = existsSync('/run') ? '/run' : '/tmp';
  const dir = mkdtempSync(join(base, 'samepage-bench-journal-'));
  try {
    const owner = { ...identify(process.pid)!, boot_id: bootId(), command: 'bench/journal' };
    for (const n of [1, 30, 1000]) {
      const file = JournalFile.create(dir, owner, BigInt(n));
      const fill: NewEntry[] = Array.from({ length: n }, (_, i) => ({
        kind: 'sysfs',
        path: `/sys/kernel/mm/ksm/f${i}`,
        original: '100',
        written: [],
      }));
      file.add(fill);
      const first = file.entries[0];
      if (first?.kind !== 'sysfs') throw new Error('no entry');
      const times: number[] = [];
      for (let i = 0; i < 200; i++) times.push(micros(() => file.update({ ...first, written: [String(i)] })));
      console.log(`one journaled change, journal of ${n} entries: ${median(times).toFixed(0)} µs (median of 200)`);
      file.delete();
    }

    const file = JournalFile.create(dir, owner, 9n);
    const [id] = file.add([{ kind: 'madvise', pid: 1, start_time: '1', comm: 'x', ranges: [[0, 4096]] }]);
    const ranges = Array.from({ length: 100 }, (_, i) => [4096 * (i + 1), 4096] as [number, number]);
    const oneCall = micros(() => {
      const e = file.entry(id!);
      if (e?.kind === 'madvise') file.update({ ...e, ranges: [...e.ranges, ...ranges] });
    });
    const eachCall = micros(() => {
      for (const r of ranges) {
        const e = file.entry(id!);
        if (e?.kind === 'madvise') file.update({ ...e, ranges: [...e.ranges, r] });
      }
    });
    console.log(
      `100 ranges into one madvise entry: ${oneCall.toFixed(0)} µs in one call, ${eachCall.toFixed(0)} µs one call each`,
    );
    file.delete();

    const opens: number[] = [];
    for (let i = 0; i < 20; i++) {
      opens.push(
        micros(() => {
          const changes = LiveChanges.open({ dir, processEnv: {} });
          changes.close();
        }),
      );
    }
    console.log(
      `LiveChanges.open + close (recovery scan, journal, watchdog): ${median(opens).toFixed(0)} µs (median of 20)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
