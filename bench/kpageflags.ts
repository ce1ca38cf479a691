/**
 * How to read /proc/kpageflags for many frames (not a test): one pread per frame against
 * KpageFile's batched reads over runs of nearby frames, for sets of random frames spread
 * over part or all of this machine's RAM. Read-only (root: /proc/kpageflags is root's).
 *
 *   npm run build && node dist/bench/kpageflags.js
 */
import { readFileSync } from 'node:fs';
import { KPAGEFLAGS, type KpageBatching, KpageFile } from '../src/host/pagemap.ts';
import { radixOrder } from '../src/lib/radix_sort.ts';

const BATCHINGS: readonly KpageBatching[] = [
  { maxSpan: 1, maxGap: 1 },
  { maxSpan: 16384, maxGap: 8 },
  { maxSpan: 16384, maxGap: 64 },
  { maxSpan: 65536, maxGap: 512 },
  { maxSpan: 262144, maxGap: 4096 },
];

/** xorshift32, seeded: the same frames every run. */
function frames(n: number, range: number, seed: number): Uint32Array {
  let s = seed >>> 0 || 1;
  const set = new Set<number>();
  while (set.size < n) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    set.add(1 + (s % (range - 2)));
  }
  const keys = Uint32Array.from(set);
  const order = radixOrder(keys, keys.length);
  return Uint32Array.from(order, (i) => keys[i]!);
}

function main(): void {
  if (process.getuid?.() !== 0) {
    console.log('bench/kpageflags: skipped, /proc/kpageflags needs root');
    return;
  }
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? '0');
  const ramFrames = Math.floor(memKb / 4);
  for (const [label, n, range] of [
    ['1 Mi frames within 5 GiB', 1 << 20, 5 * 262144],
    ['1 Mi frames over all RAM', 1 << 20, ramFrames],
    ['128 Ki frames over all RAM', 1 << 17, ramFrames],
  ] as const) {
    const pfns = frames(n, range, 0x9e3779b9);
    const out = new Uint32Array(n);
    for (const b of BATCHINGS) {
      const f = new KpageFile(KPAGEFLAGS, b);
      // One frame per pread is slow: timed on the first 50,000 frames and scaled.
      const m = b.maxSpan === 1 ? Math.min(n, 50_000) : n;
      const t = process.hrtime.bigint();
      f.read(pfns, m, out);
      const ms = (Number(process.hrtime.bigint() - t) / 1e6) * (n / m);
      console.log(
        `${label}: span ${b.maxSpan}, gap ${b.maxGap}: ${ms.toFixed(1)} ms${m < n ? ' (scaled from 50,000)' : ''}, ` +
          `${Math.round((f.stats.reads * n) / m)} preads, ${Math.round((f.stats.entries * n) / m)} entries read`,
      );
      f.close();
    }
  }
}

main();
