import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CounterRecord, ProcRecord, RunResult } from '../scenario/records.ts';
import { comparisonChart, histogramChart, renderSvg, renumberSvgIds } from './charts.ts';
import { countersChart, profitChart } from './time_charts.ts';
import { runSamples } from './series.ts';
import { escapeHtml, renderHtmlReport } from './html.ts';
import { chromium, chromiumSkip } from './chromium_testing.ts';

function proc(merging: number, rss: number): ProcRecord {
  return {
    ksm_rmap_items: rss,
    ksm_zero_pages: 0,
    ksm_merging_pages: merging,
    ksm_process_profit: merging * 4096 - rss * 64,
    ksm_merge_any: false,
    ksm_mergeable: true,
    rss_pages: rss,
  };
}

function record(
  label: string,
  time_ms: number,
  shared: number,
  sharing: number,
  merging: readonly [number, number],
): CounterRecord {
  return {
    label,
    time_ms,
    ksm: {
      run: 1,
      pages_shared: shared,
      pages_sharing: sharing,
      pages_unshared: 512 - shared - sharing,
      pages_volatile: 0,
      pages_scanned: time_ms * 5,
      full_scans: time_ms / 100,
      ksm_zero_pages: 0,
      general_profit: sharing * 4096 - 512 * 64,
      advisor_mode: 'none',
    },
    procs: { parent: proc(merging[0], 256), '<child&>': proc(merging[1], 256) },
  };
}

