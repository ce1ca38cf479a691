/**
 * Charts of a scenario run as vega-lite specs, and their rendering to SVG without a DOM.
 *
 * Every builder returns a complete, self-contained vega-lite spec (data inlined, look fixed by
 * CHART_CONFIG), so a spec can be saved next to results and re-rendered later to the same
 * bytes. renderSvg compiles vega-lite to vega and asks a headless vega View (renderer 'none':
 * no canvas, text widths estimated from font size) for its SVG. Nothing here reads a clock.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { binaryUnit } from '../lib/sizes.ts';
import type { CounterRecord } from '../scenario/records.ts';

export type { TopLevelSpec } from 'vega-lite';

/** Fonts named in the SVG, first found wins: DejaVu Sans ships with Debian's Chromium. */
export const CHART_FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

/** Default plot area of the time charts, in CSS pixels. */
export const CHART_WIDTH = 560;
export const CHART_HEIGHT = 240;

/** The look shared by every chart: fixed fonts and sizes, white background, light grid. */
export const CHART_CONFIG = {
  background: 'white',
  padding: 8,
  font: CHART_FONT,
  title: { fontSize: 15, fontWeight: 'bold', anchor: 'start', offset: 10, subtitleFontSize: 12, subtitleColor: '#555' },
  axis: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    gridColor: '#e5e5e5',
    domainColor: '#888',
    tickColor: '#888',
  },
  legend: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    symbolSize: 80,
    labelLimit: 240,
    titleLimit: 240,
  },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#ccc' },
  line: { strokeWidth: 2 },
  point: { size: 45, filled: true },
  bar: { discreteBandSize: { band: 0.8 } },
} as const;

/** The global KSM counters drawn over time, in the order people reason about them. */
export const TIME_COUNTERS = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'ksm_zero_pages',
] as const;

/** Which scanner's files a chart reads: KSM's /sys/kernel/mm/ksm or the thesis's /sys/kernel/mm/ksm+. */
export type CounterSource = 'ksm' | 'ksm+';

/** KSM+'s page counters over time (it places no KSM zero pages). */
export const KSMPLUS_TIME_COUNTERS = ['pages_shared', 'pages_sharing', 'pages_unshared', 'pages_volatile'] as const;

function sourceFiles(r: CounterRecord, source: CounterSource): Readonly<Record<string, number | string>> {
  return source === 'ksm' ? r.ksm : (r.ksmplus ?? {});
}

/** A chart's scanner and its name in titles. */
export interface SourceOptions extends ChartOptions {
  /** Default 'ksm'. */
  readonly source?: CounterSource;
}

const scannerName = (source: CounterSource | undefined): string => (source === 'ksm+' ? 'KSM+' : 'KSM');

/** One colour per counter (a fixed tableau10 subset), so a counter looks the same in every chart. */
const COUNTER_COLOURS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d'];

/** A categorical palette for processes, classes and policies (tableau10). */
const PALETTE = [
  '#4c78a8',
  '#f58518',
  '#e45756',
  '#72b7b2',
  '#54a24b',
  '#eeca3b',
  '#b279a2',
  '#ff9da6',
  '#9d755d',
  '#bab0ac',
];

/** Dash patterns paired with the colours: solid first, then ever shorter dashes. */
const DASHES = [
  [1, 0],
  [8, 4],
  [4, 3],
  [2, 2],
  [8, 3, 2, 3],
  [12, 4],
  [6, 2, 2, 2],
  [3, 5],
  [10, 2],
  [1, 3],
];

/** Legends of line charts show a short stretch of each line, dashes included. */
const LINE_LEGEND = { symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2.5 } as const;

/** Time from 0, so a run with one record (or all at one time) still gets a readable axis. */
const X_TIME = {
  field: 'time_ms',
  type: 'quantitative',
  title: 'time since the scenario started (ms)',
  scale: { zero: true },
  axis: { format: ',~r' },
} as const;

/**
 * A value axis from 0. When every value is 0 the domain would be empty and vega would label
 * it "0.000000": give it 0..1 then. Page counts are integers, so no ticks between them.
 */
function valueAxis(title: string, values: readonly number[], integers: boolean) {
  const allZero = values.every((v) => v === 0);
  return {
    field: 'value',
    type: 'quantitative',
    title,
    scale: allZero ? { domain: [0, 1] } : { zero: true },
    axis: { format: ',~r', ...(integers ? { tickMinStep: 1 } : {}) },
  } as const;
}

export interface ChartOptions {
  /** Chart title; each builder has a default. */
  readonly title?: string;
  /** Second line under the title, e.g. the scenario and backend. */
  readonly subtitle?: string;
  /** Plot area size in CSS pixels. */
  readonly width?: number;
  readonly height?: number;
}

