/**
 * The model at scale (issue "Speed and scale"; not a test: nothing here asserts on time or
 * memory). Three measurements, each in a process of its own so peak memory is its own:
 *
 *   node dist/bench/scale.js hour   [--pages 1048576] [--pattern random|page-mod]
 *       wall time (and this process's CPU time) of one simulated hour of default ksmd
 *       (pages_to_scan 100, sleep 20 ms) over PAGES madvised pages in one process; setup
 *       (fill) is timed apart.
 *   node dist/bench/scale.js huge   [--pages 16777216]
 *       peak resident memory (getrusage maxrss) of PAGES duplicate-heavy pages (page-mod
 *       with 4096 distinct pages, 64 GiB at the default) filled, madvised and merged: full
 *       scans with pages_to_scan = PAGES until pages_sharing stops changing.
 *   node --expose-gc dist/bench/scale.js unique [--pages 1048576]
 *       model metadata per page beyond the page contents after 3 full scans of PAGES
 *       all-unique pages: the growth of V8's heap plus ArrayBuffers (the page contents live
 *       in WebAssembly memory, which neither counts), divided by PAGES; with --expose-gc
 *       garbage is collected before each reading (arrays left behind by growth do not count).
 *
 *   node dist/bench/scale.js fill   [--pages 1048576] [--pattern random|page-mod|word-index]
 *       how fast the model fills memory from a pattern: PAGES pages mmapped in one process
 *       and filled (faulted in and written) as a scenario's `fill` step does, in bytes per
 *       second of wall time and of this process's CPU time.
 *
 * Add --json for one JSON object on stdout. Results and their commands are recorded in
 * docs/performance.md.
 */
import { cpuUsage, memoryUsage, resourceUsage } from 'node:process';
import { PAGE_SIZE } from '../src/lib/sizes.ts';
import type { Pattern } from '../src/lib/patterns.ts';
import { MADV_MERGEABLE } from '../src/mm/constants.ts';
import { doMadvise } from '../src/mm/madvise.ts';
import { doMmap } from '../src/mm/mmap.ts';
import { spawnTask } from '../src/mm/process.ts';
import { fillUser } from '../src/mm/uaccess.ts';
import { createSystem, runFor, runFullScans, sysfsWrite, type System } from '../src/system.ts';

const argv = process.argv.slice(2);
const mode = argv[0];
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};

function seconds(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

/** A machine with one process holding `pages` madvised pages of `pattern`. */
function machine(pages: number, pattern: Pattern): System {
  const sys = createSystem({ ram: (pages + 4096) * PAGE_SIZE });
  const t = spawnTask(sys.mmgr, 'bench');
  const len = pages * PAGE_SIZE;
  const addr = doMmap(sys.mmgr, t.mm, len);
  if (addr < 0 || fillUser(sys.mmgr, t.mm, addr, len, pattern, addr) !== 0) throw new Error('setup failed');
  if (doMadvise(sys.mmgr, t.mm, addr, len, MADV_MERGEABLE) !== 0) throw new Error('madvise failed');
  return sys;
}

function patternOf(name: string): Pattern {
  if (name === 'random') return { kind: 'random', seed: 1n };
  if (name === 'page-mod') return { kind: 'page-mod', period: 4096, seed: 1n };
  if (name === 'word-index') return { kind: 'word-index' };
  throw new Error(`--pattern must be random, page-mod or word-index, not ${name}`);
}

function fill(): Record<string, unknown> {
  const pages = Number(arg('--pages', '1048576'));
  const pattern = arg('--pattern', 'random');
  const sys = createSystem({ ram: (pages + 4096) * PAGE_SIZE });
  const t = spawnTask(sys.mmgr, 'bench');
  const len = pages * PAGE_SIZE;
  const addr = doMmap(sys.mmgr, t.mm, len);
  if (addr < 0) throw new Error('mmap failed');
  const cpu0 = cpuUsage();
  const wallS = seconds(() => {
    if (fillUser(sys.mmgr, t.mm, addr, len, patternOf(pattern), addr) !== 0) throw new Error('fill faulted');
  });
  const cpu = cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    measurement: 'filling memory from a pattern',
    pages,
    pattern,
    bytes: len,
    wall_s: round(wallS),
    cpu_s: round(cpuS),
    gb_per_s_wall: round(len / wallS / 1e9),
    gb_per_s_cpu: round(len / cpuS / 1e9),
  };
}

