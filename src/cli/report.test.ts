/**
 * Every kind of HTML report as the command line writes it (`samepage run|compare|stats|predict
 * --report`, through main), laid out and screenshotted in headless Chromium: what a reader's
 * browser shows. Each test checks the figures the report must carry, that no text of a chart
 * sticks out of it or is cut short, that time axes are in a human unit (never thousands of
 * ms) and byte axes in a binary one, and that no chart is empty. With SAMEPAGE_SCREENSHOTS=DIR
 * the screenshots are kept in DIR for a person to look at.
 *
 * Expected figures: the thesis's 5.1.1 workload is 2 x 5120 identical pages, which Linux's
 * max_page_sharing (256) merges into 40 KSM pages and 10200 sharing mappings; Figure 5-12 of
 * the thesis gives the duplicate counts of scenarios/thesis/5.3-desktop-mix.yaml.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromiumLayout,
  chromiumScreenshot,
  chromiumSkip,
  clippedTexts,
  type ReportLayout,
} from '../report/chromium_testing.ts';
import { writeSnapshot } from '../host/snapshot.ts';
import { formatDuration } from '../lib/duration.ts';
import { main } from './main.ts';
import { capture } from '../term/testing.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SCENARIOS = join(ROOT, 'scenarios');

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-cli-report-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes a report with `args` + --report through main (exit 0), and lays it out in Chromium. */
async function report(dir: string, name: string, args: readonly string[]): Promise<ReportLayout> {
  const file = join(dir, `${name}.html`);
  const c = capture();
  assert.equal(await main([...args, '--report', file], c.io), 0, c.err());
  assert.match(readFileSync(file, 'utf8'), /^<!DOCTYPE html>/);
  const layout = await chromiumLayout(file, dir);
  assert.doesNotMatch(layout.dom, /<parsererror/i);
  const png = await chromiumScreenshot(file, dir, name);
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
  assert.equal(png.readUInt32BE(16), 1200, 'screenshot width');
  assert.ok(png.length > 30_000, 'the screenshot is not a blank page');
  return layout;
}

/** The texts of the page's SVGs (multi-line texts joined by a space). */
function svgTexts(layout: ReportLayout): string[] {
  return layout.texts.map((t) => t.text);
}

/** The charts' titles, in page order. */
function chartTitles(layout: ReportLayout): string[] {
  return [...new Set(layout.texts.map((t) => `${t.svg}\u0000${t.chart}`))].map((k) => k.split('\u0000')[1]!);
}

/** The largest value of an axis described "... with values from A to B" (B; vega writes − and ,). */
function axisMax(label: string): number | undefined {
  const m = /values from \S+ to (\S+)$/.exec(label);
  return m === null ? undefined : Number(m[1]!.replace(/,/g, '').replace('−', '-'));
}

/**
 * What every report must hold to: no chart text outside its chart or cut short; time axes in
 * ms, s, min, h or days with values below 1000 of that unit; byte axes in a binary unit with
 * values below 2048 of it; every line drawn through more than one point.
 */
