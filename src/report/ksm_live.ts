/**
 * The live KSM of a machine for people: terminal tables for `samepage kernel status` and
 * `watch`, and the one HTML page `watch --http` serves, which redraws itself from
 * Server-Sent Events. Plain data in (host/'s reading, by type only), text out.
 */
import pc from 'picocolors';
import { describeErrno } from '../lib/errno.ts';
import { formatBytes } from '../lib/sizes.ts';
import { displayWidth } from '../lib/text_width.ts';
import { fitTable } from './fit_table.ts';
import { memoryOf } from './table.ts';
import type { MergeReport } from '../host/merge_any.ts';
import type { KsmProcessStat } from '../host/ksm_stat.ts';
import type { KsmStatus } from '../host/ksm_status.ts';
import type { KsmWatchSample } from '../host/ksm_watch.ts';

/** The counters shown first, in the order people reason about them; the rest follow by name. */
const FIRST = [
  'run',
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'general_profit',
  'ksm_zero_pages',
  'full_scans',
  'pages_scanned',
] as const;

/** The sysfs file names in display order. */
export function orderedKsmKeys(ksm: Readonly<Record<string, unknown>>): string[] {
  const first = FIRST.filter((k) => k in ksm);
  const rest = Object.keys(ksm)
    .filter((k) => !(FIRST as readonly string[]).includes(k))
    .sort();
  return [...first, ...rest];
}

