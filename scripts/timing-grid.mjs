#!/usr/bin/env node
// The measurement behind docs/cost-model.md's grid: every cell of the timing grid
// (src/differential/timing_grid.ts) compared by `samepage diff --timed` (the median of 3
// undisturbed kernel runs against the model), written as JSON and as a Markdown table.
//
//   sudo node scripts/timing-grid.mjs [--out FILE.json] [--only NAME,...] [--tries N] [--batches]
//   node scripts/timing-grid.mjs --agreement EARLIER.json LATER.json
//   node scripts/timing-grid.mjs --remodel GRID.json OUT.json
//   node scripts/timing-grid.mjs --verdicts GRID.json...
//   node scripts/timing-grid.mjs --spread GRID.json GRID.json...
//
// --agreement measures nothing: it judges the later file's kernel medians against the
// earlier file's as the timing family judges the model (src/differential/grid_agreement.ts),
// to show which cells the kernel itself does not repeat within the tolerance. --remodel
// measures nothing either: it puts this build's model, with the calibration files in use,
// against a grid file's kernel medians (scripts/timing-grid-remodel.mjs). --verdicts counts
// each file's cells within tolerance, within tolerance or the range of their kernel runs, and
// with the model at the kernel's speed (src/differential/kernel_speed.ts). --spread lists,
// across files, the cells where no one model value is within tolerance of every file's
// kernel median: what no calibration, made once, can pass at every hour.
//
// A cell whose kernel runs were disturbed (ksmd waited for a CPU: the machine was busy) is
// tried again after a pause, up to --tries times (default 3). --batches also traces ksmd's
// batches on both sides (`samepage diff --timed --batches`) and keeps their summaries per
// cell. Needs a build (npm run build), root and a writable /sys/kernel/mm/ksm; every KSM
// file is restored after each run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');

const argv = process.argv.slice(2);
const usage = `usage: sudo node scripts/timing-grid.mjs [--out FILE.json] [--only NAME,...] [--tries N] [--batches]
       node scripts/timing-grid.mjs --agreement EARLIER.json LATER.json
       node scripts/timing-grid.mjs --remodel GRID.json OUT.json
       node scripts/timing-grid.mjs --verdicts GRID.json...
       node scripts/timing-grid.mjs --spread GRID.json GRID.json...
Runs every timing-grid cell on the live kernel and the model (about 16 minutes; it
changes /sys/kernel/mm/ksm and restores it after each run). See docs/cost-model.md.`;
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (argv[0] === '--agreement') {
  const { agreementMain } = await import(join(root, 'scripts/timing-grid-agreement.mjs'));
  process.exit(agreementMain(argv.slice(1)));
}
if (argv[0] === '--verdicts') {
  const { verdictsMain } = await import(join(root, 'scripts/timing-grid-agreement.mjs'));
  process.exit(verdictsMain(argv.slice(1)));
}
if (argv[0] === '--spread') {
  const { spreadMain } = await import(join(root, 'scripts/timing-grid-agreement.mjs'));
  process.exit(spreadMain(argv.slice(1)));
}
if (argv[0] === '--remodel') {
  const { remodelMain } = await import(join(root, 'scripts/timing-grid-remodel.mjs'));
  process.exit(await remodelMain(root, argv.slice(1)));
}
const known = new Set(['--out', '--only', '--tries', '--batches']);
for (let i = 0; i < argv.length; i++) {
  if (!known.has(argv[i])) {
    process.stderr.write(`timing-grid: unknown argument '${argv[i]}'\n${usage}\n`);
    process.exit(2);
  }
  if (argv[i] !== '--batches') i++;
}
const { timingGrid, timingCellName, timingScenario } = await import(join(root, 'dist/src/differential/timing_grid.js'));
const { timedDiff } = await import(join(root, 'dist/src/differential/timed.js'));
const { DEFAULT_TOLERANCE } = await import(join(root, 'dist/src/differential/tolerance.js'));
const { parseScenario } = await import(join(root, 'dist/src/scenario/parse.js'));
const { atKernelSpeedJson, ksmdCpuMs } = await import(join(root, 'dist/src/report/timed_diff.js'));

