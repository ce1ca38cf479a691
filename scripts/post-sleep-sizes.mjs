#!/usr/bin/env node
// How much more ksmd's batch costs after a sleep on regions of different sizes (docs/cost-model.md,
// "The reload follows the trees' size"): the calibration's post-sleep measurement
// (src/measure/post_sleep.ts) on one random region per size, with the plan the calibration uses on
// its smaller regions (TREE_SIZE_PLAN: 100-page batches after sleeps of 5 and 20 ms, 1,000-page
// batches after 20 ms). Prints the rows the calibration would fit the reload's growth to; run it
// several times to see how far they move.
//
//   sudo node scripts/post-sleep-sizes.mjs [PAGES ...]      (default 2000 5000 20000)
//
// Prints one JSON line per row: the region, the batch, the sleep, the extra CPU of a batch (its
// median pass, and each pass), the warm pass and ksmd's run-queue wait. Needs a build and root;
// the kernel backend saves and restores every KSM file and ksmd's CPU list on every exit path.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(
    'usage: sudo node scripts/post-sleep-sizes.mjs [PAGES ...]   (each a multiple of 1000; default 2000 5000 20000)\n',
  );
  process.exit(0);
}
const sizes = args.length > 0 ? args.map(Number) : [2000, 5000, 20000];
const bad = args.find((a) => !/^\d+$/.test(a) || Number(a) < 1000 || Number(a) % 1000 !== 0);
if (bad !== undefined) {
  process.stderr.write(
    `post-sleep-sizes: a region is a whole number of 1,000-page batches, at least 1000 pages, not "${bad}"\n`,
  );
  process.exit(2);
}
const { measurePostSleep, TREE_SIZE_PLAN: plan } = await import(join(root, 'dist/src/measure/post_sleep.js'));
try {
  for (const regionPages of sizes) {
    const rows = await measurePostSleep(
      {
        lockWaitMs: 600_000,
        progress: (m) => process.stderr.write(`post-sleep-sizes: ${m}\n`),
        warn: (m) => process.stderr.write(`post-sleep-sizes: warning: ${m}\n`),
      },
      { regionPages, plan },
    );
    for (const r of rows) {
      const us = (ns) => Math.round(ns / 100) / 10;
      process.stdout.write(
        `${JSON.stringify({
          region_pages: regionPages,
          pages_to_scan: r.pages_to_scan,
          sleep_millisecs: r.sleep_millisecs,
          extra_us: us(r.extra_ns),
          extra_us_each: (r.extra_ns_each ?? []).map(us),
          warm_pass_ms: Math.round(r.warm_pass_cpu_ns / 1e4) / 100,
          queued_ms: r.queued_ms,
        })}\n`,
      );
    }
  }
} catch (e) {
  process.stderr.write(`post-sleep-sizes: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