/**
 * pages_shared, pages_sharing, pages_unshared, pages_volatile and ksm_zero_pages at the
 * time_ms of each record. Counters the backend did not report (or reported as a word) are
 * left out; one record gives one point per counter.
 */
export function countersChart(records: readonly CounterRecord[], options: SourceOptions = {}): TopLevelSpec {
  const source = options.source ?? 'ksm';
  const counters: readonly string[] = source === 'ksm' ? TIME_COUNTERS : KSMPLUS_TIME_COUNTERS;
  const legend = source === 'ksm' ? '/sys/kernel/mm/ksm' : '/sys/kernel/mm/ksm+';
  const values: Array<{ time_ms: number; record: string; counter: string; value: number }> = [];
  for (const r of records) {
    for (const counter of counters) {
      const value = sourceFiles(r, source)[counter];
      if (typeof value === 'number') values.push({ time_ms: r.time_ms, record: r.label, counter, value });
    }
  }
  return {
    ...head(options, `${scannerName(source)} page counters over time`),
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: X_TIME,
      y: valueAxis(
        'pages (4 KiB each)',
        values.map((v) => v.value),
        true,
      ),
      color: {
        field: 'counter',
        type: 'nominal',
        title: legend,
        scale: { domain: [...counters], range: COUNTER_COLOURS.slice(0, counters.length) },
        legend: LINE_LEGEND,
      },
      // Dashes as well as colours: lines that coincide (often several counters at 0) stay visible.
      strokeDash: {
        field: 'counter',
        type: 'nominal',
        title: legend,
        scale: { domain: [...counters], range: DASHES.slice(0, counters.length) },
      },
    },
  };
}

/**
 * general_profit over time, in the binary unit (B, KiB, MiB, GiB) that suits its largest
 * absolute value; negative while the scanner's rmap_items cost more than it has merged.
 */
export function profitChart(records: readonly CounterRecord[], options: SourceOptions = {}): TopLevelSpec {
  const raw: Array<{ time_ms: number; record: string; bytes: number }> = [];
  for (const r of records) {
    const bytes = sourceFiles(r, options.source ?? 'ksm').general_profit;
    if (typeof bytes === 'number') raw.push({ time_ms: r.time_ms, record: r.label, bytes });
  }
  const unit = byteUnit(Math.max(0, ...raw.map((v) => Math.abs(v.bytes))));
  const values = raw.map((v) => ({ ...v, value: v.bytes / unit.scale }));
  return {
    ...head(options, `Memory saved by ${scannerName(options.source)} (general_profit)`),
    data: { values },
    layer: [
      {
        mark: { type: 'rule', color: '#888', strokeDash: [4, 3] },
        encoding: { y: { datum: 0, type: 'quantitative' } },
      },
      {
        mark: { type: 'line', color: '#54a24b', point: { color: '#54a24b' } },
        encoding: {
          x: X_TIME,
          y: valueAxis(
            `general_profit (${unit.name})`,
            values.map((v) => v.value),
            unit.scale === 1,
          ),
        },
      },
    ],
  };
}

/** KSM+'s rmap_items over time: its metadata, which sampling and reclamation keep small. */
export function rmapItemsChart(records: readonly CounterRecord[], options: ChartOptions = {}): TopLevelSpec {
  const values: Array<{ time_ms: number; record: string; value: number }> = [];
  for (const r of records) {
    const n = r.ksmplus?.rmap_items;
    if (typeof n === 'number') values.push({ time_ms: r.time_ms, record: r.label, value: n });
  }
  return {
    ...head(options, 'KSM+ rmap_items over time'),
    data: { values },
    mark: { type: 'line', color: '#b279a2', point: { color: '#b279a2' } },
    encoding: {
      x: X_TIME,
      y: valueAxis(
        'rmap_items (64 bytes each)',
        values.map((v) => v.value),
        true,
      ),
    },
  };
}

/** ksm_merging_pages of each process (its /proc/PID/ksm_stat) over time. */
export function mergingPagesChart(records: readonly CounterRecord[], options: ChartOptions = {}): TopLevelSpec {
  const values: Array<{ time_ms: number; record: string; proc: string; value: number }> = [];
  const procs: string[] = [];
  for (const r of records) {
    for (const [proc, p] of Object.entries(r.procs)) {
      if (!procs.includes(proc)) procs.push(proc);
      values.push({ time_ms: r.time_ms, record: r.label, proc, value: p.ksm_merging_pages });
    }
  }
  return {
    ...head(options, 'Merging pages per process'),
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: X_TIME,
      y: valueAxis(
        'ksm_merging_pages (pages)',
        values.map((v) => v.value),
        true,
      ),
      color: {
        field: 'proc',
        type: 'nominal',
        title: 'process',
        scale: { domain: procs, range: PALETTE },
        legend: LINE_LEGEND,
      },
      // Processes with the same workload have the same curve: dashes let the lower ones show.
      strokeDash: { field: 'proc', type: 'nominal', title: 'process', scale: { domain: procs, range: DASHES } },
    },
  };
}

