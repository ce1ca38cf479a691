/**
 * Benchmarks of the model (not tests: nothing here asserts on time). For each workload it
 * reports the pages ksmd visited per CPU-second of this process, and the peak host memory
 * the model used per simulated page.
 *
 * Each workload runs in a child process of its own, so its peak is its own: the peak is the
 * kernel's high-water mark of the child's resident set (getrusage ru_maxrss, through
 * process.resourceUsage()), less the resident set the child had before building the model.
 * (An end-of-run RSS difference misses memory freed before the end, and garbage collection
 * makes it noisy.)
 *
 *   npm run bench            (builds, then runs dist/bench/run.js)
 *   npm run bench -- --pages 262144
 */
import { execFileSync } from 'node:child_process';
import { cpuUsage, memoryUsage, resourceUsage } from 'node:process';
import { fileURLToPath } from 'node:url';
import { PAGE_SIZE } from '../src/lib/sizes.ts';
import { MADV_MERGEABLE } from '../src/mm/constants.ts';
import { doMadvise } from '../src/mm/madvise.ts';
import { doMmap } from '../src/mm/mmap.ts';
import { spawnTask } from '../src/mm/process.ts';
import { fillUser } from '../src/mm/uaccess.ts';
import type { Pattern } from '../src/lib/patterns.ts';
import { createSystem, runFullScans, sysfsWrite } from '../src/system.ts';

interface Result {
  readonly workload: string;
  readonly pages: number;
  readonly model_pages_per_cpu_s: number;
  readonly pages_scanned: number;
  readonly full_scans: number;
  /** Peak resident set of the run above what the process held before it, in MiB. */
  readonly peak_mib: number;
  readonly peak_bytes_per_page: number;
  readonly pages_sharing: number;
}

interface Workload {
  readonly pattern: Pattern;
  readonly procs: number;
}

const WORKLOADS: Readonly<Record<string, Workload>> = {
  'all-unique': { pattern: { kind: 'random', seed: 1n }, procs: 1 },
  'duplicate-heavy': { pattern: { kind: 'page-mod', period: 64, seed: 1n }, procs: 4 },
};

function bench(workload: string, pages: number, { pattern, procs }: Workload): Result {
  const startRss = memoryUsage().rss;
  const sys = createSystem({ ram: (pages + 1024) * PAGE_SIZE * 2 });
  const per = Math.floor(pages / procs);
  for (let i = 0; i < procs; i++) {
    const t = spawnTask(sys.mmgr, `bench${i}`);
    const addr = doMmap(sys.mmgr, t.mm, per * PAGE_SIZE);
    fillUser(sys.mmgr, t.mm, addr, per * PAGE_SIZE, pattern, addr);
    doMadvise(sys.mmgr, t.mm, addr, per * PAGE_SIZE, MADV_MERGEABLE);
  }
  sysfsWrite(sys, 'ksm/smart_scan', '0');
  sysfsWrite(sys, 'ksm/pages_to_scan', String(pages * 2));
  sysfsWrite(sys, 'ksm/run', '1');
  const cpu0 = cpuUsage();
  runFullScans(sys, 3);
  const cpu = cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  // ru_maxrss is in KiB on Linux.
  const peak = resourceUsage().maxRSS * 1024 - startRss;
  return {
    workload,
    pages,
    model_pages_per_cpu_s: Math.round(sys.ksm.pagesScanned / cpuS),
    pages_scanned: sys.ksm.pagesScanned,
    full_scans: sys.ksm.ksmScan.seqnr,
    peak_mib: Math.round((peak / 2 ** 20) * 10) / 10,
    peak_bytes_per_page: Math.round(peak / pages),
    pages_sharing: sys.ksm.pagesSharing,
  };
}

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const pages = Number(option('--pages') ?? 65536);
if (!Number.isSafeInteger(pages) || pages <= 0) {
  process.stderr.write(`bench: --pages must be a whole number of pages above 0, got ${option('--pages')}\n`);
  process.exit(2);
}
const only = option('--workload');
if (only !== undefined) {
  // A child: one workload, its result as JSON.
  const w = WORKLOADS[only];
  if (w === undefined) {
    process.stderr.write(`bench: unknown workload ${only}; expected ${Object.keys(WORKLOADS).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(bench(only, pages, w))}\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  const results = Object.keys(WORKLOADS).map(
    (name) =>
      JSON.parse(
        execFileSync(process.execPath, [self, '--workload', name, '--pages', String(pages)], { encoding: 'utf8' }),
      ) as Result,
  );
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else console.table(results);
}
