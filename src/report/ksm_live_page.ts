/**
 * The one HTML page `samepage kernel watch --http` serves: the first reading embedded, then
 * redrawn from Server-Sent Events. Three charts over time (what KSM saves against what it
 * costs and what Linux's per-process figures claim, in bytes; the saving of each process,
 * cgroup or comm; the KSM pages), the attribution table, and every /sys/kernel/mm/ksm file.
 * Charts are small hand-made SVGs: bytes in binary units on the y axis (KiB, MiB, GiB at
 * round steps), wall-clock time on the x axis, margins sized to the longest label, and each
 * chart checks after drawing that every label lies inside it (`data-labels-fit`), which the
 * headless-Chromium test reads.
 */
import type { KsmWatchSample } from '../host/ksm_watch.ts';
import { FIRST_KSM_KEYS } from './ksm_live.ts';

/** JSON inside a <script> element: `<` escaped so no `</script>` can end it early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch] ?? ch);
}

/** The browser side: formatting, axes, charts and tables (plain ES5, no library). */
const PAGE_SCRIPT = `
var UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf', '#393b79'];
function $(id) { return document.getElementById(id); }
function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]; }); }
function cell(v) { return typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v); }
/** Bytes in the largest binary unit keeping the number at least 1, as samepage's tables write them. */
function fmtBytes(v) {
  var a = Math.abs(v), u = 0;
  while (a >= 1024 && u < UNITS.length - 1) { a /= 1024; u++; }
  var s = u === 0 ? String(Math.round(a)) : a < 10 ? a.toFixed(1) : String(Math.round(a));
  return (v < 0 ? '-' : '') + s + ' ' + UNITS[u];
}
function fmtCount(v) { return Math.round(v).toLocaleString('en-US'); }
/** A round step near span/target: 1, 2 or 5 times a power of ten. */
function niceStep(span, target) {
  var raw = span / target, p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10)), m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
/** Y ticks from lo to hi: for bytes, round steps in one binary unit, labelled in it. */
function yTicks(lo, hi, bytes) {
  var scale = 1, unit = '';
  if (bytes) {
    var m = Math.max(Math.abs(lo), Math.abs(hi)), u = 0;
    while (m >= 1024 && u < UNITS.length - 1) { m /= 1024; u++; }
    scale = Math.pow(1024, u); unit = UNITS[u];
  }
  var step = niceStep((hi - lo) / scale, 4);
  if (!bytes) step = Math.max(1, step);
  var first = Math.floor(lo / scale / step) * step, ticks = [];
  var dec = Math.max(0, Math.min(3, -Math.floor(Math.log(step) / Math.LN10 + 1e-9)));
  for (var v = first; v <= hi / scale + step * 1e-9; v += step) {
    var label = bytes ? v.toFixed(dec) + ' ' + unit : fmtCount(v * scale);
    ticks.push({ v: v * scale, label: label });
  }
  if (ticks.length && ticks[0].v > lo) ticks.unshift({ v: (first - step) * scale, label: bytes ? ((first - step).toFixed(dec) + ' ' + unit) : fmtCount((first - step) * scale) });
  return ticks;
}
function pad2(n) { return (n < 10 ? '0' : '') + n; }
function clock(t) { var d = new Date(t); return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()); }
/**
 * A line chart: series [{name, color, values}] over times (ms since the epoch). The left
 * margin fits the longest y label; x ticks are wall-clock times.
 */
function chart(series, times, bytes) {
  var W = 560, H = 220, all = [];
  series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null) all.push(v); }); });
  if (all.length === 0 || times.length === 0) return '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="40"><text x="4" y="20">no readings yet</text></svg>';
  var lo = Math.min(0, Math.min.apply(null, all)), hi = Math.max.apply(null, all);
  if (hi === lo) hi = lo + (bytes ? 4096 : 1);
  var ticks = yTicks(lo, hi, bytes);
  lo = Math.min(lo, ticks[0].v); hi = Math.max(hi, ticks[ticks.length - 1].v);
  var longest = 0; ticks.forEach(function (t) { longest = Math.max(longest, t.label.length); });
  var left = 22 + 7 * longest, right = 34, top = 10, bottom = 44;
  var t0 = times[0], t1 = times[times.length - 1]; if (t1 === t0) t1 = t0 + 1000;
  function x(t) { return left + (t - t0) * (W - left - right) / (t1 - t0); }
  function y(v) { return top + (H - top - bottom) * (1 - (v - lo) / (hi - lo)); }
  var out = '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H + '" role="img">';
  ticks.forEach(function (t) {
    out += '<line x1="' + left + '" y1="' + y(t.v).toFixed(1) + '" x2="' + (W - right) + '" y2="' + y(t.v).toFixed(1) + '" stroke="' + (t.v === 0 ? '#bbb' : '#eee') + '"/>';
    out += '<text class="ylabel" x="' + (left - 6) + '" y="' + (y(t.v) + 4).toFixed(1) + '" text-anchor="end">' + esc(t.label) + '</text>';
  });
  var n = Math.min(5, times.length);
  for (var i = 0; i < n; i++) {
    var tt = n === 1 ? t0 : t0 + (t1 - t0) * i / (n - 1);
    out += '<line x1="' + x(tt).toFixed(1) + '" y1="' + (H - bottom) + '" x2="' + x(tt).toFixed(1) + '" y2="' + (H - bottom + 4) + '" stroke="#999"/>';
    out += '<text class="xlabel" x="' + x(tt).toFixed(1) + '" y="' + (H - bottom + 16) + '" text-anchor="middle">' + clock(tt) + '</text>';
  }
  out += '<text class="axis-title" x="' + ((left + W - right) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">time</text>';
  series.forEach(function (s) {
    var pts = [];
    s.values.forEach(function (v, i) { if (v !== null) pts.push(x(times[i]).toFixed(1) + ',' + y(v).toFixed(1)); });
    out += '<polyline fill="none" stroke="' + s.color + '" stroke-width="2" points="' + pts.join(' ') + '"><title>' + esc(s.name) + '</title></polyline>';
  });
  return out + '</svg>';
}
function legend(series) {
  return series.map(function (s) { return '<span><i class="dot" style="background:' + s.color + '"></i>' + esc(s.name) + '</span>'; }).join('');
}
/** Marks each chart whose labels all lie inside its SVG (what the browser test checks). */
function checkFit(el) {
  var svg = el.querySelector('svg'), ok = true;
  if (!svg) return;
  var W = Number(svg.getAttribute('width')), H = Number(svg.getAttribute('height'));
  Array.prototype.forEach.call(svg.querySelectorAll('text'), function (t) {
    var b = t.getBBox();
    if (b.x < -0.5 || b.y < -0.5 || b.x + b.width > W + 0.5 || b.y + b.height > H + 0.5) ok = false;
  });
  el.setAttribute('data-labels-fit', ok ? 'yes' : 'no');
}
function draw(d) {
  var s = d.status, ksm = s.ksm, h = d.history, times = h.map(function (p) { return Date.parse(p.time); });
  $('time').textContent = s.time;
  ['pages_sharing', 'pages_shared', 'run'].forEach(function (k) { $(k).textContent = k in ksm ? cell(ksm[k]) : '?'; });
  $('general_profit').textContent = typeof ksm.general_profit === 'number' ? fmtBytes(ksm.general_profit) : '?';
  $('ksm').innerHTML = keys(ksm).map(function (k) {
    return '<tr><td>' + esc(k) + '</td><td class="n" id="ksm-' + esc(k) + '">' + esc(cell(ksm[k])) + '</td></tr>';
  }).join('');
  var saved = [
    { name: 'saved: (pages_sharing + ksm_zero_pages) x 4 KiB', color: '#2ca02c', values: h.map(function (p) { return p.saved_bytes; }) },
    { name: 'general_profit (saved less rmap_items)', color: '#1f77b4', values: h.map(function (p) { return p.general_profit; }) },
    { name: "Linux's ksm_process_profit summed (overcounts)", color: '#d62728', values: h.map(function (p) { return p.naive_profit; }) }
  ];
  $('legend-saved').innerHTML = legend(saved);
  $('chart-saved').innerHTML = chart(saved, times, true);
  var pages = [
    { name: 'pages_sharing', color: '#1f77b4', values: h.map(function (p) { return p.pages_sharing; }) },
    { name: 'pages_shared', color: '#ff7f0e', values: h.map(function (p) { return p.pages_shared; }) }
  ];
  $('legend-pages').innerHTML = legend(pages);
  $('chart-pages').innerHTML = chart(pages, times, false);
  var a = s.attribution;
  if (a) {
    var groups = a.groups.map(function (g, i) {
      return { name: label(a.by, g), color: g.key === 'other' ? '#999' : PALETTE[i % PALETTE.length], values: h.map(function (p) { return p.groups && g.key in p.groups ? p.groups[g.key] : null; }) };
    });
    $('by').textContent = a.by;
    $('legend-groups').innerHTML = legend(groups);
    $('chart-groups').innerHTML = chart(groups, times, true);
    drawAttribution(a);
  } else {
    $('chart-groups').innerHTML = '';
    $('legend-groups').textContent = s.attributionError ? 'Who saves what is not shown: ' + s.attributionError : '';
    $('groups').innerHTML = '';
    $('totals').textContent = '';
  }
  ['chart-saved', 'chart-pages', 'chart-groups'].forEach(function (id) { checkFit($(id)); });
}
function label(by, g) {
  if (g.key === 'other') return 'other (' + g.processes + ' processes)';
  if (by === 'process') return g.key + ' ' + (g.comm || '');
  return (g.key === '' ? '(unknown)' : g.key) + ' (' + g.processes + ')';
}
function drawAttribution(a) {
  var cols = a.by === 'process' ? ['pid', 'comm', 'cgroup'] : [a.by, 'procs'];
  var head = cols.concat(['saved', 'pages', 'zero_pages', 'rmap_items', 'profit', 'ksm_process_profit', 'ksmd_share']);
  var rows = a.groups.map(function (g) {
    var names = a.by === 'process' ? [g.key, g.comm || '', g.cgroup || ''] : [g.key === '' ? '(unknown)' : g.key, String(g.processes)];
    var vals = [fmtBytes(g.saved_bytes), g.saved_pages.toFixed(2), g.ksm_zero_pages, g.ksm_rmap_items, fmtBytes(g.profit_bytes), fmtBytes(g.ksm_process_profit), (100 * g.ksmd_work_share).toFixed(1) + ' %'];
    return '<tr>' + names.map(function (v) { return '<td>' + esc(v) + '</td>'; }).join('') + vals.map(function (v) { return '<td class="n">' + esc(v) + '</td>'; }).join('') + '</tr>';
  });
  $('groups').innerHTML = '<tr>' + head.map(function (c, i) { return '<th class="' + (i < cols.length ? '' : 'n') + '">' + esc(c) + '</th>'; }).join('') + '</tr>' + (rows.join('') || '<tr><td colspan="' + head.length + '">No process uses KSM.</td></tr>');
  var t = a.attribution.totals, kernel = t.pages_sharing + t.ksm_zero_pages;
  $('totals').innerHTML = 'Saved ' + esc(fmtBytes(t.attributed_bytes)) + ' (' + t.attributed_pages + ' pages); the kernel counts pages_sharing + ksm_zero_pages = ' + kernel +
    (t.residual_pages === 0 ? ' (equal)' : ' (residual ' + t.residual_pages + ': ksmd has not yet rescanned what changed)') +
    '. Profit ' + esc(fmtBytes(t.attributed_profit_bytes)) + ' (general_profit ' + esc(fmtBytes(t.general_profit)) + '); ksm_process_profit summed: <span id="naive">' + esc(fmtBytes(t.naive_profit_bytes)) + '</span>.';
}
function keys(ksm) {
  var first = FIRST.filter(function (k) { return k in ksm; });
  var rest = Object.keys(ksm).filter(function (k) { return FIRST.indexOf(k) < 0; }).sort();
  return first.concat(rest);
}
`;

