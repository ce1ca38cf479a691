/**
 * Benchmarks of the model (not tests: nothing here asserts on time). For each workload it
 * reports the pages ksmd visited per CPU-second of this process, and the host memory the
 * model used per simulated page.
 *
 *   npm run bench            (builds, then runs dist/bench/run.js)
 *   npm run bench -- --pages 262144
 */
import { cpuUsage, memoryUsage } from 'node:process';
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
  readonly bytes_per_page: number;
  readonly pages_sharing: number;
}

function bench(workload: string, pages: number, pattern: Pattern, procs: number): Result {
  const sys = createSystem({ ram: (pages + 1024) * PAGE_SIZE * 2 });
  const before = memoryUsage();
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
  const after = memoryUsage();
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const used = after.rss - before.rss;
  return {
    workload,
    pages,
    model_pages_per_cpu_s: Math.round(sys.ksm.pagesScanned / cpuS),
    pages_scanned: sys.ksm.pagesScanned,
    full_scans: sys.ksm.ksmScan.seqnr,
    bytes_per_page: Math.round(used / pages),
    pages_sharing: sys.ksm.pagesSharing,
  };
}

const argv = process.argv.slice(2);
const i = argv.indexOf('--pages');
const pages = i >= 0 ? Number(argv[i + 1]) : 65536;
const results = [
  bench('all-unique', pages, { kind: 'random', seed: 1n }, 1),
  bench('duplicate-heavy', pages, { kind: 'page-mod', period: 64, seed: 1n }, 4),
];
if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else console.table(results);
