#!/usr/bin/env node
// How fast ksmd's speed moves on this host (docs/cost-model-journal.md, "How fast the host's speed
// moves"): ksmd scans the same pages of random data over and over (smart_scan 0, one batch a
// pass, sleep_millisecs 20), and each second its CPU per page scanned is read
// (/proc/<ksmd>/schedstat against pages_scanned). Summed up by src/lib/speed_drift.ts: the
// spread, how many seconds a speed lasts (autocorrelation), how far windows of 1, 5 and
// 20 s move from the median, and how well the minute before each window foretells it,
// against the timing grid's 5 %. With --probe, a second task (native/speed-probe.c) does
// ksmd's kind of page work on another CPU for the first 200 ms of each sample, and its CPU
// per page is kept beside ksmd's: how well it follows ksmd's speed says whether a probe
// running beside a comparison could tell the model the host's speed of the moment
// (docs/cost-model-journal.md, "A probe beside ksmd").
//
//   sudo node scripts/host-drift.mjs [--seconds N] [--pages N] [--probe] [--out SAMPLES.csv] [--json]
//   node scripts/host-drift.mjs --from SAMPLES.csv [--json]     (sums up samples kept earlier)
//
// Needs a build (npm run build), the native helpers (node scripts/build-native.mjs), root
// and a writable /sys/kernel/mm/ksm. Every KSM file and ksmd's CPUs are restored on every
// exit path (src/host/ksm_guard.ts), and the data process is killed.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const usage = `usage: sudo node scripts/host-drift.mjs [--seconds N] [--pages N] [--probe] [--out SAMPLES.csv] [--json]
       node scripts/host-drift.mjs --from SAMPLES.csv [--json]
Reads ksmd's CPU per page scanned once a second while it scans N pages (default 20480) of
random data, for --seconds (default 600), and sums up how its speed moves; --probe also
reads a probe's speed on another CPU and sums up how well it follows ksmd's; --from sums
up the samples an earlier run wrote with --out (with the probe's, if it ran).`;
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const fail = (msg) => {
  process.stderr.write(`host-drift: ${msg}\n`);
  process.exit(2);
};
const opts = { seconds: 600, pages: 20_480, out: undefined, from: undefined, json: false, probe: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--json') opts.json = true;
  else if (a === '--probe') opts.probe = true;
  else if (a === '--out' || a === '--from') opts[a.slice(2)] = argv[++i] ?? fail(`${a} needs a file`);
  else if (a === '--seconds' || a === '--pages') {
    const v = Number(argv[++i]);
    if (!Number.isInteger(v) || v < 1) fail(`${a} needs a whole number above 0, not '${argv[i]}'`);
    opts[a.slice(2)] = v;
  } else fail(`unknown argument '${a}'\n${usage}`);
}
if (opts.probe && opts.from !== undefined) fail("--probe measures; --from reads the probe's samples from the file");
/** How long the probe works each second: a fifth, to take little of the shared cache it measures. */
const PROBE_BURST_MS = 200;
const HEADER = 't_s,ns_per_page,pages';
const PROBE_HEADER = `${HEADER},probe_ns_per_page`;

const { probeTracking, summarizeDrift } = await import(join(root, 'dist/src/lib/speed_drift.js'));

/** The samples of an earlier run's --out file. */
function readSamples(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`cannot read ${path}: ${e.message}`);
  }
  const rows = text.trim().split('\n');
  const header = rows.shift();
  if (header !== HEADER && header !== PROBE_HEADER)
    fail(`${path} is not a host-drift samples file (its header differs)`);
  const width = header.split(',').length;
  return rows.map((row, i) => {
    const fields = row.split(',').map(Number);
    if (fields.length !== width || !fields.every(Number.isFinite)) {
      fail(`${path} line ${i + 2}: not ${width === 3 ? 'three' : 'four'} numbers: '${row}'`);
    }
    const [t, nsPerPage, pages, probeNsPerPage] = fields;
    return { t, nsPerPage, pages, ...(width === 4 ? { probeNsPerPage } : {}) };
  });
}

