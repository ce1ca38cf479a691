#!/usr/bin/env node
// How much more ksmd's batch costs after a sleep on regions of different sizes (docs/cost-model-journal.md,
// "The reload follows the trees' size"): the calibration's post-sleep measurement
// (src/measure/post_sleep.ts) on one random region per size, with the plan the calibration uses on
// its smaller regions (TREE_SIZE_PLAN: 100-page batches after sleeps of 5 and 20 ms, 1,000-page
// batches after 20 ms). Prints the rows the calibration would fit the reload's growth to, then the
// exponent they give (src/measure/reload_tree.ts, on the rows of REGION_PAGES pages and less, trees
// of REGION_PAGES nodes paying the whole reload); run it several times to see how far they move.
//
//   sudo node scripts/post-sleep-sizes.mjs [PAGES ...]      (default 2000 5000 20000)
//   sudo node scripts/post-sleep-sizes.mjs --unique-every K PAGES...   (one page in K random, the
//        others equal and merged: batches that search the trees for about 1/K of their pages)
//   node scripts/post-sleep-sizes.mjs --fit ROWS.jsonl...    (fit rows printed before; measures nothing)
//
// Prints one JSON line per row: the region, the batch, the sleep, the extra CPU of a batch (its
// median pass, and each pass), the warm pass and ksmd's run-queue wait; then one line with the
// fit. Needs a build, and root to measure; the kernel backend saves and restores every KSM file
// and ksmd's CPU list on every exit path.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'usage: sudo node scripts/post-sleep-sizes.mjs [--unique-every K] [PAGES ...]   (each a multiple of 1000; default 2000 5000 20000)\n' +
      '       --unique-every K: one page in K random, the others equal (they merge), so a batch searches the trees for about 1/K of its pages\n' +
      '       node scripts/post-sleep-sizes.mjs --fit ROWS.jsonl...  (the fit of rows this script printed)\n',
  );
  process.exit(0);
}
const fail = (message, code) => {
  process.stderr.write(`post-sleep-sizes: ${message}\n`);
  process.exit(code);
};
const { measurePostSleep, TREE_SIZE_PLAN: plan } = await import(join(root, 'dist/src/measure/post_sleep.js'));
const { fitReloadTreeOfRows } = await import(join(root, 'dist/src/measure/reload_tree.js'));

/**
 * The exponent the rows give, as the calibration fits it: rows of REGION_PAGES pages and less,
 * on random regions alone (fitReloadTreeOfRows leaves out regions of few unique pages).
 */
const fitLine = (rows) => {
  const fit = fitReloadTreeOfRows(rows.map((r) => ({ ...r, extra_ns: r.extra_us * 1000 })));
  return `${JSON.stringify({ fit: { ...fit.cost, rms_log: Math.round(fit.rmsLog * 1e4) / 1e4, points: fit.points } })}\n`;
};

if (args[0] === '--fit') {
  if (args.length < 2) fail('--fit needs the files of rows to fit', 2);
  const rows = [];
  for (const file of args.slice(1)) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      fail(`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, 2);
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let row;
      try {
        row = JSON.parse(line);
      } catch {
        fail(`${file} line ${i + 1} is not JSON`, 2);
      }
      if (row.fit !== undefined) return; // a fit line of an earlier run
      const fields = ['region_pages', 'pages_to_scan', 'sleep_millisecs', 'extra_us'];
      const missing = fields.filter((k) => typeof row[k] !== 'number');
      if (missing.length > 0) fail(`${file} line ${i + 1} has no number for ${missing.join(', ')}`, 2);
      rows.push(row);
    });
  }
  process.stdout.write(fitLine(rows));
  process.exit(0);
}

let uniqueEvery = 1;
const regionArgs = [...args];
if (regionArgs[0] === '--unique-every') {
  const k = regionArgs[1] ?? '';
  if (!/^\d+$/.test(k) || Number(k) < 1)
    fail(`--unique-every takes a whole number of pages, at least 1, not "${k}"`, 2);
  uniqueEvery = Number(k);
  regionArgs.splice(0, 2);
}
const sizes = regionArgs.length > 0 ? regionArgs.map(Number) : [2000, 5000, 20000];
const bad = regionArgs.find((a) => !/^\d+$/.test(a) || Number(a) < 1000 || Number(a) % 1000 !== 0);
if (bad !== undefined) fail(`a region is a whole number of 1,000-page batches, at least 1000 pages, not "${bad}"`, 2);
const odd = sizes.find((n) => n % uniqueEvery !== 0);
if (odd !== undefined) fail(`one page in ${uniqueEvery} unique does not divide a region of ${odd} pages`, 2);
try {
  const all = [];
  for (const regionPages of sizes) {
    const rows = await measurePostSleep(
      {
        lockWaitMs: 600_000,
        progress: (m) => process.stderr.write(`post-sleep-sizes: ${m}\n`),
        warn: (m) => process.stderr.write(`post-sleep-sizes: warning: ${m}\n`),
      },
      { regionPages, plan, uniqueEvery },
    );
    for (const r of rows) {
      const us = (ns) => Math.round(ns / 100) / 10;
      const row = {
        region_pages: r.region_pages,
        ...(r.unique_every === undefined ? {} : { unique_every: r.unique_every }),
        pages_to_scan: r.pages_to_scan,
        sleep_millisecs: r.sleep_millisecs,
        extra_us: us(r.extra_ns),
        extra_us_each: (r.extra_ns_each ?? []).map(us),
        warm_pass_ms: Math.round(r.warm_pass_cpu_ns / 1e4) / 100,
        queued_ms: r.queued_ms,
      };
      all.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  }
  process.stdout.write(fitLine(all));
} catch (e) {
  fail(e instanceof Error ? e.message : String(e), 1);
}