function cell(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** What `run` means, for the terminal. */
function runWord(v: unknown): string {
  return v === 0 ? '0 (stopped)' : v === 1 ? '1 (running)' : v === 2 ? '2 (unmerged, stopped)' : String(v);
}

/** A sysfs value for people: `run` in words, pages and bytes also as memory ("10200 (39.8 MiB)"). */
function sysfsCell(name: string, v: number | string | undefined): string {
  if (name === 'run') return runWord(v);
  const memory = memoryOf(name, v);
  return memory === '' || v === 0 ? cell(v) : `${cell(v)} (${memory})`;
}

export interface LiveTextOptions {
  readonly color?: boolean;
  /** At most this many process rows; default all. */
  readonly maxProcesses?: number;
  /** The terminal's width (fit_table.ts); undefined: no limit. */
  readonly width?: number | undefined;
}

/**
 * Process columns: head, how to read it, whether it is a number, and the rank at which it
 * is left out on a narrow terminal (the flags first; pid, comm and merging_pages stay).
 */
const PROCESS_COLUMNS: ReadonlyArray<
  readonly [string, (p: KsmProcessStat) => string, 'left' | 'right', number | undefined]
> = [
  ['pid', (p) => String(p.pid), 'right', undefined],
  ['comm', (p) => p.comm, 'left', undefined],
  ['rmap_items', (p) => String(p.ksm_rmap_items), 'right', 3],
  ['zero_pages', (p) => String(p.ksm_zero_pages), 'right', 4],
  ['merging_pages', (p) => String(p.ksm_merging_pages), 'right', undefined],
  ['process_profit', (p) => formatBytes(p.ksm_process_profit, 1), 'right', 2],
  ['merge_any', (p) => cell(p.ksm_merge_any), 'left', 6],
  ['mergeable', (p) => cell(p.ksm_mergeable), 'left', 5],
];

/**
 * Two tables: /sys/kernel/mm/ksm (two file/value pairs per row, or one where the terminal
 * is too narrow for two) and the processes, fitted to `opts.width`.
 */
export function renderLiveStatusText(s: KsmStatus, opts: LiveTextOptions = {}): string {
  const c = pc.createColors(opts.color ?? pc.isColorSupported);
  const fit = { width: opts.width, compact: true, headStyle: c.bold };
  const entries = orderedKsmKeys(s.ksm).map((k) => [k, sysfsCell(k, s.ksm[k])]);
  const half = Math.ceil(entries.length / 2);
  const pairs = entries.slice(0, half).map((left, i) => [...left, ...(entries[i + half] ?? ['', ''])]);
  const pair = [{ head: 'file' }, { head: 'value', wrap: true }];
  let sys = fitTable([...pair, ...pair], pairs, { ...fit, width: undefined });
  const tooWide = opts.width !== undefined && Math.max(...sys.split('\n').map(displayWidth)) > opts.width;
  if (tooWide) sys = fitTable(pair, entries, fit);
  let out = `${c.bold('/sys/kernel/mm/ksm')} at ${s.time}\n${sys}\n`;
  if (s.processes.length === 0) {
    out += 'No process uses KSM (no /proc/PID/ksm_stat shows any activity).\n';
    return out;
  }
  const shown = opts.maxProcesses === undefined ? s.processes : s.processes.slice(0, opts.maxProcesses);
  const procs = fitTable(
    PROCESS_COLUMNS.map(([head, , align, drop]) => ({
      head,
      align,
      ...(head === 'comm' ? { wrap: true } : {}),
      ...(drop === undefined ? {} : { drop }),
    })),
    shown.map((p) => PROCESS_COLUMNS.map(([, read]) => read(p))),
    fit,
  );
  out += `${c.bold('Processes using KSM')} (/proc/PID/ksm_stat, by ksm_process_profit)\n${procs}\n`;
  if (shown.length < s.processes.length) out += `... and ${s.processes.length - shown.length} more\n`;
  return out;
}

/** JSON inside a <script> element: `<` escaped so no `</script>` can end it early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The page of `watch --http`: the first reading is embedded so the page shows values at
 * once; an EventSource on `eventsPath` then redraws the counters, two small SVG line charts
 * (pages_sharing and pages_shared; general_profit) and the process table on every event.
 * The server ends each stream after a few events and the EventSource reconnects, so an
 * error with the source still connecting is routine; the page says "stale" only when no
 * event came for three intervals (plus the reconnection delay).
 */
export function renderLivePage(
  first: KsmWatchSample,
  eventsPath: string,
  hostname: string,
  intervalMs: number,
): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>KSM on ${escapeHtml(hostname)} - samepage kernel watch</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
.meta { color: #666; margin-bottom: 1em; }
.grid { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 1.6em; font-weight: 600; }
.cards { display: flex; gap: 2em; margin-bottom: 1em; }
.card div:first-child { color: #666; font-size: .9em; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
.legend span { margin-right: 1em; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; }
#state.live { color: #2a7; } #state.down { color: #c33; }
</style>
</head>
<body>
<h1>KSM on ${escapeHtml(hostname)}</h1>
<div class="meta">Reading <span id="time"></span> &middot; <span id="state">connecting</span> &middot; events: <span id="events" data-count="0">0</span></div>
<div class="cards">
  <div class="card"><div>pages_sharing</div><div class="big" id="pages_sharing"></div></div>
  <div class="card"><div>pages_shared</div><div class="big" id="pages_shared"></div></div>
  <div class="card"><div>general_profit (bytes)</div><div class="big" id="general_profit"></div></div>
  <div class="card"><div>run</div><div class="big" id="run"></div></div>
</div>
<div class="grid">
  <div>
    <div class="legend"><span><i class="dot" style="background:#1f77b4"></i>pages_sharing</span><span><i class="dot" style="background:#ff7f0e"></i>pages_shared</span></div>
    <div id="chart-pages"></div>
    <div class="legend"><span><i class="dot" style="background:#2ca02c"></i>general_profit (bytes)</span></div>
    <div id="chart-profit"></div>
  </div>
  <div><h2 style="font-size:1.05em">/sys/kernel/mm/ksm</h2><table id="ksm"></table></div>
</div>
<h2 style="font-size:1.05em">Processes using KSM <small>(/proc/PID/ksm_stat, by ksm_process_profit)</small></h2>
<table id="procs"></table>
<script id="first" type="application/json">${scriptJson(first)}</script>
<script>
(function () {
  var FIRST = ${scriptJson([...FIRST])};
  var COLS = ${scriptJson(PROCESS_COLUMNS)};
  function $(id) { return document.getElementById(id); }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]; }); }
  function cell(v) { return typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v); }
  function keys(ksm) {
    var first = FIRST.filter(function (k) { return k in ksm; });
    var rest = Object.keys(ksm).filter(function (k) { return FIRST.indexOf(k) < 0; }).sort();
    return first.concat(rest);
  }
  function chart(series, w, h) {
    var pad = 40, all = [];
    series.forEach(function (s) { all = all.concat(s.values); });
    if (all.length === 0) return '';
    var lo = Math.min(0, Math.min.apply(null, all)), hi = Math.max.apply(null, all);
    if (hi === lo) hi = lo + 1;
    var n = series[0].values.length;
    function x(i) { return pad + (n <= 1 ? 0 : i * (w - pad - 6) / (n - 1)); }
    function y(v) { return 6 + (h - 24) * (1 - (v - lo) / (hi - lo)); }
    var out = '<svg xmlns="http://www.w3.org/2000/svg" width="' + w + '" height="' + h + '" role="img">';
    out += '<line x1="' + pad + '" y1="' + y(lo) + '" x2="' + (w - 6) + '" y2="' + y(lo) + '" stroke="#ccc"/>';
    out += '<line x1="' + pad + '" y1="6" x2="' + pad + '" y2="' + y(lo) + '" stroke="#ccc"/>';
    out += '<text x="' + (pad - 4) + '" y="12" text-anchor="end">' + esc(hi) + '</text>';
    out += '<text x="' + (pad - 4) + '" y="' + y(lo) + '" text-anchor="end">' + esc(lo) + '</text>';
    if (lo < 0) out += '<line x1="' + pad + '" y1="' + y(0) + '" x2="' + (w - 6) + '" y2="' + y(0) + '" stroke="#ddd" stroke-dasharray="3 3"/>';
    out += '<text x="' + pad + '" y="' + (h - 4) + '">' + n + ' readings</text>';
    series.forEach(function (s) {
      var pts = s.values.map(function (v, i) { return x(i).toFixed(1) + ',' + y(v).toFixed(1); }).join(' ');
      out += '<polyline fill="none" stroke="' + s.color + '" stroke-width="2" points="' + pts + '"><title>' + esc(s.name) + '</title></polyline>';
    });
    return out + '</svg>';
  }
  function draw(d) {
    var s = d.status, ksm = s.ksm;
    $('time').textContent = s.time;
    ['pages_sharing', 'pages_shared', 'general_profit', 'run'].forEach(function (k) { $(k).textContent = k in ksm ? cell(ksm[k]) : '?'; });
    $('ksm').innerHTML = keys(ksm).map(function (k) {
      return '<tr><td>' + esc(k) + '</td><td class="n" id="ksm-' + esc(k) + '">' + esc(cell(ksm[k])) + '</td></tr>';
    }).join('');
    var h = d.history;
    $('chart-pages').innerHTML = chart([
      { name: 'pages_sharing', color: '#1f77b4', values: h.map(function (p) { return p.pages_sharing; }) },
      { name: 'pages_shared', color: '#ff7f0e', values: h.map(function (p) { return p.pages_shared; }) }
    ], 420, 160);
    $('chart-profit').innerHTML = chart([
      { name: 'general_profit', color: '#2ca02c', values: h.map(function (p) { return p.general_profit; }) }
    ], 420, 160);
    var head = '<tr>' + COLS.map(function (c) { return '<th class="' + (c[0] === 'comm' ? '' : 'n') + '">' + esc(c[0]) + '</th>'; }).join('') + '</tr>';
    var rows = s.processes.map(function (p) {
      return '<tr>' + COLS.map(function (c) { return '<td class="' + (c[0] === 'comm' ? '' : 'n') + '">' + esc(cell(p[c[1]])) + '</td>'; }).join('') + '</tr>';
    }).join('');
    $('procs').innerHTML = head + (rows || '<tr><td colspan="' + COLS.length + '">No process uses KSM.</td></tr>');
  }
  draw(JSON.parse($('first').textContent));
  if (typeof EventSource === 'undefined') { $('state').textContent = 'no EventSource: reload to refresh'; return; }
  var events = 0, seq = -1, last = Date.now(), STALE_MS = 3 * ${Math.max(50, Math.round(intervalMs))} + 2000;
  var es = new EventSource(${scriptJson(eventsPath)});
  es.addEventListener('ksm', function (e) {
    var d = JSON.parse(e.data);
    events++;
    last = Date.now();
    $('events').textContent = String(events);
    $('events').setAttribute('data-count', String(events));
    $('state').textContent = 'live'; $('state').className = 'live';
    if (d.seq !== seq) { seq = d.seq; draw(d); }
  });
  setInterval(function () {
    if (Date.now() - last > STALE_MS) { $('state').textContent = 'stale: no reading for ' + Math.round((Date.now() - last) / 1000) + ' s'; $('state').className = 'down'; }
  }, 1000);
})();
</script>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch] ?? ch);
}