/** Measures on the live machine: one sample a second for `opts.seconds`. */
async function measure() {
  const { withGuardedKsm } = await import(join(root, 'dist/src/host/ksm_guard.js'));
  const { readKsmNumber, ksmUnusableReason } = await import(join(root, 'dist/src/host/ksm_sysfs.js'));
  const { cpusAllowed, findKsmdPid, firstCpu } = await import(join(root, 'dist/src/host/ksmd_affinity.js'));
  const { processState, readSchedstat } = await import(join(root, 'dist/src/host/procfs.js'));
  const { EXEC_MERGE, nativeHelperPath, missingHelper } = await import(join(root, 'dist/src/host/ksm_native.js'));
  const { cpus } = await import('node:os');

  const unusable = ksmUnusableReason();
  if (unusable !== undefined) fail(unusable);
  const helper = nativeHelperPath(EXEC_MERGE);
  const missing = missingHelper(helper);
  if (missing !== undefined) fail(missing);
  const probeHelper = nativeHelperPath('samepage-speed-probe');
  const probeMissing = opts.probe ? missingHelper(probeHelper) : undefined;
  if (probeMissing !== undefined) fail(probeMissing);
  const ksmd = findKsmdPid();
  if (ksmd === undefined) fail('ksmd is not running on this machine (no KSM)');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const runtime = () => readSchedstat(ksmd)?.runtimeNs ?? fail(`cannot read /proc/${ksmd}/schedstat`);
  /**
   * ksmd's runtime and pages_scanned from between two of its batches: a running task's
   * schedstat is brought up to date only when it stops, while pages_scanned grows page by
   * page, so a reading inside a batch would pair a batch's pages with little of its CPU.
   */
  async function reading() {
    for (let tries = 0; tries < 1000; tries++) {
      const before = processState(ksmd);
      const pages = readKsmNumber('pages_scanned');
      const ns = runtime();
      if (before === 'S' && processState(ksmd) === 'S' && readKsmNumber('pages_scanned') === pages) {
        return { ns, pages, at: Date.now() };
      }
      await sleep(1);
    }
    throw new Error('ksmd did not stop between batches for a second: is the machine busy?');
  }

  // The data: a process with MERGE_ANY (samepage-exec-merge) holding `pages` pages of random bytes.
  const fill =
    `const b=Buffer.allocUnsafe(${opts.pages}*4096);require('crypto').randomFillSync(b);` +
    "process.stdout.write('ready\\n');process.stdin.on('data',()=>{});setInterval(()=>b[0],1e9);";
  let child;
  let probe;
  /** The probe's answer to the last burst asked of it: CPU ns and pages (undefined until it answers). */
  let probeAnswer;
  /** Starts the probe on a CPU other than ksmd's (ksmd is held on one CPU by now). */
  async function startProbe() {
    const ksmdCpu = firstCpu(cpusAllowed(ksmd) ?? '');
    const cpu = cpus().findIndex((_, i) => i !== ksmdCpu);
    if (cpu < 0) throw new Error('--probe needs a CPU besides the one ksmd is held on');
    probe = spawn(probeHelper, [String(cpu), String(PROBE_BURST_MS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let partial = '';
    probe.stdout.setEncoding('utf8');
    const ready = new Promise((resolve, reject) => {
      probe.once('exit', (code) => reject(new Error(`the speed probe exited (${code}) before it was ready`)));
      probe.stdout.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (line === 'ready') resolve();
          const answer = line.split(' ').map(Number);
          if (answer.length === 2 && answer.every(Number.isFinite)) probeAnswer = { ns: answer[0], pages: answer[1] };
        }
      });
    });
    await ready;
  }
  /** Asks the probe for one burst, which it answers before the next sample. */
  function askProbe() {
    probeAnswer = undefined;
    probe.stdin.write('\n');
  }
  const samples = [];
  try {
    await withGuardedKsm(
      {
        killChildren: () => {
          child?.kill('SIGKILL');
          probe?.kill('SIGKILL');
        },
        onWarning: (m) => process.stderr.write(`host-drift: ${m}\n`),
      },
      async (set) => {
        set('run', 2);
        set('smart_scan', 0);
        set('pages_to_scan', opts.pages);
        set('sleep_millisecs', 20);
        child = spawn(helper, [process.execPath, '-e', fill], { stdio: ['pipe', 'pipe', 'inherit'] });
        await new Promise((resolve, reject) => {
          child.stdout.once('data', resolve);
          child.once('exit', (code) => reject(new Error(`the data process exited (${code}) before it was ready`)));
        });
        if (opts.probe) await startProbe();
        set('run', 1);
        await sleep(3000); // the first passes: checksums, then the unstable tree fills
        let last = await reading();
        if (opts.probe) askProbe();
        const start = last.at;
        let idle = 0;
        while (samples.length < opts.seconds) {
          await sleep(1000 - ((Date.now() - start) % 1000));
          const now = await reading();
          const pages = now.pages - last.pages;
          const burst = probeAnswer;
          if (opts.probe && !(burst?.pages > 0))
            throw new Error('the speed probe did not answer within a second: is it stopped?');
          if (opts.probe) askProbe();
          if (pages > 0) {
            samples.push({
              t: (now.at - start) / 1000,
              nsPerPage: (now.ns - last.ns) / pages,
              pages,
              ...(opts.probe ? { probeNsPerPage: burst.ns / burst.pages } : {}),
            });
            idle = 0;
          } else if (++idle >= 10) {
            throw new Error('ksmd scanned no page for 10 s: did something else stop KSM (run)?');
          }
          last = now;
          if (pages > 0 && samples.length % 10 === 0 && !opts.json) {
            process.stderr.write(`\r${samples.length}/${opts.seconds} s`);
          }
        }
        if (!opts.json) process.stderr.write('\n');
      },
    );
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  } finally {
    probe?.kill('SIGKILL');
  }
  return samples;
}