function checkCharts(layout: ReportLayout): void {
  assert.deepEqual(clippedTexts(layout), [], 'every text of every chart fits inside it');
  const time = layout.axes.filter((a) => /^X-axis titled '[^']*time[^']*' for a linear scale/.test(a));
  for (const a of time) {
    assert.match(a, /\((ms|s|min|h|days)\)' for a linear scale/, a);
    assert.ok((axisMax(a) ?? Number.POSITIVE_INFINITY) < 1000, `a time axis in a unit that keeps it short: ${a}`);
  }
  for (const a of layout.axes.filter((x) => /\((bytes|KiB|MiB|GiB|TiB)\)'/.test(x)))
    assert.ok(Math.abs(axisMax(a) ?? Number.POSITIVE_INFINITY) < 2048, `a byte axis in its binary unit: ${a}`);
  for (const m of layout.dom.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)) {
    const segments = (m[1]!.match(/[LHVC]/g) ?? []).length;
    assert.ok(segments >= 1, `a line through more than one point: ${m[1]!.slice(0, 60)}`);
  }
}

test(
  'run --report of a KSM scenario charts its counters as sampled at every change, in seconds and MiB',
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const layout = await report(dir, 'run-ksm', ['run', join(SCENARIOS, 'thesis-test-program.yaml')]);
      checkCharts(layout);
      assert.deepEqual(chartTitles(layout), [
        'KSM page counters over time',
        'Memory saved by KSM (general_profit)',
        'Merging pages per process',
        'Pages by copies of their content',
      ]);
      const texts = svgTexts(layout);
      assert.ok(texts.includes('virtual time since the start (s)'));
      assert.ok(texts.includes('general_profit (MiB)'));
      // The subtitle's second line says how the lines were sampled.
      assert.ok(
        texts.some((t) => t.endsWith('on modelline: sampled at every change the model made; dots: record steps')),
      );
      // ksmd merges test1's pages in one full scan and test2's in the next: each line climbs
      // batch by batch (100 pages a batch at pages_to_scan 100), not one straight ramp between records.
      const lines = [...layout.dom.matchAll(/aria-roledescription="line mark" d="([^"]*)"/g)].map(
        (m) => (m[1]!.match(/[LHV]/g) ?? []).length,
      );
      assert.ok(
        lines.filter((n) => n > 100).length >= 3,
        `lines of many steps (${lines.join(', ')} segments), not of the 2 records`,
      );
      // The record columns say when, in seconds; the profit is in MiB with its bytes in the tooltip.
      // (When depends on ksmd's clock, which the timing suite checks against the kernel.)
      assert.match(layout.dom, /<th scope="col">merged<br><span class="time">\d+\.\d\d s<\/span><\/th>/);
      assert.match(
        layout.dom,
        /<th scope="row">general_profit<\/th><td title="0 bytes">0 B<\/td><td title="41123840 bytes">39\.2 MiB<\/td>/,
      );
      assert.match(layout.dom, /<tr class="key"><th scope="row">pages_sharing<\/th><td>0<\/td><td>10200<\/td><\/tr>/);
      assert.doesNotMatch(layout.dom, /<caption>\/sys\/kernel\/mm\/ksm\+<\/caption>/, 'no table of an idle KSM+');
    }),
);

test(
  "run --report of a KSM+ scenario charts KSM+'s counters, the thesis's figures and the duplicate histogram",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const layout = await report(dir, 'run-ksmplus', [
        'run',
        join(SCENARIOS, 'thesis', '5.1.1-ksmplus-test-program.yaml'),
      ]);
      checkCharts(layout);
      assert.deepEqual(chartTitles(layout), [
        'KSM+ page counters over time',
        'KSM+ rmap_items over time',
        'Memory saved by KSM+ (general_profit)',
        'Merging pages per process',
        'Pages by copies of their content',
      ]);
      // The 40 KSM pages' 10200 mappings, in the ksm+ table (from 65 s on: how far the daemon
      // is at 62 s depends on its cadence) and beside the thesis's "about 40 MB".
      assert.match(
        layout.dom,
        /<th scope="row">pages_sharing<\/th><td>0<\/td><td>\d+<\/td><td>10200<\/td><td>10200<\/td>/,
      );
      assert.match(layout.dom, /<th scope="row">KSM\+: pages saved \(pages_sharing\)<\/th><td>10200 pages/);
      assert.match(layout.dom, /about 65\.0 s/);
      assert.match(layout.dom, /<span class="time">1 min 02 s<\/span>/, 'the record at 62 s');
      // 10240 identical pages: one content with 10240 copies in the histogram, on a log axis of decades.
      const texts = svgTexts(layout);
      assert.ok(texts.includes('10,240'), 'the histogram bar of the one content');
      for (const tick of ['1', '10', '100', '1,000', '10,000']) assert.ok(texts.includes(tick), `log tick ${tick}`);
    }),
);