/** One bar of a histogram; bars sharing a label are stacked, coloured by class. */
export interface HistogramBar {
  readonly label: string;
  readonly count: number;
  readonly class?: string;
}

export interface HistogramOptions extends ChartOptions {
  /** Axis titles, with units: e.g. "copies of a page content", "pages". */
  readonly xTitle: string;
  readonly yTitle: string;
  /** Legend title of the classes (default "class"). */
  readonly classTitle?: string;
  /** Order (and so colours) of the classes; default: first appearance. */
  readonly classOrder?: readonly string[];
  /** Colours of the classes in classOrder; default: the shared palette. */
  readonly classColours?: readonly string[];
  /** Logarithmic count axis (for counts spanning decades); classes are then grouped, not stacked. */
  readonly logScale?: boolean;
}

/**
 * A bar chart of counts in the given order of labels (e.g. duplicate-page groups by number
 * of copies), each bar's total written above it, coloured by class when bars have one.
 */
export function histogramChart(bars: readonly HistogramBar[], options: HistogramOptions): TopLevelSpec {
  const labels = unique(bars.map((b) => b.label));
  const hasClass = bars.some((b) => b.class !== undefined);
  const classes = options.classOrder ?? unique(bars.map((b) => b.class ?? ''));
  const values = bars.map((b) => ({ label: b.label, count: b.count, class: b.class ?? '' }));
  const grouped = hasClass && options.logScale === true;
  const xOffset = { field: 'class', type: 'nominal', sort: [...classes] } as const;
  const y = {
    field: 'count',
    type: 'quantitative',
    title: options.yTitle,
    ...(options.logScale === true ? { scale: { type: 'symlog' as const } } : {}),
  } as const;
  const x = {
    field: 'label',
    type: 'nominal',
    title: options.xTitle,
    sort: labels,
    axis: { labelAngle: labels.length > 8 ? -40 : 0, labelLimit: 160 },
  } as const;
  return {
    ...head(options, 'Histogram'),
    width: options.width ?? Math.max(CHART_WIDTH / 2, Math.min(CHART_WIDTH * 1.5, labels.length * 40)),
    data: { values },
    layer: [
      {
        mark: { type: 'bar', ...(hasClass ? {} : { color: PALETTE[0] }) },
        encoding: {
          x,
          // A log axis cannot stack (a bar's share would not be its length): classes then
          // stand side by side within their label.
          y: { ...y, stack: grouped ? null : 'zero' },
          ...(grouped ? { xOffset } : {}),
          ...(hasClass
            ? {
                color: {
                  field: 'class',
                  type: 'nominal',
                  title: options.classTitle ?? 'class',
                  sort: [...classes],
                  scale: { domain: [...classes], range: [...(options.classColours ?? PALETTE)] },
                },
                order: { field: 'classIndex', type: 'quantitative' },
              }
            : {}),
        },
        ...(hasClass
          ? { transform: [{ calculate: `indexof(${JSON.stringify(classes)}, datum.class)`, as: 'classIndex' }] }
          : {}),
      },
      grouped
        ? {
            // Side-by-side bars: each bar's own count above it.
            mark: { type: 'text', dy: -6, fontSize: 10, color: '#333', baseline: 'bottom' },
            encoding: { x, xOffset, y, text: { field: 'count', type: 'quantitative', format: ',' } },
          }
        : {
            transform: [{ aggregate: [{ op: 'sum', field: 'count', as: 'count' }], groupby: ['label'] }],
            mark: { type: 'text', dy: -6, fontSize: 10, color: '#333', baseline: 'bottom' },
            encoding: { x, y, text: { field: 'count', type: 'quantitative', format: ',' } },
          },
    ],
  };
}

/** One value of one metric under one policy, e.g. { metric: 'pages saved', policy: 'KSM+', value: 10200 }. */
export interface ComparisonValue {
  readonly metric: string;
  readonly policy: string;
  readonly value: number;
  /** Unit of the metric, shown in its panel's header: "pages", "ms", "MiB". */
  readonly unit?: string;
}

export interface ComparisonOptions extends ChartOptions {
  /** Order (and so colours) of the policies; default: first appearance. */
  readonly policyOrder?: readonly string[];
  /** Legend title (default "policy"). */
  readonly policyTitle?: string;
  /** Panels per row (default 4). */
  readonly columns?: number;
}