const samples = opts.from === undefined ? await measure() : readSamples(opts.from);
if (samples.length === 0) fail('no samples');
const probed = samples.every((x) => x.probeNsPerPage !== undefined);
if (opts.out !== undefined) {
  const row = (x) => `${x.t},${x.nsPerPage.toFixed(1)},${x.pages}${probed ? `,${x.probeNsPerPage.toFixed(1)}` : ''}`;
  writeFileSync(opts.out, `${probed ? PROBE_HEADER : HEADER}\n${samples.map(row).join('\n')}\n`);
}
const s = summarizeDrift(samples.map((x) => x.nsPerPage));
const tracking = probed
  ? probeTracking(
      samples.map((x) => x.nsPerPage),
      samples.map((x) => x.probeNsPerPage),
      [5, 20],
      s.limit,
    )
  : undefined;
if (opts.json) {
  process.stdout.write(
    `${JSON.stringify({ ...(opts.from === undefined ? { pages: opts.pages, measured_until: new Date().toISOString() } : { from: opts.from }), ...s, ...(tracking === undefined ? {} : { probe: tracking }) }, null, 2)}\n`,
  );
} else {
  const pct = (x) => `${(x * 100).toFixed(1)} %`;
  const lines = [
    `ksmd's CPU per page scanned, ${s.spread.n} one-second samples${opts.from === undefined ? ` over ${opts.pages} pages` : ` of ${opts.from}`}:`,
    `  median ${s.spread.median.toFixed(0)} ns, 10th-90th percentile ${s.spread.p10.toFixed(0)}-${s.spread.p90.toFixed(0)} ns`,
    `  autocorrelation: ${s.autocorrelation.map((a) => `${a.lag} s ${a.r.toFixed(2)}`).join(', ')}`,
    `  windows against the median (limit ${pct(s.limit)}):`,
    ...s.windows.map(
      (w) =>
        `    ${String(w.seconds).padStart(2)} s: ${w.windows} windows, farthest ${pct(w.maxDeviation)}, ${pct(w.beyondLimit)} beyond the limit`,
    ),
    '  windows against the minute before each (what a calibration just before could know):',
    ...s.foresight.map(
      (f) =>
        `    ${String(f.seconds).padStart(2)} s: ${f.windows} windows, median ${pct(f.medianDeviation)} off, ${pct(f.beyondLimit)} beyond the limit`,
    ),
    ...(tracking === undefined
      ? []
      : [
          "  the probe beside ksmd (ksmd's windows against its median, fixed, and against its median scaled by the probe's window):",
          ...tracking.map(
            (t) =>
              `    ${String(t.seconds).padStart(2)} s: ${t.windows} windows, r ${t.r.toFixed(2)}; ` +
              `fixed ${pct(t.fixed.medianDeviation)} off, ${pct(t.fixed.beyondLimit)} beyond; ` +
              `scaled ${pct(t.scaled.medianDeviation)} off, ${pct(t.scaled.beyondLimit)} beyond`,
          ),
        ]),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
