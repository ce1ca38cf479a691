/**
 * How fast who-saves-what is read on a live host (not a test: nothing asserts on time).
 * The kernel backend starts PROCS processes holding PAGES mergeable pages in all (1 Mi by
 * default, 4 GiB), filled with a repeating pattern of 4096 distinct page contents, and
 * times, on the same machine in the same run:
 *   1. before ksmd runs: every page a distinct frame, none KSM (the most frames to look up);
 *   2. after three full scans: the pages merged into KSM pages (chains at max_page_sharing);
 * for each, one scrape of `samepage kernel export` (readExport + renderMetrics, the median
 * and worst of several) and the reading alone with kpageflags/kpagecount read one frame per
 * pread (as a naive reader would) and in batches (KpageFile's defaults, and wider).
 * The exporter's CPU at a 15 s interval: the CPU one scrape takes divided by 15 s, and the
 * exporter run as a process and scraped every 15 s for a minute.
 * Targets (docs/performance.md): a scrape within 100 ms, at most 1 % of a core.
 *
 * Root, a writable /sys/kernel/mm/ksm and the built agent; run it under the dev lock:
 *   npm run build && flock /run/lock/samepage-dev.lock node dist/bench/attribution.js [--pages 1048576] [--procs 8] [--scrapes 5]
 * The kernel backend saves every KSM knob first and restores it after, on every exit path.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernelBackend } from '../src/backends/kernel/index.ts';
import { packageRoot } from '../src/lib/package_root.ts';
import { bareScenario, kernelSkipReason } from '../src/backends/kernel/testing.ts';
import { attribute } from '../src/attribution/attribute.ts';
import { readExport } from '../src/host/ksm_export.ts';
import { readLiveObservation } from '../src/host/ksm_attribution.ts';
import type { KpageBatching } from '../src/host/pagemap.ts';
import { renderMetrics } from '../src/report/prometheus.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const PAGES = arg('--pages', 1 << 20);
const PROCS = arg('--procs', 8);
const RUNS = arg('--runs', 7);
const SCRAPES = arg('--scrapes', 5);

interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

function timed(f: () => void): Timing {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  f();
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  const d = process.cpuUsage(c);
  return { wallMs, cpuMs: (d.user + d.system) / 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const BATCHINGS: ReadonlyArray<readonly [string, KpageBatching]> = [
  ['one frame per pread', { maxSpan: 1, maxGap: 1 }],
  ['batched (default: span 16384, gap 64)', { maxSpan: 16384, maxGap: 64 }],
  ['batched (span 65536, gap 512)', { maxSpan: 65536, maxGap: 512 }],
];

function measure(label: string): void {
  // Warm-up, then the scrape as the exporter does it.
  readExport({ top: 20 });
  const scrapes: Timing[] = [];
  let body = '';
  for (let i = 0; i < RUNS; i++)
    scrapes.push(timed(() => (body = renderMetrics(readExport({ top: 20 }), 'prometheus'))));
  const obs = readLiveObservation();
  const t = timed(() => attribute(obs));
  const a = attribute(obs);
  console.log(`\n== ${label}`);
  console.log(
    `processes ${obs.stats.processes}, pagemap entries ${obs.stats.pagemapEntries}, candidate frames ${obs.stats.candidates}, ` +
      `distinct ${obs.stats.distinctFrames}, KSM pages ${obs.frames.count}; pages_sharing ${obs.ksm.pages_sharing}, ` +
      `attributed ${a.totals.attributed_pages} (residual ${a.totals.residual_pages}); exposition ${body.length} bytes`,
  );
  const phases = Object.entries(obs.stats.phaseMs).map(([k, v]) => `${k} ${v.toFixed(1)}`);
  console.log(`one reading, ms per phase: ${phases.join(', ')}; attribute() ${t.wallMs.toFixed(1)}`);
  const wall = scrapes.map((s) => s.wallMs);
  const cpu = scrapes.map((s) => s.cpuMs);
  console.log(
    `scrape (readExport + renderMetrics), ${RUNS} runs: median ${median(wall).toFixed(1)} ms, worst ${Math.max(...wall).toFixed(1)} ms; ` +
      `CPU median ${median(cpu).toFixed(1)} ms = ${((median(cpu) / 15_000) * 100).toFixed(3)} % of a core at a 15 s interval`,
  );
  for (const [name, batching] of BATCHINGS) {
    const runs: number[] = [];
    let stats = obs.stats;
    for (let i = 0; i < 3; i++)
      runs.push(
        timed(() => {
          stats = readLiveObservation({ batching }).stats;
        }).wallMs,
      );
    console.log(
      `  reading with kpageflags/kpagecount ${name}: median ${median(runs).toFixed(1)} ms ` +
        `(${stats.kpageReads} preads, ${stats.kpageEntries} entries)`,
    );
  }
}

/**
 * The exporter as it runs: `samepage kernel export` in its own process, scraped every
 * `intervalMs` `scrapes` times; its CPU share is the growth of its own CPU counter (which
 * every scrape reports) over the wall time between the first and the last scrape.
 */