/** `kernel enable`/`disable`: one line per process, the call and its result or why not. */
export function renderMergeReports(reports: readonly MergeReport[], enable: boolean): string {
  const call = `prctl(PR_SET_MEMORY_MERGE, ${enable ? 1 : 0})`;
  return reports
    .map((r) => {
      if (!r.ok) return `${r.pid} (${r.comm}): not done: ${r.error ?? '?'}\n`;
      const res = r.result === 0 ? '0' : `${r.result ?? '?'} (${describeErrno(r.result ?? 0)})`;
      const flag = r.ksm_merge_any === undefined ? '' : `; ksm_merge_any: ${r.ksm_merge_any ? 'yes' : 'no'}`;
      return `${r.pid} (${r.comm}): ${call} = ${res}${flag}\n`;
    })
    .join('');
}

/** What merged in `seconds`: pages_sharing growth and the processes' own counts, one line. */
export function renderMergeSummary(
  before: { readonly sharing: number; readonly shared: number },
  after: { readonly sharing: number; readonly shared: number },
  processes: readonly KsmProcessStat[],
  seconds: number,
): string {
  const mine = processes.map(
    (s) => `${s.pid} (${s.comm}): ksm_merging_pages ${s.ksm_merging_pages}, ksm_process_profit ${s.ksm_process_profit}`,
  );
  const delta = (n: number): string => (n >= 0 ? `+${n}` : String(n));
  return (
    `after ${seconds} s: pages_sharing ${after.sharing} (${delta(after.sharing - before.sharing)}), ` +
    `pages_shared ${after.shared} (${delta(after.shared - before.shared)})` +
    (mine.length > 0 ? `; ${mine.join('; ')}` : '')
  );
}