/** A small run by hand: three records, a process name that needs escaping, one failed expect. */
const RUN: RunResult = {
  scenario: 'fork-then-merge <&>',
  backend: 'model',
  ok: false,
  records: [
    record('before', 0, 0, 0, [0, 0]),
    record('half "way"', 200, 37, 219, [131, 125]),
    { ...record('merged', 400, 61, 451, [256, 256]), ksmplus: { processes_to_scan: 'test', pages_sampled: 77 } },
  ],
  expects: [
    { step: 7, path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 400', actual: 451, ok: true },
    { step: 8, path: '/proc/<child&>/ksm_merging_pages', expected: 300, actual: 256, ok: false },
  ],
  calls: [{ step: 3, call: 'madvise', proc: 'parent', result: 0 }],
};

const EXTRA_HIST = histogramChart(
  [
    { label: '1', count: 900, class: 'unique' },
    { label: '2', count: 300, class: 'duplicate' },
    { label: '2', count: 40, class: 'zero' },
    { label: '3–10', count: 120, class: 'duplicate' },
  ],
  { title: 'Duplicate pages by copies', xTitle: 'copies of a page content', yTitle: 'pages', classTitle: 'page class' },
);

const EXTRA_COMPARISON = comparisonChart(
  [
    { metric: 'pages saved', unit: 'pages', policy: 'KSM', value: 451 },
    { metric: 'pages saved', unit: 'pages', policy: 'KSM+', value: 440 },
    { metric: 'pages scanned', unit: 'pages', policy: 'KSM', value: 2000 },
    { metric: 'pages scanned', unit: 'pages', policy: 'KSM+', value: 300 },
  ],
  { title: 'KSM vs KSM+' },
);

async function report(): Promise<string> {
  return renderHtmlReport({
    title: 'Report of <fork-then-merge> & friends',
    runs: [RUN],
    extraSections: [
      { title: 'Duplicate-page statistics', svg: await renderSvg(EXTRA_HIST) },
      {
        title: 'KSM vs KSM+',
        svg: await renderSvg(EXTRA_COMPARISON),
        html: `<p>${escapeHtml('KSM+ scans <15%> of the pages')}</p>`,
      },
    ],
  });
}

/** HTML elements that never have a closing tag. */
const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr', 'area', 'base', 'source']);

/** Checks that tags nest and close (SVG self-closing tags allowed); returns the problems found. */
function tagProblems(html: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  const withoutStyle = html.replace(/<style>[\s\S]*?<\/style>/g, '<style></style>');
  for (const m of withoutStyle.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, closing, rawName, , selfClosing] = m;
    const name = (rawName ?? '').toLowerCase();
    if (closing === '/') {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}> at ${m.index}`);
    } else if (selfClosing !== '/' && !VOID.has(name)) {
      stack.push(name);
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  return problems;
}

test('renderSvg renders a chart to the same SVG every time, with vega marks and no DOM', async () => {
  const spec = countersChart(runSamples(RUN));
  const first = await renderSvg(spec);
  const second = await renderSvg(spec);
  assert.equal(first, second);
  assert.match(first, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(first, /class="mark-line role-mark/);
  assert.match(first, /class="mark-symbol role-mark/);
  assert.match(first, />KSM page counters over time</);
  assert.match(first, />pages \(4 KiB each\)</);
  assert.match(first, />virtual time since the start \(ms\)</);
  assert.match(first, /font-family="DejaVu Sans, /);
  assert.match(first, /&lt;child&amp;&gt;|pages_sharing/, 'text comes out escaped');
  assert.doesNotMatch(first, /<script/);
});

test('countersChart leaves out counters a record does not report', () => {
  const partial: CounterRecord = { label: 'x', time_ms: 5, ksm: { pages_shared: 3, advisor_mode: 'none' }, procs: {} };
  const spec = countersChart(runSamples({ records: [partial] })) as { data: { values: unknown[] } };
  assert.deepEqual(spec.data.values, [{ t: 5, record: 'x', series: 'pages_shared', value: 3 }]);
});

test('profitChart picks the binary unit of the largest general_profit', () => {
  const at = (bytes: number): CounterRecord => ({ label: 'r', time_ms: 0, ksm: { general_profit: bytes }, procs: {} });
  const yTitle = (bytes: number): unknown => {
    const spec = profitChart(runSamples({ records: [at(-1000), at(bytes)] })) as unknown as {
      layer: Array<{ encoding: { y: { title?: string } } }>;
    };
    return spec.layer[1]?.encoding.y.title;
  };
  assert.equal(yTitle(0), 'general_profit (bytes)');
  assert.equal(yTitle(41123840), 'general_profit (MiB)');
  assert.equal(yTitle(3 * 1024 ** 3), 'general_profit (GiB)');
});

test('histogram and comparison specs render bars with their values written on them', async () => {
  const hist = await renderSvg(EXTRA_HIST);
  assert.match(hist, /class="mark-rect role-mark/);
  assert.match(hist, />340</, 'the stacked bar "2" shows its total');
  assert.match(hist, />page class</);
  const comparison = await renderSvg(EXTRA_COMPARISON);
  assert.match(comparison, /class="mark-rect role-mark/);
  // The panel's header wraps to fit the panel: "pages saved" over "(pages)".
  assert.match(comparison, /<tspan>pages saved<\/tspan><tspan[^>]*>\(pages\)<\/tspan>/);
  assert.match(comparison, />2,000</);
});

test('renumberSvgIds renames ids and their references with a prefix', () => {
  const svg =
    '<svg><defs><clipPath id="clip7"><rect/></clipPath><linearGradient id="g1"/></defs>' +
    '<g clip-path="url(#clip7)"><path fill="url(#g1)"/><use href="#g1"/></g></svg>';
  assert.equal(
    renumberSvgIds(svg, 'run1-x'),
    '<svg><defs><clipPath id="run1-x-1"><rect/></clipPath><linearGradient id="run1-x-2"/></defs>' +
      '<g clip-path="url(#run1-x-1)"><path fill="url(#run1-x-2)"/><use href="#run1-x-2"/></g></svg>',
  );
});

test('renderHtmlReport writes one static, well-formed page with verdict, counters, charts and expects', async () => {
  const html = await report();
  assert.equal(html, await report(), 'the same input gives the same bytes');
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(html, /<title>Report of &lt;fork-then-merge&gt; &amp; friends<\/title>/);
  assert.match(html, /<h1>Report of &lt;fork-then-merge&gt; &amp; friends<\/h1>/);
  assert.deepEqual(tagProblems(html), []);
  const svgs = html.match(/<svg\b/g) ?? [];
  assert.equal(svgs.length, 5, 'three run charts and two extra sections');
  assert.equal((html.match(/<\/svg>/g) ?? []).length, svgs.length, 'every <svg> closed');
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*"(?!#)/, 'no link leaves the page');
  assert.doesNotMatch(html, /url\((?!#)/, 'no external CSS or SVG resource');
  const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'element ids are unique in the page');

  assert.match(html, /<dt>Scenario<\/dt><dd>fork-then-merge &lt;&amp;&gt;<\/dd>/);
  assert.match(html, /<dt>Backend<\/dt><dd>model<\/dd>/);
  assert.match(html, /class="verdict fail">✗ FAILED: 1 of 2 expects failed</);
  assert.match(html, /<caption>\/sys\/kernel\/mm\/ksm<\/caption>/);
  assert.match(html, /<th scope="col">half &quot;way&quot;<br><span class="time">200 ms<\/span><\/th>/);
  assert.match(html, /<tr class="key"><th scope="row">pages_sharing<\/th><td>0<\/td><td>219<\/td><td>451<\/td><\/tr>/);
  assert.match(html, /<tr><th scope="row">advisor_mode<\/th><td>none<\/td><td>none<\/td><td>none<\/td><\/tr>/);
  assert.match(html, /<caption>\/proc\/&lt;child&amp;&gt;\/ksm_stat<\/caption>/);
  assert.match(html, /<caption>\/sys\/kernel\/mm\/ksm\+<\/caption>/);
  assert.match(
    html,
    /<th scope="row">pages_sampled<\/th><td class="missing">–<\/td><td class="missing">–<\/td><td>77<\/td>/,
  );
  assert.match(
    html,
    /<li class="pass"><span class="mark">✓<\/span> step 7 <code>\/sys\/kernel\/mm\/ksm\/pages_sharing<\/code>: expected <code>&gt;= 400<\/code>, actual <code>451<\/code><\/li>/,
  );
  assert.match(
    html,
    /<li class="fail"><span class="mark">✗<\/span> step 8 <code>\/proc\/&lt;child&amp;&gt;\/ksm_merging_pages<\/code>/,
  );
  assert.match(html, /<h2>Duplicate-page statistics<\/h2>/);
  assert.match(html, /<p>KSM\+ scans &lt;15%&gt; of the pages<\/p>/);
});

test('renderHtmlReport says when a run has no records or expects, and links runs when there are several', async () => {
  const empty: RunResult = {
    scenario: 'empty',
    backend: 'kernel',
    ok: false,
    records: [],
    expects: [],
    error: 'wait: ksmd is stopped',
  };
  const html = await renderHtmlReport({ title: 'Two runs', runs: [RUN, empty] });
  assert.match(html, /<a href="#run-1">fork-then-merge &lt;&amp;&gt;<\/a> on model/);
  assert.match(
    html,
    /<a href="#run-2">empty<\/a> on kernel: <span class="fail">FAILED: the run stopped at wait: ksmd is stopped<\/span>/,
  );
  assert.match(html, /<p class="error"><strong>The run stopped early:<\/strong> wait: ksmd is stopped<\/p>/);
  assert.match(html, /No records: add <code>record<\/code> steps/);
  assert.match(html, /The scenario has no expect steps\./);
  assert.deepEqual(tagProblems(html), []);
});

test('renderHtmlReport draws the charts first and says under them what it left out and why', async () => {
  // KSM merged pages (pages_sharing moved) but no process counts a merging page: no such chart.
  const noMerging: RunResult = {
    ...RUN,
    records: RUN.records.map((r) => ({
      ...r,
      procs: Object.fromEntries(Object.entries(r.procs).map(([k, p]) => [k, { ...p, ksm_merging_pages: 0 }])),
    })),
  };
  const html = await renderHtmlReport({ title: 'no merging', runs: [noMerging] });
  const charts = html.indexOf('<div class="charts">');
  const note = html.indexOf('<p class="none">ksm_merging_pages stayed 0 in every process, so it is not charted.</p>');
  assert.ok(charts > 0 && note > charts, 'the note comes after the charts drawn');
  assert.doesNotMatch(html, /chart-merging/);
  assert.match(html, /chart-counters/);
});

test('renderHtmlReport refuses extra sections that would run code or fetch something', async () => {
  const bad = [
    { title: 't', html: '<script>alert(1)</script>' },
    { title: 't', html: '<img src="https://example.org/x.png">' },
    { title: 't', svg: '<svg><rect onclick="x()"/></svg>' },
    { title: 't', svg: '<svg><image href="http://example.org/a.png"/></svg>' },
    { title: 't', html: '<div style="background: url(//example.org/a.png)"></div>' },
  ];
  for (const section of bad) {
    await assert.rejects(
      renderHtmlReport({ title: 'x', runs: [], extraSections: [section] }),
      /static report/,
      JSON.stringify(section),
    );
  }
  const fine = await renderHtmlReport({
    title: 'x',
    runs: [],
    extraSections: [{ title: 't', html: '<p>one = two, <a href="#run-1">run</a></p>' }],
  });
  assert.match(fine, /one = two/);
});

test('the report renders in headless Chromium with its SVG charts, marks and counter values', {
  skip: chromiumSkip(),
  timeout: 180_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-report-'));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, await report());
    const url = pathToFileURL(file).href;

    const dom = await chromium(['--dump-dom', url], dir);
    // What the browser built from the file, not the file itself.
    assert.match(dom, /<title>Report of &lt;fork-then-merge&gt; &amp; friends<\/title>/);
    assert.equal((dom.match(/<svg\b/g) ?? []).length, 5, 'five SVG charts in the DOM');
    assert.equal((dom.match(/<\/svg>/g) ?? []).length, 5);
    assert.ok((dom.match(/<path [^>]*\bd="M[^"]+"/g) ?? []).length > 20, 'lines and symbols have drawn paths');
    for (const mark of ['mark-line', 'mark-symbol', 'mark-rect', 'mark-text', 'mark-rule']) {
      assert.match(dom, new RegExp(`<g class="${mark} role-mark`), `${mark} marks are in the DOM`);
    }
    assert.match(dom, /<text[^>]*>KSM page counters over time<\/text>/);
    assert.match(dom, /<text[^>]*>Merging pages per process<\/text>/);
    assert.match(dom, /<text[^>]*>&lt;child&amp;&gt;<\/text>/, 'the process legend, escaped');
    assert.match(dom, /<text[^>]*>KSM\+<\/text>/);
    assert.match(dom, /<th scope="row">pages_sharing<\/th><td>0<\/td><td>219<\/td><td>451<\/td>/);
    assert.match(dom, /<th scope="row">ksm_merging_pages<\/th><td>0<\/td><td>131<\/td><td>256<\/td>/);
    assert.match(dom, /✗ FAILED: 1 of 2 expects failed/);
    assert.doesNotMatch(dom, /<parsererror|<script/i);

    const png = join(dir, 'report.png');
    await chromium([`--screenshot=${png}`, '--window-size=1200,2000', '--hide-scrollbars', url], dir);
    const bytes = readFileSync(png);
    assert.equal(bytes.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'a PNG');
    assert.equal(bytes.readUInt32BE(16), 1200, 'screenshot width');
    assert.ok(statSync(png).size > 30_000, 'the screenshot is not a blank page');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