/**
 * The page of `watch --http`: the first reading is embedded so the page shows values at
 * once; an EventSource on `eventsPath` then redraws everything on every event. The server
 * ends each stream after a few events and the EventSource reconnects, so an error with the
 * source still connecting is routine; the page says "stale" only when no event came for
 * three intervals (plus the reconnection delay).
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
h2 { font-size: 1.05em; margin: 1em 0 .3em; }
.meta { color: #666; margin-bottom: 1em; }
.grid { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
table { border-collapse: collapse; }
td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 1.6em; font-weight: 600; }
.cards { display: flex; gap: 2em; margin-bottom: 1em; }
.card div:first-child { color: #666; font-size: .9em; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
.legend { max-width: 560px; }
.legend span { margin-right: 1em; display: inline-block; }
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
  <div class="card"><div>general_profit</div><div class="big" id="general_profit"></div></div>
  <div class="card"><div>run</div><div class="big" id="run"></div></div>
</div>
<div class="grid">
  <div>
    <h2>What KSM saves</h2>
    <div class="legend" id="legend-saved"></div>
    <div id="chart-saved" class="chart"></div>
    <h2>Saved by <span id="by"></span></h2>
    <div class="legend" id="legend-groups"></div>
    <div id="chart-groups" class="chart"></div>
    <h2>KSM pages</h2>
    <div class="legend" id="legend-pages"></div>
    <div id="chart-pages" class="chart"></div>
  </div>
  <div>
    <h2>Who saves what <small>(a KSM page mapped n times credits each mapping (n-1)/n of a page)</small></h2>
    <table id="groups"></table>
    <p id="totals"></p>
    <h2>/sys/kernel/mm/ksm</h2><table id="ksm"></table>
  </div>
</div>
<script id="first" type="application/json">${scriptJson(first)}</script>
<script>
(function () {
  var FIRST = ${scriptJson(FIRST_KSM_KEYS)};
${PAGE_SCRIPT}
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
