/**
 * scripts/post-sleep-sizes.mjs as its users run it, without the live machine: the fit of rows
 * it printed before (--fit), and bad arguments and bad files refused with a message and exit 2
 * before anything on the machine is touched. (Its measurement needs root and a quiet machine:
 * it is a benchmark, docs/cost-model-journal.md "The reload follows the trees' size".)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';
import { passTreeShare } from '../src/measure/reload_tree.ts';

const ROOT = packageRoot(import.meta.dirname);
const SCRIPT = join(ROOT, 'scripts', 'post-sleep-sizes.mjs');
const KEPT = join(ROOT, 'bench', 'results', 'post-sleep-sizes-2026-12-05T0516.jsonl');

const sizes = (...args: string[]) => spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });

interface FitLine {
  fit: { postSleepTreeExp: number; postSleepTreeNodes: number; rms_log: number; points: number };
}

/** The script's last line of output: its fit. */
const fitOf = (stdout: string): FitLine['fit'] => (JSON.parse(stdout.trim().split('\n').at(-1)!) as FitLine).fit;

test('post-sleep-sizes --fit gives back the exponent rows were made with', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-sizes-'));
  try {
    // Each row's extra: a base of its batch and sleep times its pass's share at exponent 0.3,
    // and rows of 40,000 pages, past the calibration's region, which the fit leaves out.
    const tree = { postSleepTreeExp: 0.3, postSleepTreeNodes: 20_000 };
    const rows = [2000, 5000, 10_000, 20_000, 40_000].flatMap((region) =>
      [
        [100, 5, 200],
        [100, 20, 400],
        [1000, 20, 900],
      ].map(([pages, sleep, base]) => ({
        region_pages: region,
        pages_to_scan: pages,
        sleep_millisecs: sleep,
        extra_us: region > 20_000 ? 1 : base! * passTreeShare(tree, region, pages!),
      })),
    );
    const file = join(dir, 'rows.jsonl');
    writeFileSync(file, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const out = sizes('--fit', file);
    assert.equal(out.status, 0, out.stderr);
    const fit = fitOf(out.stdout);
    assert.equal(fit.postSleepTreeExp, 0.3);
    assert.equal(fit.postSleepTreeNodes, 20_000);
    assert.equal(fit.points, 12);
    assert.ok(fit.rms_log < 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('post-sleep-sizes --fit reads the rows kept in bench/results', () => {
  const out = sizes('--fit', KEPT);
  assert.equal(out.status, 0, out.stderr);
  const fit = fitOf(out.stdout);
  // Three runs of 2,000 to 20,000 pages, three rows each (the 40,000-page rows left out).
  assert.equal(fit.points, 36);
  assert.ok(fit.postSleepTreeExp > 0 && fit.postSleepTreeExp < 1.5, `exponent ${fit.postSleepTreeExp}`);
});

test('post-sleep-sizes refuses bad regions and bad files with a message and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-sizes-'));
  try {
    const region = sizes('1500');
    assert.equal(region.status, 2);
    assert.match(region.stderr, /a region is a whole number of 1,000-page batches.*"1500"/);
    const missing = sizes('--fit', join(dir, 'none.jsonl'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read .*none\.jsonl/);
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"region_pages": 2000, "pages_to_scan": 100}\n');
    const bad = sizes('--fit', file);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.jsonl line 1 has no number for sleep_millisecs, extra_us/);
    writeFileSync(file, 'region 2000\n');
    assert.match(sizes('--fit', file).stderr, /line 1 is not JSON/);
    assert.equal(sizes('--fit').status, 2);
    const every = sizes('--unique-every', 'ten', '2000');
    assert.equal(every.status, 2);
    assert.match(every.stderr, /--unique-every takes a whole number of pages, at least 1, not "ten"/);
    assert.match(sizes('--unique-every', '3', '2000').stderr, /one page in 3 unique does not divide a region of 2000/);
    // Rows of a region of few unique pages are another tree: --fit leaves them out.
    writeFileSync(
      file,
      `${JSON.stringify({ region_pages: 2000, unique_every: 10, pages_to_scan: 100, sleep_millisecs: 20, extra_us: 300 })}\n`,
    );
    const few = sizes('--fit', file);
    assert.equal(few.status, 0, few.stderr);
    assert.equal(fitOf(few.stdout).points, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
