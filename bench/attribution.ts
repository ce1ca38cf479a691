/**
 * How fast who-saves-what is read on a live host (not a test: nothing asserts on time).
 * The kernel backend starts PROCS processes holding PAGES mergeable pages in all (1 Mi by
 * default, 4 GiB), filled with a repeating pattern of 4096 distinct page contents, and
 * times, on the same machine in the same run:
 *   1. before ksmd runs: every page a distinct frame, none KSM (the most frames to look up);
 *   2. after three full scans: the pages merged into KSM pages (chains at max_page_sharing);
 * for each, one scrape of `samepage kernel export` (ExportReader.read + renderMetrics, the
 * median and worst of several) as the exporter does it (smaps read again only after a
 * change: host/mergeable_vmas.ts) and with every smaps read every time, and the reading
 * alone with kpageflags/kpagecount read one frame per pread (as a naive reader would) and in
 * batches (KpageFile's defaults, and wider).
 * The exporter's CPU at a 15 s interval: the CPU one scrape takes divided by 15 s, and the
 * exporter run as a process of its own (bench/exporter_process.js, or with --cli the
 * command itself) and scraped every 15 s, 13 times: each scrape's time as the scraper sees
 * it (the first included), and the growth of the process's CPU counter over the run.
 * Targets (docs/performance.md): every scrape within 100 ms, at most 1 % of a core.
 *
 * Root, a writable /sys/kernel/mm/ksm and the built agent; run it under the dev lock:
 *   npm run build && flock /run/lock/samepage-dev.lock node dist/bench/attribution.js \
 *     [--pages 1048576] [--procs 8] [--runs 7] [--scrapes 13] [--interval 15] [--cli] [--only-exporter]
 * The kernel backend saves every KSM knob first and restores it after, on every exit path.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKernelBackend } from '../src/backends/kernel/index.ts';
import { packageRoot } from '../src/lib/package_root.ts';
import { median } from '../src/lib/statistics.ts';
import { bareScenario, kernelSkipReason } from '../src/backends/kernel/testing.ts';
import { attribute } from '../src/attribution/attribute.ts';
import { ExportReader } from '../src/host/ksm_export.ts';
import { LiveAttributionReader, readLiveObservation } from '../src/host/ksm_attribution.ts';
import type { KpageBatching } from '../src/host/pagemap.ts';
import { renderMetrics } from '../src/report/prometheus.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const PAGES = arg('--pages', 1 << 20);
const PROCS = arg('--procs', 8);
const RUNS = arg('--runs', 7);
const SCRAPES = arg('--scrapes', 13);
const INTERVAL_MS = arg('--interval', 15) * 1000;
/** Scrape `samepage kernel export` itself rather than bench/exporter_process.js. */
const VIA_CLI = process.argv.includes('--cli');
/** Only the exporter as its own process (the in-process timings left out). */
const ONLY_EXPORTER = process.argv.includes('--only-exporter');

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

const BATCHINGS: ReadonlyArray<readonly [string, KpageBatching]> = [
  ['one frame per pread', { maxSpan: 1, maxGap: 1 }],
  ['batched (default: span 16384, gap 64)', { maxSpan: 16384, maxGap: 64 }],
  ['batched (span 65536, gap 512)', { maxSpan: 65536, maxGap: 512 }],
];

/** Median and worst of wall times, and the median CPU as a share of a core at a 15 s interval. */
function summary(runs: readonly Timing[]): string {
  const wall = runs.map((s) => s.wallMs);
  const cpu = median(runs.map((s) => s.cpuMs));
  return (
    `median ${median(wall).toFixed(1)} ms, worst ${Math.max(...wall).toFixed(1)} ms; ` +
    `CPU median ${cpu.toFixed(1)} ms = ${((cpu / 15_000) * 100).toFixed(3)} % of a core at a 15 s interval`
  );
}