/**
 * Policies side by side, one panel per metric with its own value axis (metrics have
 * different units), each bar labelled with its value.
 */
export function comparisonChart(values: readonly ComparisonValue[], options: ComparisonOptions = {}): TopLevelSpec {
  const policies = options.policyOrder ?? unique(values.map((v) => v.policy));
  const data = values.map((v) => ({
    metric: v.unit === undefined ? v.metric : `${v.metric} (${v.unit})`,
    policy: v.policy,
    value: v.value,
  }));
  const metrics = unique(data.map((v) => v.metric));
  const x = {
    field: 'policy',
    type: 'nominal',
    title: null,
    sort: [...policies],
    axis: { labelAngle: policies.length > 2 ? -35 : 0 },
  } as const;
  // labelFlush: a tick label at a panel's top edge would otherwise stick out and lift that
  // panel's header above its neighbours'.
  const y = { field: 'value', type: 'quantitative', title: null, axis: { labelFlush: true } } as const;
  const { width: _w, height: _h, ...headOnly } = head(options, 'Comparison of policies');
  return {
    ...headOnly,
    data: { values: data },
    columns: options.columns ?? 4,
    facet: {
      field: 'metric',
      type: 'nominal',
      title: null,
      sort: metrics,
      header: { labelFontWeight: 'bold', labelLimit: 220 },
    },
    spec: {
      width: options.width ?? Math.max(120, policies.length * 55),
      height: options.height ?? 200,
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            x,
            y,
            color: {
              field: 'policy',
              type: 'nominal',
              title: options.policyTitle ?? 'policy',
              sort: [...policies],
              scale: { domain: [...policies], range: PALETTE },
            },
          },
        },
        {
          mark: { type: 'text', dy: -5, fontSize: 10, color: '#333', baseline: 'bottom' },
          encoding: { x, y, text: { field: 'value', type: 'quantitative', format: ',~r' } },
        },
        // Invisible: stretches each panel's axis above its tallest bar, so the value written
        // above that bar stays inside the panel and the panels' headers line up.
        {
          transform: [{ calculate: 'datum.value * 1.12', as: 'headroom' }],
          mark: { type: 'point', opacity: 0 },
          encoding: { x, y: { field: 'headroom', type: 'quantitative', title: null } },
        },
      ],
    },
    // Each panel its own bars: a metric the thesis does not give has no empty slots for it.
    resolve: { scale: { y: 'independent', x: 'independent' } },
  };
}

export interface RenderOptions {
  /**
   * Prefix of the SVG's element ids (clip paths, gradients). Vega numbers them from a
   * counter that lives as long as the process, so renderSvg renumbers them: the output
   * depends on the spec alone, and SVGs inlined in one HTML page need distinct prefixes.
   */
  readonly idPrefix?: string;
}

/** Compiles a vega-lite spec and renders it to an SVG document string, without a DOM. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  const compiled = compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return renumberSvgIds(svg, options.idPrefix ?? 'chart');
  } finally {
    view.finalize();
  }
}

/**
 * Renames every id="..." of an SVG to `${prefix}-1`, `${prefix}-2`, ... in order of
 * appearance, and its references (url(#id), href="#id"), so several SVGs can share a page.
 */
export function renumberSvgIds(svg: string, prefix: string): string {
  const names = new Map<string, string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) {
    const id = m[1];
    if (id !== undefined && !names.has(id)) names.set(id, `${prefix}-${names.size + 1}`);
  }
  if (names.size === 0) return svg;
  const rename = (id: string): string => names.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)(")/g, (_all, a: string, id: string, b: string) => a + rename(id) + b)
    .replace(/url\(#([^)]+)\)/g, (_all, id: string) => `url(#${rename(id)})`)
    .replace(/(href=")#([^"]+)(")/g, (_all, a: string, id: string, b: string) => `${a}#${rename(id)}${b}`);
}

/** The title, size and look every builder starts from. */
function head(
  options: ChartOptions,
  defaultTitle: string,
): {
  $schema: string;
  title: { text: string; subtitle?: string };
  width: number;
  height: number;
  config: typeof CHART_CONFIG;
} {
  const title = options.title ?? defaultTitle;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.subtitle === undefined ? { text: title } : { text: title, subtitle: options.subtitle },
    width: options.width ?? CHART_WIDTH,
    height: options.height ?? CHART_HEIGHT,
    config: CHART_CONFIG,
  };
}

/** The axis unit of byte values up to `maxAbs`: lib/sizes.ts's unit, with bytes spelled out. */
function byteUnit(maxAbs: number): { name: string; scale: number } {
  const { unit, scale } = binaryUnit(maxAbs);
  return { name: unit === 'B' ? 'bytes' : unit, scale };
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