async function exporterAtInterval(intervalMs: number, scrapes: number): Promise<void> {
  const cli = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'bin', 'samepage.js');
  const child = spawn(process.execPath, [cli, 'kernel', 'export', '--listen', '127.0.0.1:0', '--top', '20'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    let err = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /serving (\S+\/metrics)/.exec(err);
        if (m !== null) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`the exporter exited: ${err}`)));
    });
    const samples: Array<{ at: number; cpu: number; ms: number }> = [];
    for (let i = 0; i < scrapes; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, intervalMs));
      const t = performance.now();
      const body = await (await fetch(url)).text();
      const ms = performance.now() - t;
      const cpu = Number(/^samepage_exporter_cpu_seconds_total (\S+)$/m.exec(body)?.[1]);
      samples.push({ at: t, cpu, ms });
    }
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const share = (last.cpu - first.cpu) / ((last.at - first.at) / 1000);
    console.log(
      `\nexporter process scraped every ${intervalMs / 1000} s, ${scrapes} times: scrape as Prometheus sees it ` +
        `${samples.map((x) => x.ms.toFixed(0)).join(', ')} ms; CPU ${(share * 100).toFixed(3)} % of a core ` +
        `(${(last.cpu - first.cpu).toFixed(2)} s over ${((last.at - first.at) / 1000).toFixed(0)} s)`,
    );
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const why = kernelSkipReason();
  if (why !== undefined) {
    console.log(`bench/attribution: skipped, ${why}`);
    return;
  }
  const backend = createKernelBackend({ lockWaitMs: 600_000 });
  try {
    await backend.start(
      bareScenario('bench-attribution', [
        ['pages_to_scan', '20000'],
        ['sleep_millisecs', '10'],
        ['max_page_sharing', '256'],
      ]),
    );
    const per = Math.floor(PAGES / PROCS);
    for (let p = 0; p < PROCS; p++) {
      const proc = `p${p}`;
      await backend.spawn(proc, `bench-attr-${p}`);
      await backend.mmap(proc, 'buf', per * 4096, false, undefined);
      await backend.fill(proc, 'buf', { kind: 'page-mod', period: 4096, seed: 1n }, 0, undefined);
      await backend.madvise(proc, 'buf', 'MADV_MERGEABLE', 0, undefined);
    }
    console.log(`${PROCS} processes, ${per * PROCS} mergeable pages (${((per * PROCS) / 256).toFixed(0)} MiB)`);
    measure('mergeable, not merged yet (every page its own frame)');
    await backend.sysfsWrite('ksm/run', '1');
    const begin = process.hrtime.bigint();
    const err = await backend.wait(3, undefined);
    if (err !== undefined) throw new Error(err);
    console.log(`\nksmd: three full scans in ${(Number(process.hrtime.bigint() - begin) / 1e9).toFixed(1)} s`);
    measure('merged (three full scans)');
    await exporterAtInterval(15_000, SCRAPES);
  } finally {
    await backend.stop();
  }
}

await main();
