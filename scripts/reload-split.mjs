#!/usr/bin/env node
// How ksmd's batch after a sleep splits between a part per batch and a part per page, on the
// live kernel against the model (docs/cost-model-journal.md, "The reload's split,
// interleaved"): the calibration's traced measurement (src/measure/post_sleep_interleaved.ts:
// the batch sizes interleaved every 200 ms, so that the host's drift moves them all alike) at
// one sleep, and the model's batches of the same sizes and sleep with the calibration set in
// use (scans 3 and 4 of the same region, each size alone).
//
// Prints one JSON line per size: the kernel's batch (trimmed mean) and its warm batch, the
// model's batch (median), and kernel over model. Where that ratio is the same at every size,
// the model's split is the kernel's and only the host's speed differs; where it moves with
// the size, the split is off.
//
//   sudo node scripts/reload-split.mjs [--sizes 80,100,400,1000] [--sleep MS] [--rounds N]
//
// Needs a build and root; the kernel backend saves and restores every KSM file and ksmd's
// CPU list on every exit path, and the trace instance is removed afterwards.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const usage = `usage: sudo node scripts/reload-split.mjs [--sizes 80,100,400,1000] [--sleep MS] [--rounds N]
  --sizes   pages_to_scan values to interleave, each dividing 20,000 (default 80,100,400,1000)
  --sleep   sleep_millisecs for every batch (default 20)
  --rounds  rounds of the sizes (default 30)
`;
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(usage);
  process.exit(0);
}
const fail = (message) => {
  process.stderr.write(`reload-split: ${message}\n${usage}`);
  process.exit(2);
};
const opts = { '--sizes': '80,100,400,1000', '--sleep': '20', '--rounds': '30' };
for (let i = 0; i < argv.length; i += 2) {
  if (!(argv[i] in opts)) fail(`unknown argument '${argv[i]}'`);
  if (argv[i + 1] === undefined) fail(`${argv[i]} needs a value`);
  opts[argv[i]] = argv[i + 1];
}
const whole = (text, name, min) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) fail(`${name} needs a whole number of at least ${min}, not '${text}'`);
  return n;
};
const REGION_PAGES = 20_000;
const sizes = opts['--sizes'].split(',').map((s) => whole(s, '--sizes', 1));
const sleepMs = whole(opts['--sleep'], '--sleep', 1);
const rounds = whole(opts['--rounds'], '--rounds', 1);
if (sizes.length < 2) fail('--sizes needs two sizes at least');
for (const n of sizes)
  if (REGION_PAGES % n !== 0) fail(`--sizes: ${n} does not divide the region's ${REGION_PAGES} pages`);

const dist = (p) => import(join(root, 'dist/src', p));
const { measurePostSleepInterleaved } = await dist('measure/post_sleep_interleaved.js');
const { createModelBackend } = await dist('backends/model/index.js');
const { runScenario } = await dist('scenario/run.js');
const { parseScenario } = await dist('scenario/parse.js');
const { PAGE_SIZE } = await dist('lib/sizes.js');
const { median } = await dist('lib/statistics.js');

const log = (m) => process.stderr.write(`reload-split: ${m}\n`);

/** The model's batches of one size after the sleep, scans 3 and 4, woken by the tick and whole. */
async function modelBatchNs(pages) {
  const text = [
    'version: 1',
    `name: reload-split-${pages}`,
    `ksm: { pages_to_scan: ${pages}, sleep_millisecs: ${sleepMs}, smart_scan: 0 }`,
    'steps:',
    '  - spawn: { proc: p, comm: sp-split }',
    `  - mmap: { proc: p, region: r, size: ${REGION_PAGES * PAGE_SIZE} }`,
    '  - fill: { proc: p, region: r, pattern: { random: 1 } }',
    '  - madvise: { proc: p, region: r, advice: MADV_MERGEABLE }',
    '  - sysfs: { path: ksm/run, value: "1" }',
    '  - wait: { full_scans: 4 }',
    '  - record: { label: end }',
  ].join('\n');
  const parsed = parseScenario(text, 'reload-split.yaml');
  if (!parsed.ok) throw new Error(`internal: the model's scenario does not parse: ${JSON.stringify(parsed.problems)}`);
  const backend = createModelBackend({ seed: 0, traceBatches: true });
  const run = await runScenario(parsed.scenario, backend, {});
  if (run.error !== undefined) throw new Error(`model run stopped: ${run.error}`);
  let ended = 0;
  const cpu = [];
  const all = backend.ksmdBatches() ?? [];
  all.forEach((b, i) => {
    if (ended >= 2 && i > 0 && all[i - 1].timed) cpu.push(b.cpuNs);
    ended += b.passesEnded;
  });
  return median(cpu);
}

try {
  const rows = await measurePostSleepInterleaved(
    { lockWaitMs: 600_000, progress: log, warn: log },
    { regionPages: REGION_PAGES, plan: sizes.map((pages) => ({ pages, sleeps: [sleepMs] })) },
    rounds,
  );
  const us = (ns) => Math.round(ns / 10) / 100;
  for (const r of rows) {
    const perPass = REGION_PAGES / r.pages_to_scan;
    const kernel = r.pass_cpu_ns / perPass;
    const model = await modelBatchNs(r.pages_to_scan);
    process.stdout.write(
      `${JSON.stringify({
        pages_to_scan: r.pages_to_scan,
        kernel_batches: Math.round(r.passes * perPass),
        kernel_us: us(kernel),
        kernel_warm_us: us(r.warm_pass_cpu_ns / perPass),
        kernel_extra_us: us(r.extra_ns),
        model_us: us(model),
        kernel_over_model: Math.round((kernel / model) * 1000) / 1000,
      })}\n`,
    );
  }
} catch (err) {
  process.stderr.write(`reload-split: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