const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const out = opt('--out', '/tmp/samepage-timing-grid.json');
const only = opt('--only', undefined)?.split(',');
const tries = Number(opt('--tries', '3'));
if (!Number.isInteger(tries) || tries < 1) {
  process.stderr.write(`timing-grid: --tries needs a whole number above 0, not '${opt('--tries')}'\n`);
  process.exit(2);
}
const cellNames = timingGrid().map(timingCellName);
const unknownCells = (only ?? []).filter((n) => !cellNames.includes(n));
if (unknownCells.length > 0) {
  process.stderr.write(`timing-grid: no cell named ${unknownCells.join(', ')} (the cells: ${cellNames.join(', ')})\n`);
  process.exit(2);
}
const batches = argv.includes('--batches');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const results = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : {};
for (const cell of timingGrid()) {
  const name = timingCellName(cell);
  if (only !== undefined && !only.includes(name)) continue;
  const parsed = parseScenario(timingScenario(cell), `${name}.yaml`);
  if (!parsed.ok) throw new Error(`${name} does not parse`);
  for (let attempt = 1; attempt <= tries; attempt++) {
    process.stderr.write(`${name}: attempt ${attempt}\n`);
    const d = await timedDiff(parsed.scenario, DEFAULT_TOLERANCE, { onWarning: () => undefined, batches });
    const rows = d.values
      .filter(
        (v) =>
          !v.label.startsWith('after steps[') &&
          ['ksm/pages_scanned', 'ksm/full_scans', 'ksm/pages_to_scan'].includes(v.path),
      )
      .map((v) => ({
        label: v.label,
        path: v.path,
        kernel: v.kernel,
        runs: v.kernelRuns,
        model: v.model,
        ok: v.ok,
        ...(v.clock === undefined ? {} : { clock: v.clock }),
      }));
    results[name] = {
      cell,
      error: d.error ?? null,
      ok: d.error === undefined && d.values.every((v) => v.ok),
      out_of_tolerance: d.values
        .filter((v) => !v.ok)
        .map((v) => `${v.label} ${v.path}: kernel ${v.kernel}, model ${v.model}`),
      kernel_runs: d.kernelRuns.map((r) => ({
        queued_ms: Math.round(r.clock.queuedNs / 1e5) / 10,
        others_busy_ms: r.clock.othersBusyMs === undefined ? null : Math.round(r.clock.othersBusyMs),
        disturbed: r.disturbed,
      })),
      rows,
      ...(d.batches === undefined ? {} : { batches: d.batches }),
      ...(d.ksmdCpu === undefined ? {} : { ksmd_cpu_ms: ksmdCpuMs(d.ksmdCpu) }),
      ...(d.atKernelSpeed === undefined ? {} : { at_kernel_speed: atKernelSpeedJson(d.atKernelSpeed) }),
      date: new Date().toISOString(),
    };
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    if (d.error === undefined || !d.error.includes('too busy')) break;
    await sleep(30_000);
  }
}

// The table: per cell and record, kernel median / model / difference of pages_scanned and full_scans.
const pct = (k, m) =>
  typeof k === 'number' && typeof m === 'number' && k !== 0 ? `${(((m - k) / k) * 100).toFixed(1)} %` : '';
const lines = [
  '| cell | record | pages_scanned kernel | model | diff | full_scans kernel | model | pages_to_scan kernel | model |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const [name, r] of Object.entries(results)) {
  if (r.error !== null && r.rows.length === 0) {
    lines.push(`| ${name} | ${r.error} | | | | | | | |`);
    continue;
  }
  const labels = [...new Set(r.rows.map((x) => x.label))];
  for (const label of labels) {
    const get = (p) => r.rows.find((x) => x.label === label && x.path === p) ?? {};
    const s = get('ksm/pages_scanned');
    const f = get('ksm/full_scans');
    const t = get('ksm/pages_to_scan');
    lines.push(
      `| ${name} | ${label} | ${s.kernel} (${(s.runs ?? []).join(', ')}) | ${s.model} | ${pct(s.kernel, s.model)}${s.ok === false ? ' ✗' : ''} | ${f.kernel} | ${f.model}${f.ok === false ? ' ✗' : ''} | ${t.kernel} | ${t.model}${t.ok === false ? ' ✗' : ''} |`,
    );
  }
}
writeFileSync(out.replace(/\.json$/, '.md'), `${lines.join('\n')}\n`);
process.stdout.write(`${lines.join('\n')}\n`);