test(
  "compare --report puts the side-by-side table and chart (each panel's unit its own), the thesis's figures and both runs in one page",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const layout = await report(dir, 'compare', ['compare', join(SCENARIOS, 'thesis', '5.1.1-workload.yaml')]);
      checkCharts(layout);
      const texts = svgTexts(layout);
      assert.match(layout.dom, /<h2>Side by side<\/h2>/);
      // Panel headers wrap to fit their panel, and a header's lines run together in textContent.
      const squeezed = texts.map((t) => t.replace(/\s/g, ''));
      for (const panel of [
        'merged pages (pages)',
        'pages saved (pages)',
        'rmap_items (items)',
        'profit (MiB)',
        'time until merged (s)',
        'rmap_items settle time (s)',
        'scanner CPU (ms)',
      ]) {
        assert.ok(squeezed.includes(panel.replace(/\s/g, '')), `comparison panel "${panel}"`);
      }
      // 41123840 bytes of profit are 39.2 MiB. The times until merged follow ksmd's clock (the
      // timing suite checks it against the kernel): the bars must carry the result's own
      // figures, to 3 significant digits, as `compare --json` gives them.
      const c = capture();
      assert.equal(await main(['compare', join(SCENARIOS, 'thesis', '5.1.1-workload.yaml'), '--json'], c.io), 0);
      const results = (JSON.parse(c.out()) as { results: Array<{ policy: string; settle_s: number }> }).results;
      const bar = (v: number) => Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 20 });
      const settle = results.map((r) => bar(r.settle_s));
      assert.equal(settle.length, 2, 'KSM and KSM+');
      for (const label of ['39.2', ...settle, '10,200']) assert.ok(texts.includes(label), `bar label ${label}`);
      assert.ok(texts.includes('KSM+ (thesis)'), "the thesis's bars beside samepage's");
      assert.match(
        layout.dom,
        /<th scope="row">pages saved \(pages_sharing\)<\/th><td>10200 \(39\.8 MiB\)<\/td><td>10200 \(39\.8 MiB\)<\/td>/,
      );
      assert.match(
        layout.dom,
        new RegExp(
          `<th scope="row">virtual time until merged pages settled</th>${results.map((r) => `<td>${formatDuration(r.settle_s * 1e9)}</td>`).join('')}`,
        ),
      );
      assert.match(layout.dom, /<h2>Thesis 5\.1\.1:/);
      // One run per policy, each with its own scanner's charts, and the histogram once.
      assert.match(layout.dom, /on model, ksm<\/span>/);
      assert.match(layout.dom, /on model, ksm\+<\/span>/);
      const titles = chartTitles(layout);
      assert.equal(titles.filter((t) => t === 'KSM page counters over time').length, 1);
      assert.equal(titles.filter((t) => t === 'KSM+ page counters over time').length, 1);
      assert.equal(titles.filter((t) => t === 'Pages by copies of their content').length, 1);
      // KSM+ runs for 6 min 55 s of virtual time: its charts' axes are in minutes.
      assert.ok(layout.axes.some((a) => a.startsWith("X-axis titled 'virtual time since the start (min)'")));
    }),
);

test(
  "stats --report draws the histogram of the thesis's Figure 5-12 mix, keeps the per-process table and draws no empty chart",
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const layout = await report(dir, 'stats', ['stats', join(SCENARIOS, 'thesis', '5.3-desktop-mix.yaml')]);
      checkCharts(layout);
      const texts = svgTexts(layout);
      // Figure 5-12: 13249 pages without duplicate, 2746 all-ones pages.
      for (const label of ['13,249', '2,746', '1 (no duplicate)', '1000 or more', 'ones', 'zero'])
        assert.ok(texts.includes(label), label);
      // The scenario never runs KSM: no flat chart of it, a sentence instead.
      assert.deepEqual(chartTitles(layout), ['Pages by copies of their content']);
      assert.match(layout.dom, /KSM's page counters stayed at 0 throughout|Nothing to chart over time/);
      // 3284 pages merging would free are 12.8 MiB; each of the four okular processes in the table.
      assert.match(layout.dom, /<th scope="row">pages merging would free<\/th><td>3284<\/td><td>12\.8 MiB<\/td>/);
      // 16560 pages x 4096 B = 64.69 MiB.
      assert.match(layout.dom, /<th scope="row">pages counted<\/th><td>16560<\/td><td>64\.7 MiB<\/td>/);
      assert.match(layout.dom, /<caption>per process<\/caption>/);
      assert.equal((layout.dom.match(/<td class="text">okular<\/td>/g) ?? []).length, 4, 'four okular rows');
      // The KSM+ figures stats does not measure: '-', and where they come from said once.
      assert.equal((layout.dom.match(/\(see samepage compare/g) ?? []).length, 0);
      assert.equal(
        (layout.dom.match(/The KSM\+ figures marked - come from samepage compare [^<]*5\.3-desktop-mix\.yaml\./g) ?? [])
          .length,
        1,
      );
    }),
);

/**
 * Two processes of 228 pages: 128 alike in both (every one the same content), 100 of their
 * own. Linux's max_page_sharing (256) lets one KSM page stand for all 256 alike pages:
 * pages_shared 1, pages_sharing 255; every page scanned gets an rmap_item of 64 bytes.
 */