function hour(): Record<string, unknown> {
  const pages = Number(arg('--pages', '1048576'));
  const pattern = arg('--pattern', 'random');
  let sys: System | undefined;
  const setupS = seconds(() => {
    sys = machine(pages, patternOf(pattern));
  });
  const s = sys!;
  sysfsWrite(s, 'ksm/run', '1');
  const cpu0 = cpuUsage();
  const wallS = seconds(() => runFor(s, 3600 * 1000));
  const cpu = cpuUsage(cpu0);
  const k = s.ksm;
  return {
    measurement: 'one simulated hour of default ksmd',
    pages,
    pattern,
    setup_wall_s: round(setupS),
    simulated_s: 3600,
    wall_s: round(wallS),
    cpu_s: round((cpu.user + cpu.system) / 1e6),
    pages_scanned: k.pagesScanned,
    full_scans: k.ksmScan.seqnr,
    batches: s.ksmd.batches,
    pages_sharing: k.pagesSharing,
    ksmd_virtual_cpu_s: round(k.cpuNs / 1e9),
  };
}

function huge(): Record<string, unknown> {
  const pages = Number(arg('--pages', String(16 * 1024 * 1024)));
  let sys: System | undefined;
  const setupS = seconds(() => {
    sys = machine(pages, patternOf('page-mod'));
  });
  const s = sys!;
  sysfsWrite(s, 'ksm/pages_to_scan', String(pages));
  sysfsWrite(s, 'ksm/run', '1');
  let scans = 0;
  let last = -1;
  const scanS = seconds(() => {
    // A page merges on its second visit at the earliest: at least 2 scans, then until stable.
    while (scans < 10 && (scans < 2 || s.ksm.pagesSharing !== last)) {
      last = s.ksm.pagesSharing;
      runFullScans(s, 1);
      scans++;
    }
  });
  return {
    measurement: 'peak resident memory, duplicate-heavy',
    pages,
    simulated_gib: (pages * PAGE_SIZE) / 2 ** 30,
    distinct_pages: 4096,
    setup_wall_s: round(setupS),
    scans_wall_s: round(scanS),
    full_scans: scans,
    pages_shared: s.ksm.pagesShared,
    pages_sharing: s.ksm.pagesSharing,
    peak_rss_gib: round((resourceUsage().maxRSS * 1024) / 2 ** 30),
  };
}

/**
 * Collects garbage first when node runs with --expose-gc, so freed arrays are not counted.
 * V8 frees ArrayBuffer memory on a background thread after a collection: wait for it, and
 * collect again.
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return memoryUsage();
}

async function unique(): Promise<Record<string, unknown>> {
  const pages = Number(arg('--pages', '1048576'));
  const before = await settledMemory();
  const sys = machine(pages, patternOf('random'));
  sysfsWrite(sys, 'ksm/pages_to_scan', String(pages * 2));
  sysfsWrite(sys, 'ksm/run', '1');
  runFullScans(sys, 3);
  const after = await settledMemory();
  const heap = after.heapUsed - before.heapUsed;
  const buffers = after.arrayBuffers - before.arrayBuffers;
  return {
    measurement: 'model metadata beyond page contents, all-unique',
    pages,
    rmap_items: sys.ksm.rmapItems,
    pages_unshared: sys.ksm.pagesUnshared,
    heap_bytes: heap,
    array_buffer_bytes: buffers,
    metadata_bytes_per_page: round((heap + buffers) / pages),
    page_content_bytes: sys.mmgr.contents.storageBytes(),
    garbage_collected: typeof (globalThis as { gc?: unknown }).gc === 'function',
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const run = { hour, huge, unique, fill }[mode ?? ''];
if (run === undefined) {
  process.stderr.write(
    'usage: node dist/bench/scale.js hour|huge|unique|fill [--pages N] [--pattern random|page-mod|word-index] [--json]\n',
  );
  process.exit(2);
}
const result = await run();
if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(22)} ${String(v)}\n`);
