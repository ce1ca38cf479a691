/**
 * Charts as vega-lite specs, and their rendering to SVG without a DOM: the look they share,
 * the bar charts (a histogram, policies side by side); the time charts of a run are in
 * time_charts.ts.
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
import { timeUnit } from '../lib/duration.ts';

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

/** One colour per counter (a fixed tableau10 subset), so a counter looks the same in every chart. */
export const COUNTER_COLOURS = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d'];

/** A categorical palette for processes, classes and policies (tableau10). */
export const PALETTE = [
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
export const DASHES = [
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
export const LINE_LEGEND = { symbolType: 'stroke', symbolSize: 400, symbolStrokeWidth: 2.5 } as const;

export interface ChartOptions {
  /** Chart title; each builder has a default. */
  readonly title?: string;
  /** Lines under the title, e.g. the scenario and backend. */
  readonly subtitle?: string | readonly string[];
  /** Plot area size in CSS pixels. */
  readonly width?: number;
  readonly height?: number;
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
  // Only the classes some bar has, in the given order and keeping their colours.
  const order = options.classOrder ?? unique(bars.map((b) => b.class ?? ''));
  const colours = options.classColours ?? PALETTE;
  const present = order
    .map((c, i) => [c, colours[i % colours.length]!] as const)
    .filter(([c]) => bars.some((b) => (b.class ?? '') === c));
  const classes = present.map(([c]) => c);
  const values = bars.map((b) => ({ label: b.label, count: b.count, class: b.class ?? '' }));
  const grouped = hasClass && options.logScale === true;
  const xOffset = { field: 'class', type: 'nominal', sort: [...classes] } as const;
  // A symlog axis picks its ticks as a linear one would, crowding them at the top: 0 and
  // the powers of ten up to the tallest bar instead.
  const decades: number[] = [0];
  const tallest = Math.max(0, ...bars.map((b) => b.count));
  for (let p = 1; p <= tallest && decades.length < 12; p *= 10) decades.push(p);
  const y = {
    field: 'count',
    type: 'quantitative',
    title: options.yTitle,
    ...(options.logScale === true
      ? { scale: { type: 'symlog' as const }, axis: { values: decades, format: ',~r' } }
      : {}),
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
                  scale: { domain: [...classes], range: present.map(([, colour]) => colour) },
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
  /**
   * What the value counts: 'bytes' and 'seconds' are drawn in the binary unit or the unit
   * of time that suits the metric's largest value (MiB, min); a count gets `unit`.
   */
  readonly kind?: 'count' | 'bytes' | 'seconds';
  /** Unit of a count, shown in its panel's header: "pages", "items". */
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

/** Average advance of a bold 12 px DejaVu Sans character, for wrapping panel headers. */
const HEADER_CHAR_PX = 7.6;

/** `text` broken at spaces into lines of at most `chars` characters (a longer word stands alone). */
export function wrapWords(text: string, chars: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(' ')) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= chars) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** A figure with three significant digits and thousands separators (61.2, 0.05, 10,200). */
function threeDigits(v: number): string {
  return Number(v.toPrecision(3)).toLocaleString('en-US', { maximumFractionDigits: 20 });
}

/** Each metric's panel header (name and unit) and how its values are scaled and written. */
function metricScales(
  values: readonly ComparisonValue[],
): Map<string, { header: string; scale: number; label: (v: number) => string }> {
  const out = new Map<string, { header: string; scale: number; label: (v: number) => string }>();
  for (const metric of unique(values.map((v) => v.metric))) {
    const mine = values.filter((v) => v.metric === metric);
    const max = Math.max(0, ...mine.map((v) => Math.abs(v.value)));
    const kind = mine[0]?.kind ?? 'count';
    if (kind === 'bytes') {
      const u = byteUnit(max);
      out.set(metric, { header: `${metric} (${u.name})`, scale: u.scale, label: threeDigits });
    } else if (kind === 'seconds') {
      const u = timeUnit(max * 1000);
      out.set(metric, { header: `${metric} (${u.unit})`, scale: u.ms / 1000, label: threeDigits });
    } else {
      const unit = mine[0]?.unit;
      const whole = mine.every((v) => Number.isInteger(v.value));
      out.set(metric, {
        header: unit === undefined ? metric : `${metric} (${unit})`,
        scale: 1,
        label: whole ? (v) => v.toLocaleString('en-US') : threeDigits,
      });
    }
  }
  return out;
}

/**
 * Policies side by side, one panel per metric with its own value axis (metrics have
 * different units), each bar labelled with its value. Panel headers wrap onto lines that
 * fit the panel, so none is cut short.
 */
export function comparisonChart(values: readonly ComparisonValue[], options: ComparisonOptions = {}): TopLevelSpec {
  const policies = options.policyOrder ?? unique(values.map((v) => v.policy));
  const width = options.width ?? Math.max(130, policies.length * 55);
  const scales = metricScales(values);
  const lines = new Map(
    [...scales].map(([metric, s]) => [metric, wrapWords(s.header, Math.floor(width / HEADER_CHAR_PX))] as const),
  );
  // Every header as many lines as the longest, the short ones padded above: the panels line up.
  const most = Math.max(1, ...[...lines.values()].map((l) => l.length));
  const headerOf = (metric: string): string => {
    const own = lines.get(metric) ?? [metric];
    return [...Array<string>(most - own.length).fill('\u00a0'), ...own].join('\n');
  };
  const data = values.map((v) => {
    const s = scales.get(v.metric)!;
    return {
      metric: headerOf(v.metric),
      policy: v.policy,
      value: v.value / s.scale,
      label: s.label(v.value / s.scale),
    };
  });
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
      header: { labelFontWeight: 'bold', labelLimit: 0, labelExpr: "split(datum.value, '\\n')" },
    },
    spec: {
      width,
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
          encoding: { x, y, text: { field: 'label', type: 'nominal' } },
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
  /**
   * Told each warning of vega-lite's compiler (a conflicting legend, a dropped encoding):
   * they are the chart's bugs, which tests look for; by default they are not printed, as
   * they mean nothing to someone reading a report.
   */
  readonly onWarning?: (message: string) => void;
}

/** A vega logger that hands warnings to `warn` and throws errors. */
function warningLogger(warn: (message: string) => void) {
  let level = vega.Warn;
  const words = (args: unknown[]): string => args.map(String).join(' ');
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]): never {
      throw new Error(`Cannot draw the chart: ${words(args)}`);
    },
    warn(...args: unknown[]) {
      warn(words(args));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}

/** Compiles a vega-lite spec and renders it to an SVG document string, without a DOM. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  const logger = warningLogger(options.onWarning ?? (() => undefined));
  const compiled = compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
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
export function head(
  options: ChartOptions,
  defaultTitle: string,
): {
  $schema: string;
  title: { text: string; subtitle?: string | string[] };
  width: number;
  height: number;
  config: typeof CHART_CONFIG;
} {
  const title = options.title ?? defaultTitle;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title:
      options.subtitle === undefined
        ? { text: title }
        : { text: title, subtitle: typeof options.subtitle === 'string' ? options.subtitle : [...options.subtitle] },
    width: options.width ?? CHART_WIDTH,
    height: options.height ?? CHART_HEIGHT,
    config: CHART_CONFIG,
  };
}

/** The axis unit of byte values up to `maxAbs`: lib/sizes.ts's unit, with bytes spelled out. */
export function byteUnit(maxAbs: number): { name: string; scale: number } {
  const { unit, scale } = binaryUnit(maxAbs);
  return { name: unit === 'B' ? 'bytes' : unit, scale };
}

export function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