function snapshot(dir: string): string {
  const file = join(dir, 'two.snap');
  const same = Buffer.alloc(4096, 0x5a);
  writeSnapshot(
    file,
    [1, 2].map((pid) => {
      const base = 0x7f00_0000_0000 + pid * 0x1000_0000;
      const own = Buffer.alloc(100 * 4096);
      for (let i = 0; i < 100; i++) own.writeUInt32LE(pid * 1000 + i + 1, i * 4096);
      return {
        pid,
        comm: 'app',
        vmas: [{ start: base, end: base + 228 * 4096, perms: 'rw-p', offset: 0, path: '' }],
        pages: function* () {
          for (let i = 0; i < 128; i++) yield { address: base + i * 4096, buffer: same, offset: 0 };
          for (let i = 0; i < 100; i++) yield { address: base + (128 + i) * 4096, buffer: own, offset: i * 4096 };
        },
      };
    }),
  );
  return file;
}

test(
  'stats SNAPSHOT --report draws the histogram of a snapshot, its figures and a row per process',
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const snap = snapshot(dir);
      const layout = await report(dir, 'stats-snapshot', ['stats', snap]);
      checkCharts(layout);
      assert.deepEqual(chartTitles(layout), ['Pages by copies of their content']);
      assert.match(layout.dom, /<h1>Duplicate pages of [^<]*two\.snap<\/h1>/);
      // 456 pages: 256 of one content (128 in each process), 200 each its own; merging the
      // 256 frees 255 pages (1020 KiB); each process alone would free 127 of its 128.
      assert.match(layout.dom, /<th scope="row">pages counted<\/th><td>456<\/td><td>1\.8 MiB<\/td>/);
      assert.match(layout.dom, /<th scope="row">pages without duplicate<\/th><td>200<\/td><td>43\.9 %<\/td>/);
      assert.match(layout.dom, /<th scope="row">pages merging would free<\/th><td>255<\/td><td>1020\.0 KiB<\/td>/);
      const rows = [...layout.dom.matchAll(/<tr><th scope="row">([12])<\/th>(.*?)<\/tr>/g)].map((m) =>
        m[2]!.replace(/<[^>]*>/g, '|'),
      );
      assert.equal(rows.length, 2, 'a row per process');
      for (const r of rows) assert.match(r, /app.*228 \(912\.0 KiB\).*128 \(512\.0 KiB\).*127 \(508\.0 KiB\)/);
    }),
);

test(
  'predict --report shows the prediction first: the saving, its cost, the time to settle and the CPU, with charts',
  { skip: chromiumSkip(), timeout: 180_000 },
  () =>
    withDir(async (dir) => {
      const snap = snapshot(dir);
      const layout = await report(dir, 'predict', ['predict', snap]);
      checkCharts(layout);
      // 255 pages freed (1044480 bytes), less 456 rmap_items of 64 bytes (29184): 1015296 bytes of profit.
      const cards = [...layout.dom.matchAll(/<div class="what">([^<]*)<\/div><div class="value">([^<]*)<\/div>/g)].map(
        (m) => [m[1], m[2]],
      );
      assert.equal(cards.length, 4);
      assert.deepEqual(cards[0], ['memory merging frees', '1020.0 KiB']);
      assert.deepEqual(cards[1], ['net saving (general_profit)', '991.5 KiB']);
      assert.equal(cards[2]?.[0], 'virtual time to settle');
      assert.match(cards[2]?.[1] ?? '', /^[\d.]+ (ms|s)$/);
      assert.equal(cards[3]?.[0], 'ksmd CPU');
      assert.match(cards[3]?.[1] ?? '', /^[\d.]+ (µs|ms|s)$/);
      assert.match(layout.dom, /255 pages, 55\.9 % of the 456 pages/);
      assert.match(layout.dom, /after 28\.5 KiB of metadata \(456 rmap_items\)/);
      // The settle time is when the counters last changed; the quiet scans after it are the rest of the run.
      assert.match(layout.dom, /<div class="detail">unchanged after it: \d+ full scans in [\d.]+ (ms|s)<\/div>/);
      assert.match(layout.dom, /<th scope="col">value<\/th><th scope="col">in other terms<\/th>/);
      assert.match(layout.dom, /ok: the run finished \(it has no expects to check\)/);
      assert.doesNotMatch(layout.dom, /0 expects held/);
      assert.deepEqual(chartTitles(layout).slice(0, 3), [
        'Memory KSM saves over time',
        'CPU time of ksmd since the start',
        'Merged pages per process',
      ]);
      // The run's tables hold the record before the policy and the settled one (--json has every scan).
      assert.match(layout.dom, /<th scope="col">loaded<br>/);
      assert.match(layout.dom, /<th scope="col">settled<br>/);
      assert.doesNotMatch(layout.dom, /<th scope="col">scan 1<br>/);
    }),
);
