/**
 * The charts of a run over time, from its samples (series.ts): KSM's or KSM+'s page
 * counters, the memory saved, KSM+'s rmap_items, each process's merging pages and the
 * scanner's CPU. The line is the samples' (a step function for the model, which samples
 * every change; straight between polls or records otherwise), the dots are the record
 * steps, the time axis is in the unit that suits the run (ms, s, min, h) and byte axes in
 * binary units.
 */
import { timeUnit } from '../lib/duration.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { CounterSample, Samples } from '../scenario/records.ts';
import {
  byteUnit,
  type ChartOptions,
  COUNTER_COLOURS,
  DASHES,
  head,
  LINE_LEGEND,
  PALETTE,
  type TopLevelSpec,
} from './charts.ts';

/** The global KSM counters drawn over time, in the order people reason about them. */
export const TIME_COUNTERS = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'ksm_zero_pages',
] as const;

/** KSM+'s page counters over time (it places no KSM zero pages). */
export const KSMPLUS_TIME_COUNTERS = ['pages_shared', 'pages_sharing', 'pages_unshared', 'pages_volatile'] as const;

/** Which scanner's files a chart reads: KSM's /sys/kernel/mm/ksm or the thesis's /sys/kernel/mm/ksm+. */
export type CounterSource = 'ksm' | 'ksm+';

export interface TimeChartOptions extends ChartOptions {
  /** Default 'ksm'. */
  readonly source?: CounterSource;
  /** Whether the times are the model's virtual time (default) or the wall clock of a kernel run. */
  readonly virtual?: boolean;
}

/** Processes drawn one by one in the merging chart; the rest are summed into one line. */
export const MAX_PROCESS_LINES = 8;

const scannerName = (source: CounterSource | undefined): string => (source === 'ksm+' ? 'KSM+' : 'KSM');

function files(p: CounterSample, source: CounterSource | undefined): Readonly<Record<string, number>> {
  return source === 'ksm+' ? (p.ksmplus ?? {}) : p.ksm;
}

/** One line of a chart: its name and how to read its value from a sample. */
interface Series {
  readonly name: string;
  readonly read: (p: CounterSample) => number | undefined;
}

interface LineChartInput {
  readonly samples: Samples;
  readonly series: readonly Series[];
  readonly defaultTitle: string;
  readonly yTitle: string;
  /** Divide values by this (a byte unit) before drawing. */
  readonly scale?: number;
  /** Values are whole counts: no ticks between integers. */
  readonly integers: boolean;
  /** Legend title; omitted: one line, drawn in `colours[0]` without a legend. */
  readonly legend?: string;
  readonly colours: readonly string[];
  /** A quantity that grows between samples (CPU time) is drawn straight from one to the next. */
  readonly continuous?: boolean;
  /** A dashed line at 0, for values that go negative (a profit). */
  readonly zeroLine?: boolean;
}

/**
 * A line chart of series over time. Lines use step-after interpolation for the model's
 * samples (a counter holds its value until the event that changes it) and straight lines
 * otherwise; record steps are dots on the lines.
 */
function lineChart(input: LineChartInput, options: TimeChartOptions): TopLevelSpec {
  const { samples, series } = input;
  const maxMs = Math.max(0, ...samples.points.map((p) => p.time_ms));
  const unit = timeUnit(maxMs);
  const scale = input.scale ?? 1;
  const values: Array<{ t: number; series: string; value: number; record: string | null }> = [];
  for (const p of samples.points) {
    for (const s of series) {
      const v = s.read(p);
      if (v === undefined) continue;
      values.push({ t: p.time_ms / unit.ms, series: s.name, value: v / scale, record: p.label ?? null });
    }
  }
  const names = series.map((s) => s.name);
  const allZero = values.every((v) => v.value === 0);
  const x = {
    field: 't',
    type: 'quantitative',
    title: `${options.virtual === false ? 'time' : 'virtual time'} since the start (${unit.unit})`,
    scale: { zero: true, nice: true },
    axis: { format: ',~r', labelFlush: true },
  } as const;
  const y = {
    field: 'value',
    type: 'quantitative',
    title: input.yTitle,
    // Every value 0 would make an empty domain, labelled 0.000000: give it 0..1 then.
    scale: allZero ? { domain: [0, 1] } : { zero: true },
    axis: { format: ',~r', ...(input.integers ? { tickMinStep: 1 } : {}) },
  } as const;
  const several = input.legend !== undefined;
  const colour = several
    ? ({
        color: {
          field: 'series',
          type: 'nominal',
          title: input.legend,
          scale: { domain: names, range: [...input.colours] },
          legend: { ...LINE_LEGEND, labelLimit: 300 },
        },
        // Dashes as well as colours: lines that coincide (often several at 0) stay visible.
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: input.legend,
          scale: { domain: names, range: DASHES },
          legend: { labelLimit: 300 },
        },
      } as const)
    : {};
  const interpolate = samples.every === 'change' && input.continuous !== true ? 'step-after' : 'linear';
  return {
    ...head(options, input.defaultTitle),
    data: { values },
    layer: [
      ...(input.zeroLine === true
        ? [
            {
              mark: { type: 'rule' as const, color: '#888', strokeDash: [4, 3] },
              encoding: { y: { datum: 0, type: 'quantitative' as const } },
            },
          ]
        : []),
      {
        mark: { type: 'line', interpolate, ...(several ? {} : { color: input.colours[0] }) },
        encoding: { x, y, ...colour },
      },
      {
        transform: [{ filter: 'datum.record != null' }],
        mark: { type: 'point', filled: true, size: 36, ...(several ? {} : { color: input.colours[0] }) },
        encoding: {
          x,
          y,
          ...(several
            ? { color: { field: 'series', type: 'nominal', scale: { domain: names, range: [...input.colours] } } }
            : {}),
        },
      },
    ],
  };
}

