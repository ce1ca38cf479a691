/**
 * How fast samepage reads a live process (not a test: nothing asserts on time). Starts a
 * python3 process holding 1 GiB of random bytes, then times, best of three:
 *   - planning: /proc/PID/maps and pagemap over the whole address space;
 *   - reading: every present anonymous page through /proc/PID/mem, per read size;
 *   - statistics: reading plus one MD5 per page (random pages: the worst case, none of them
 *     the one-byte pages that skip MD5).
 * The target for reading is 1 GB/s. Needs root and python3.
 *
 *   node --import tsx bench/stats.ts [--mib 1024]
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { LiveReader } from '../src/host/live.ts';
import { DuplicateStatistics } from '../src/stats/duplicate_statistics.ts';

const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 1024;

function seconds(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function best(runs: number, f: () => void): number {
  let s = Infinity;
  for (let i = 0; i < runs; i++) s = Math.min(s, seconds(f));
  return s;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("bench/stats: skipped, reading another process's memory needs root");
    return;
  }
  // The real interpreter, not pyenv's shell shim, so the pid is the process holding memory.
  const exe = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  const child = spawn(
    exe,
    ['-c', `import os, time\nbuf = os.urandom(${MIB} << 20)\nprint('ready', flush=True)\ntime.sleep(600)`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await once(child.stdout!, 'data');
    const pid = child.pid!;
    console.log(`python3 pid ${pid} holding ${MIB} MiB of random bytes`);
    const rows: string[][] = [];
    for (const chunk of [256 << 10, 1 << 20, 4 << 20]) {
      const reader = new LiveReader({ chunkBytes: chunk, onWarning: (m) => console.error(`warning: ${m}`) });
      let proc = reader.open(pid)!;
      const plan = best(3, () => {
        proc.close();
        proc = reader.open(pid)!;
      });
      const bytes = proc.pageCount * 4096;
      const read = best(3, () => {
        for (const _ of proc.pages()) {
          /* reading only */
        }
      });
      const stats = chunk === 1 << 20 ? best(2, () => new DuplicateStatistics().addAll(proc)) : undefined;
      rows.push([
        `${chunk >> 10} KiB`,
        `${(bytes / 2 ** 20).toFixed(0)} MiB`,
        `${(plan * 1000).toFixed(1)} ms`,
        `${(bytes / read / 1e9).toFixed(2)} GB/s`,
        stats === undefined ? '-' : `${(bytes / stats / 1e9).toFixed(2)} GB/s`,
      ]);
      proc.close();
      reader.close();
    }
    console.log(['read size', 'present anon', 'maps+pagemap', 'read', 'read+MD5 stats'].join('\t'));
    for (const r of rows) console.log(r.join('\t'));
  } finally {
    child.kill('SIGKILL');
  }
}

await main();