function measure(label: string): void {
  // The scrape as the exporter does it: one ExportReader for the server's life, whose first
  // scrape reads every smaps; and, for comparison, one that reads every smaps every time
  // (what a scrape costs when every process changed since the last).
  const kept = new ExportReader({ top: 20 });
  const fresh = new ExportReader({ top: 20, reader: { alwaysSmaps: true } });
  kept.read();
  fresh.read();
  const keptRuns: Timing[] = [];
  const freshRuns: Timing[] = [];
  let body = '';
  for (let i = 0; i < RUNS; i++) {
    keptRuns.push(timed(() => (body = renderMetrics(kept.read(), 'prometheus'))));
    freshRuns.push(timed(() => renderMetrics(fresh.read(), 'prometheus')));
  }
  const reader = new LiveAttributionReader();
  const first = reader.read();
  const obs = reader.read();
  const t = timed(() => attribute(obs));
  const a = attribute(obs);
  console.log(`\n== ${label}`);
  console.log(
    `processes ${obs.stats.processes}, pagemap entries ${obs.stats.pagemapEntries}, candidate pages ${obs.stats.candidates}, ` +
      `distinct frames ${obs.stats.distinctFrames}, KSM pages ${obs.frames.count}; pages_sharing ${obs.ksm.pages_sharing}, ` +
      `attributed ${a.totals.attributed_pages} (residual ${a.totals.residual_pages}); exposition ${body.length} bytes`,
  );
  const phases = (o: typeof obs): string =>
    Object.entries(o.stats.phaseMs)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
  console.log(`one reading, ms per phase, smaps read (${first.stats.smapsRead} processes): ${phases(first)}`);
  console.log(
    `one reading, ms per phase, smaps known (${obs.stats.smapsRead} read): ${phases(obs)}; attribute() ${t.wallMs.toFixed(1)}`,
  );
  console.log(`scrape (ExportReader.read + renderMetrics), ${RUNS} runs, smaps known: ${summary(keptRuns)}`);
  console.log(`scrape, every smaps read every time, ${RUNS} runs: ${summary(freshRuns)}`);
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

/** One fetch() from a throwaway local server, so that the client's first-use cost is paid. */
async function warmFetch(): Promise<void> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).text();
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

/**
 * The exporter as it runs: `samepage kernel export` in its own process, scraped every
 * `intervalMs` `scrapes` times; its CPU share is the growth of its own CPU counter (which
 * every scrape reports) over the wall time between the first and the last scrape.
 */
async function exporterAtInterval(intervalMs: number, scrapes: number): Promise<void> {
  const args = VIA_CLI
    ? [join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'bin', 'samepage.js'), 'kernel', 'export']
    : [join(dirname(fileURLToPath(import.meta.url)), 'exporter_process.js')];
  const child = spawn(
    process.execPath,
    [...args, '--listen', '127.0.0.1:0', '--top', '20', ...(VIA_CLI ? [] : ['--verbose'])],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
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
    // This process's fetch() loads and compiles its HTTP client on first use (tens of ms, a
    // cost of this client, not of the exporter nor of Prometheus's): warm it elsewhere first.
    await warmFetch();
    const samples: Array<{ at: number; cpu: number; ms: number; serverMs: number }> = [];
    for (let i = 0; i < scrapes; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, intervalMs));
      const t = performance.now();
      const body = await (await fetch(url)).text();
      const ms = performance.now() - t;
      const cpu = Number(/^samepage_exporter_cpu_seconds_total (\S+)$/m.exec(body)?.[1]);
      const serverMs = Number(/^samepage_scrape_duration_seconds (\S+)$/m.exec(body)?.[1]) * 1000;
      samples.push({ at: t, cpu, ms, serverMs });
    }
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const share = (last.cpu - first.cpu) / ((last.at - first.at) / 1000);
    const ms = samples.map((x) => x.ms);
    console.log(
      `\nexporter process (${VIA_CLI ? 'samepage kernel export' : 'bench/exporter_process.js'}) scraped every ${intervalMs / 1000} s, ` +
        `${scrapes} times: first ${ms[0]!.toFixed(1)} ms, median ${median(ms).toFixed(1)} ms, worst ${Math.max(...ms).toFixed(1)} ms; as Prometheus sees them ` +
        `${samples.map((x) => x.ms.toFixed(0)).join(', ')} ms (the reading, as the exporter timed it: ` +
        `${samples.map((x) => x.serverMs.toFixed(0)).join(', ')} ms); CPU ${(share * 100).toFixed(3)} % of a core ` +
        `(${(last.cpu - first.cpu).toFixed(2)} s over ${((last.at - first.at) / 1000).toFixed(0)} s)`,
    );
    // bench/exporter_process.js says what each reading cost (the first line is its scrape before listening).
    for (const line of err.split('\n')) if (line.startsWith('scrape:')) console.log(`  ${line}`);
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
    if (!ONLY_EXPORTER) measure('mergeable, not merged yet (every page its own frame)');
    await backend.sysfsWrite('ksm/run', '1');
    const begin = process.hrtime.bigint();
    const err = await backend.wait('full_scans', 3);
    if (err !== undefined) throw new Error(err);
    console.log(`\nksmd: three full scans in ${(Number(process.hrtime.bigint() - begin) / 1e9).toFixed(1)} s`);
    if (!ONLY_EXPORTER) measure('merged (three full scans)');
    await exporterAtInterval(INTERVAL_MS, SCRAPES);
  } finally {
    await backend.stop();
  }
}

await main();