/** pages_shared, pages_sharing, pages_unshared, pages_volatile (and ksm_zero_pages) of a scanner. */
export function countersChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  const source = options.source ?? 'ksm';
  const counters: readonly string[] = source === 'ksm' ? TIME_COUNTERS : KSMPLUS_TIME_COUNTERS;
  return lineChart(
    {
      samples,
      series: counters.map((c) => ({ name: c, read: (p) => files(p, source)[c] })),
      defaultTitle: `${scannerName(source)} page counters over time`,
      yTitle: 'pages (4 KiB each)',
      integers: true,
      legend: source === 'ksm' ? '/sys/kernel/mm/ksm' : '/sys/kernel/mm/ksm+',
      colours: COUNTER_COLOURS,
    },
    options,
  );
}

/**
 * general_profit over time, in the binary unit (B, KiB, MiB, GiB) that suits its largest
 * absolute value; negative while the scanner's rmap_items cost more than it has merged.
 */
export function profitChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  const read = (p: CounterSample) => files(p, options.source).general_profit;
  const unit = byteUnit(Math.max(0, ...samples.points.map((p) => Math.abs(read(p) ?? 0))));
  return lineChart(
    {
      samples,
      series: [{ name: 'general_profit', read }],
      defaultTitle: `Memory saved by ${scannerName(options.source)} (general_profit)`,
      yTitle: `general_profit (${unit.name})`,
      scale: unit.scale,
      integers: unit.scale === 1,
      colours: ['#54a24b'],
      zeroLine: true,
    },
    options,
  );
}

/** KSM+'s rmap_items over time: its metadata, which sampling and reclamation keep small. */
export function rmapItemsChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  return lineChart(
    {
      samples,
      series: [{ name: 'rmap_items', read: (p) => p.ksmplus?.rmap_items }],
      defaultTitle: 'KSM+ rmap_items over time',
      yTitle: 'rmap_items (64 bytes each)',
      integers: true,
      colours: ['#b279a2'],
    },
    options,
  );
}

/**
 * ksm_merging_pages of each process over time: the MAX_PROCESS_LINES processes that merged
 * the most one by one, the others as one summed line.
 */
export function mergingPagesChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  const peak = new Map<string, number>();
  for (const p of samples.points)
    for (const [name, n] of Object.entries(p.merging)) peak.set(name, Math.max(peak.get(name) ?? 0, n));
  // Most merged first; ties keep the order the processes appeared in.
  const ranked = [...peak.keys()].sort((a, b) => (peak.get(b) ?? 0) - (peak.get(a) ?? 0));
  const many = ranked.length > MAX_PROCESS_LINES;
  const shown = many ? ranked.slice(0, MAX_PROCESS_LINES - 1) : ranked;
  const rest = many ? ranked.slice(MAX_PROCESS_LINES - 1) : [];
  const series: Series[] = shown.map((name) => ({ name, read: (p) => p.merging[name] }));
  if (rest.length > 0) {
    series.push({
      name: `the other ${rest.length} processes`,
      read: (p) => rest.reduce((n, name) => n + (p.merging[name] ?? 0), 0),
    });
  }
  return lineChart(
    {
      samples,
      series,
      defaultTitle: 'Merging pages per process',
      yTitle: 'ksm_merging_pages (pages)',
      integers: true,
      legend: 'process',
      colours: PALETTE,
    },
    options,
  );
}

/** The CPU time a scanner's kernel thread has used since the start (the model's cost model). */
export function cpuChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  const source = options.source ?? 'ksm';
  const maxMs = Math.max(0, ...samples.points.map((p) => p.cpu_ms?.[source] ?? 0));
  const unit = timeUnit(maxMs);
  return lineChart(
    {
      samples,
      series: [{ name: 'cpu', read: (p) => p.cpu_ms?.[source] }],
      defaultTitle: `CPU time of ${source === 'ksm' ? 'ksmd' : "KSM+'s daemon"} since the start`,
      yTitle: `CPU time (${unit.unit})`,
      scale: unit.ms,
      integers: false,
      colours: ['#e45756'],
      continuous: true,
    },
    options,
  );
}

/**
 * What merging frees over time, in binary units: the pages no longer needed (pages_sharing,
 * and for KSM ksm_zero_pages) and general_profit, which takes the rmap_items' metadata off.
 */
export function savingChart(samples: Samples, options: TimeChartOptions = {}): TopLevelSpec {
  const source = options.source ?? 'ksm';
  const said = `freed: pages_sharing${source === 'ksm' ? ' + ksm_zero_pages' : ''}; general_profit: freed less 64 bytes an rmap_item`;
  const subtitle = [...[options.subtitle ?? []].flat(), said];
  const freed = (p: CounterSample): number | undefined => {
    const f = files(p, source);
    return f.pages_sharing === undefined ? undefined : (f.pages_sharing + (f.ksm_zero_pages ?? 0)) * PAGE_SIZE;
  };
  const profit = (p: CounterSample) => files(p, source).general_profit;
  const max = Math.max(0, ...samples.points.flatMap((p) => [Math.abs(freed(p) ?? 0), Math.abs(profit(p) ?? 0)]));
  const unit = byteUnit(max);
  return lineChart(
    {
      samples,
      series: [
        { name: 'freed', read: freed },
        { name: 'general_profit', read: profit },
      ],
      defaultTitle: `Memory ${scannerName(source)} saves over time`,
      yTitle: `bytes (${unit.name})`,
      scale: unit.scale,
      integers: unit.scale === 1,
      legend: 'memory',
      colours: ['#f58518', '#54a24b'],
      zeroLine: true,
    },
    { ...options, subtitle },
  );
}
