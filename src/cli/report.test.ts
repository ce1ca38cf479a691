/**
 * The HTML reports as the command line writes them (`samepage run|compare|stats --report`,
 * through main), checked in headless Chromium: what a reader's browser builds from the file.
 * Expected figures: the thesis's 5.1.1 workload is 2 x 5120 identical pages, which Linux's
 * max_page_sharing (256) merges into 40 KSM pages and 10200 sharing mappings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumDom, chromiumSkip } from '../report/chromium_testing.ts';
import { main } from './main.ts';
import { capture } from './testing.ts';

const SCENARIOS = join(import.meta.dirname, '..', '..', '..', 'scenarios', 'thesis');

/** The <text> labels of the SVGs in a DOM. */
function svgTexts(dom: string): string[] {
  return [...dom.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-cli-report-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  "run --report of a KSM+ scenario charts KSM+'s counters, the thesis's figures and the duplicate histogram",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const file = join(dir, 'run.html');
      const c = capture();
      assert.equal(
        await main(['run', join(SCENARIOS, '5.1.1-ksmplus-test-program.yaml'), '--report', file], c.io),
        0,
        c.err(),
      );
      assert.match(readFileSync(file, 'utf8'), /^<!DOCTYPE html>/);
      const dom = await chromiumDom(file, dir);
      const texts = svgTexts(dom);
      for (const title of [
        'KSM+ page counters over time',
        'KSM+ rmap_items over time',
        'Memory saved by KSM+ (general_profit)',
        'Merging pages per process',
        'Pages by copies of their content',
      ]) {
        assert.ok(texts.includes(title), `chart "${title}" is drawn`);
      }
      assert.ok(!texts.includes('KSM page counters over time'), 'no flat chart of KSM, which did not run');
      assert.equal((dom.match(/<svg\b/g) ?? []).length, 5);
      // The 40 KSM pages' 10200 mappings, in the ksm+ table (from 65 s on: how far the daemon
      // is at 62 s depends on its cadence) and beside the thesis's "about 40 MB".
      assert.match(dom, /<th scope="row">pages_sharing<\/th><td>0<\/td><td>\d+<\/td><td>10200<\/td><td>10200<\/td>/);
      assert.match(dom, /<th scope="row">KSM\+: pages saved \(pages_sharing\)<\/th><td>10200 pages/);
      assert.match(dom, /about 65\.0 s/);
      // 10240 identical pages: one content with 10240 copies in the histogram.
      assert.ok(texts.includes('10,240'), 'the histogram bar of the one content');
      assert.doesNotMatch(dom, /<parsererror|<script/i);
    }),
);

test(
  "compare --report puts the side-by-side table and chart, the thesis's figures and both runs in one page",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const file = join(dir, 'compare.html');
      const c = capture();
      assert.equal(await main(['compare', join(SCENARIOS, '5.1.1-workload.yaml'), '--report', file], c.io), 0, c.err());
      const dom = await chromiumDom(file, dir);
      const texts = svgTexts(dom);
      assert.match(dom, /<h2>Side by side<\/h2>/);
      for (const panel of [
        'merged pages (pages)',
        'pages saved (pages)',
        'rmap_items (items)',
        'time until merged (s)',
      ]) {
        assert.ok(texts.includes(panel), `comparison panel "${panel}"`);
      }
      assert.ok(texts.includes('KSM+ (thesis)'), "the thesis's bars beside samepage's");
      assert.match(
        dom,
        /<th scope="row">pages saved \(pages_sharing\)<\/th><td>10200 \(39\.8 MiB\)<\/td><td>10200 \(39\.8 MiB\)<\/td>/,
      );
      assert.match(dom, /<h2>Thesis 5\.1\.1:/);
      // One run per policy, each with its own scanner's charts, and the histogram once.
      assert.match(dom, /on model, ksm<\/span>/);
      assert.match(dom, /on model, ksm\+<\/span>/);
      assert.equal(texts.filter((t) => t === 'KSM page counters over time').length, 1);
      assert.equal(texts.filter((t) => t === 'KSM+ page counters over time').length, 1);
      assert.equal(texts.filter((t) => t === 'Pages by copies of their content').length, 1);
      assert.doesNotMatch(dom, /<parsererror|<script/i);
    }),
);

test(
  "stats --report draws the histogram of the thesis's Figure 5-12 mix",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const file = join(dir, 'stats.html');
      const c = capture();
      assert.equal(await main(['stats', join(SCENARIOS, '5.3-desktop-mix.yaml'), '--report', file], c.io), 0, c.err());
      const texts = svgTexts(await chromiumDom(file, dir));
      // Figure 5-12: 13249 pages without duplicate, 2746 all-ones pages.
      for (const label of ['13,249', '2,746', '1 (no duplicate)', '1000 or more', 'ones', 'zero'])
        assert.ok(texts.includes(label), label);
    }),
);
