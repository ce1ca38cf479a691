/**
 * `samepage kernel export`: the live KSM in the Prometheus text exposition format (0.0.4)
 * or OpenMetrics 1.0, whichever the scraper asks for. Names follow Prometheus's
 * conventions: a `samepage_` prefix, base units in the name (`_bytes`, `_seconds`, `_ratio`),
 * `_total` on counters only, HELP and TYPE for every family (and UNIT in OpenMetrics).
 *
 * Every file of /sys/kernel/mm/ksm is a family here (KSM_METRICS; a test checks the list
 * against lib/ksm_files.ts), in base units: sleep_millisecs becomes
 * samepage_ksm_sleep_seconds, advisor_max_cpu (percent) samepage_ksm_advisor_max_cpu_ratio,
 * and the advisor mode one series per mode, 1 for the selected one. Who saves what comes per
 * process and per cgroup, bounded to the top N rows plus one `other` series each, so a host
 * with thousands of processes gives a bounded number of series.
 */
import type { AttributionGroup } from '../attribution/group.ts';
import type { ExportReading } from '../host/ksm_export.ts';
import type { KsmSysfsFile } from '../lib/ksm_files.ts';

export type MetricType = 'counter' | 'gauge';

/** How one /sys/kernel/mm/ksm file is exported. */
export interface KsmMetric {
  /** The family name (without `_total` for counters). */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** The file's value divided by this is the metric's value (milliseconds to seconds: 1000). */
  readonly divisor?: number;
  /** `bytes` or `seconds`, for OpenMetrics's UNIT line (the name ends with it). */
  readonly unit?: string;
  /** A selector file (advisor_mode): one series per word, 1 for the selected one. */
  readonly choices?: readonly string[];
}

const K = 'samepage_ksm_';

/** Every file of /sys/kernel/mm/ksm (Linux 6.18), as a metric family. */
export const KSM_METRICS: Readonly<Record<KsmSysfsFile, KsmMetric>> = {
  advisor_max_cpu: {
    name: `${K}advisor_max_cpu_ratio`,
    type: 'gauge',
    help: 'advisor_max_cpu: the CPU share the scan-time advisor lets ksmd use (0-1).',
    divisor: 100,
  },
  advisor_max_pages_to_scan: {
    name: `${K}advisor_max_pages_to_scan`,
    type: 'gauge',
    help: 'advisor_max_pages_to_scan: the most pages per batch the advisor sets.',
  },
  advisor_min_pages_to_scan: {
    name: `${K}advisor_min_pages_to_scan`,
    type: 'gauge',
    help: 'advisor_min_pages_to_scan: the fewest pages per batch the advisor sets.',
  },
  advisor_mode: {
    name: `${K}advisor_mode`,
    type: 'gauge',
    help: 'advisor_mode: 1 for the selected mode, 0 for the others.',
    choices: ['none', 'scan-time'],
  },
  advisor_target_scan_time: {
    name: `${K}advisor_target_scan_time_seconds`,
    type: 'gauge',
    help: 'advisor_target_scan_time: the full-scan time the advisor aims at.',
    unit: 'seconds',
  },
  full_scans: { name: `${K}full_scans`, type: 'counter', help: 'full_scans: full scans ksmd completed.' },
  general_profit: {
    name: `${K}general_profit_bytes`,
    type: 'gauge',
    help: "general_profit: (pages_sharing + ksm_zero_pages) x page size less every rmap_item's 64 bytes.",
    unit: 'bytes',
  },
  ksm_zero_pages: {
    name: `${K}zero_pages`,
    type: 'gauge',
    help: 'ksm_zero_pages: pages KSM mapped to the zero page (use_zero_pages).',
  },
  max_page_sharing: {
    name: `${K}max_page_sharing`,
    type: 'gauge',
    help: 'max_page_sharing: mappings per KSM page before another copy (a stable_node chain dup) is made.',
  },
  merge_across_nodes: {
    name: `${K}merge_across_nodes`,
    type: 'gauge',
    help: 'merge_across_nodes: 1 when pages of different NUMA nodes may merge.',
  },
  pages_scanned: { name: `${K}pages_scanned`, type: 'counter', help: 'pages_scanned: pages ksmd has scanned.' },
  pages_shared: {
    name: `${K}pages_shared`,
    type: 'gauge',
    help: 'pages_shared: KSM pages in use (stable nodes with at least one rmap_item).',
  },
  pages_sharing: {
    name: `${K}pages_sharing`,
    type: 'gauge',
    help: 'pages_sharing: further mappings of KSM pages, i.e. pages saved.',
  },
  pages_skipped: {
    name: `${K}pages_skipped`,
    type: 'counter',
    help: 'pages_skipped: pages smart_scan skipped.',
  },
  pages_to_scan: { name: `${K}pages_to_scan`, type: 'gauge', help: 'pages_to_scan: pages per ksmd batch.' },
  pages_unshared: {
    name: `${K}pages_unshared`,
    type: 'gauge',
    help: 'pages_unshared: pages in the unstable tree, unique so far.',
  },
  pages_volatile: {
    name: `${K}pages_volatile`,
    type: 'gauge',
    help: 'pages_volatile: pages changing too fast to enter a tree.',
  },
  run: { name: `${K}run`, type: 'gauge', help: 'run: 0 stopped, 1 running, 2 unmerge everything.' },
  sleep_millisecs: {
    name: `${K}sleep_seconds`,
    type: 'gauge',
    help: 'sleep_millisecs: how long ksmd sleeps between batches.',
    divisor: 1000,
    unit: 'seconds',
  },
  smart_scan: { name: `${K}smart_scan`, type: 'gauge', help: 'smart_scan: 1 when pages that never merge are skipped.' },
  stable_node_chains: {
    name: `${K}stable_node_chains`,
    type: 'gauge',
    help: 'stable_node_chains: contents with more KSM pages than one (max_page_sharing reached).',
  },
  stable_node_chains_prune_millisecs: {
    name: `${K}stable_node_chains_prune_seconds`,
    type: 'gauge',
    help: 'stable_node_chains_prune_millisecs: how often stale chain dups are pruned.',
    divisor: 1000,
    unit: 'seconds',
  },
  stable_node_dups: {
    name: `${K}stable_node_dups`,
    type: 'gauge',
    help: 'stable_node_dups: KSM pages that are dups of a stable_node chain.',
  },
  use_zero_pages: {
    name: `${K}use_zero_pages`,
    type: 'gauge',
    help: 'use_zero_pages: 1 when empty pages are merged with the zero page.',
  },
};

/** What one scrape shows: host/ksm_export.ts reads it. */
export type MetricsInput = ExportReading;

export type MetricsFormat = 'prometheus' | 'openmetrics';

export const CONTENT_TYPES: Readonly<Record<MetricsFormat, string>> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** OpenMetrics when the Accept header asks for it, the classic text format otherwise. */
export function negotiateFormat(accept: string | undefined): MetricsFormat {
  return accept !== undefined && /application\/openmetrics-text/.test(accept) ? 'openmetrics' : 'prometheus';
}

/** A label value escaped as both formats require: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaped: backslash and newline (and, in OpenMetrics, double quote too). */
function escapeHelp(v: string, format: MetricsFormat): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? s.replace(/"/g, '\\"') : s;
}

/** A number as both formats write it. */
function value(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

type Labels = ReadonlyArray<readonly [string, string]>;

/** Writes metric families, each once, in order. */
class Writer {
  readonly #format: MetricsFormat;
  readonly #lines: string[] = [];

  constructor(format: MetricsFormat) {
    this.#format = format;
  }

  family(
    name: string,
    type: MetricType,
    help: string,
    unit: string | undefined,
    samples: ReadonlyArray<readonly [Labels, number]>,
  ): void {
    if (samples.length === 0) return;
    const om = this.#format === 'openmetrics';
    const sampleName = type === 'counter' ? `${name}_total` : name;
    // A counter's family is named without _total in OpenMetrics, with it in the text format.
    const family = om ? name : sampleName;
    this.#lines.push(`# HELP ${family} ${escapeHelp(help, this.#format)}`);
    this.#lines.push(`# TYPE ${family} ${type}`);
    if (om && unit !== undefined) this.#lines.push(`# UNIT ${family} ${unit}`);
    for (const [labels, v] of samples) {
      const l = labels.length === 0 ? '' : `{${labels.map(([k, x]) => `${k}="${escapeLabel(x)}"`).join(',')}}`;
      this.#lines.push(`${sampleName}${l} ${value(v)}`);
    }
  }

  text(): string {
    return `${this.#lines.join('\n')}\n${this.#format === 'openmetrics' ? '# EOF\n' : ''}`;
  }
}

/** The labels of a process row: pid, comm, cgroup (all "other" for the rest). */
function processLabels(g: AttributionGroup): Labels {
  return [
    ['pid', g.key],
    ['comm', g.comm ?? g.key],
    ['cgroup', g.cgroup ?? g.key],
  ];
}

/** The per-row families of who saves what, for `processes` or `cgroups`. */
function rowFamilies(w: Writer, what: 'process' | 'cgroup', rows: readonly AttributionGroup[]): void {
  const p = `samepage_${what}_ksm_`;
  const labels = (g: AttributionGroup): Labels => (what === 'process' ? processLabels(g) : [['cgroup', g.key]]);
  const each = (f: (g: AttributionGroup) => number): Array<readonly [Labels, number]> =>
    rows.map((g) => [labels(g), f(g)] as const);
  const whom = what === 'process' ? 'the process' : "the cgroup's processes";
  w.family(
    `${p}saved_bytes`,
    'gauge',
    `Memory KSM saves attributed to ${whom}: each mapping of a KSM page with n mappings credits (n-1)/n page, KSM zero pages whole; the series add up to (pages_sharing + ksm_zero_pages) x page size.`,
    'bytes',
    each((g) => g.saved_bytes),
  );
  w.family(
    `${p}profit_bytes`,
    'gauge',
    `Attributed saving of ${whom} less its rmap_items (64 bytes each); the series add up to general_profit.`,
    'bytes',
    each((g) => g.profit_bytes),
  );
  w.family(
    `${p}process_profit_bytes`,
    'gauge',
    `Linux's ksm_process_profit of ${whom} (summed): counts every mapper of a KSM page with the whole page, so the series overcount.`,
    'bytes',
    each((g) => g.ksm_process_profit),
  );
  w.family(
    `${p}rmap_items`,
    'gauge',
    `rmap_items of ${whom} (ksm_stat ksm_rmap_items).`,
    undefined,
    each((g) => g.ksm_rmap_items),
  );
  w.family(
    `${p}zero_pages`,
    'gauge',
    `KSM zero pages of ${whom} (ksm_stat ksm_zero_pages).`,
    undefined,
    each((g) => g.ksm_zero_pages),
  );
  w.family(
    `${p}merging_pages`,
    'gauge',
    `Pages of ${whom} merged into KSM pages (ksm_stat ksm_merging_pages).`,
    undefined,
    each((g) => g.ksm_merging_pages),
  );
  w.family(
    `${p}ksmd_work_ratio`,
    'gauge',
    `Share of ksmd's scanning work that is ${whom}'s: its rmap_items over all (a full scan visits each once); times rate(samepage_ksmd_cpu_seconds_total) it is its ksmd CPU rate.`,
    'ratio',
    each((g) => g.ksmd_work_share),
  );
  if (what === 'cgroup')
    w.family(
      'samepage_cgroup_ksm_processes',
      'gauge',
      'Processes using KSM in the cgroup.',
      undefined,
      each((g) => g.processes),
    );
}

/** The exposition of one scrape. */
export function renderMetrics(m: MetricsInput, format: MetricsFormat): string {
  const w = new Writer(format);
  for (const [file, metric] of Object.entries(KSM_METRICS) as Array<[KsmSysfsFile, KsmMetric]>) {
    const v = m.ksm[file];
    if (v === undefined) continue;
    if (metric.choices !== undefined) {
      w.family(
        metric.name,
        metric.type,
        metric.help,
        metric.unit,
        metric.choices.map((c) => [[['mode', c]], c === v ? 1 : 0] as const),
      );
      continue;
    }
    if (typeof v !== 'number') continue;
    w.family(metric.name, metric.type, metric.help, metric.unit, [[[], v / (metric.divisor ?? 1)]]);
  }
  if (m.ksmdCpuSeconds !== undefined)
    w.family('samepage_ksmd_cpu_seconds', 'counter', "ksmd's CPU time since boot.", 'seconds', [
      [[], m.ksmdCpuSeconds],
    ]);
  w.family(
    'samepage_attribution_up',
    'gauge',
    m.attributionError === undefined
      ? '1 when who saves what could be read (root: pagemap frame numbers and /proc/kpageflags).'
      : `0: who saves what could not be read: ${m.attributionError}.`,
    undefined,
    [[[], m.attribution === undefined ? 0 : 1]],
  );
  const a = m.attribution;
  if (a !== undefined) {
    const t = a.totals;
    w.family(
      'samepage_ksm_attributed_saved_bytes',
      'gauge',
      'Sum of the attributed savings of every process (equals (pages_sharing + ksm_zero_pages) x page size once ksmd has caught up).',
      'bytes',
      [[[], t.attributed_bytes]],
    );
    w.family(
      'samepage_ksm_attribution_residual_pages',
      'gauge',
      'pages_sharing + ksm_zero_pages less the attributed pages: KSM counters ksmd has not yet brought up to date (CoW breaks, exits).',
      undefined,
      [[[], t.residual_pages]],
    );
    w.family(
      'samepage_ksm_unscanned_mappings',
      'gauge',
      'Mappings of KSM pages that ksmd has not scanned yet (children since fork): not counted.',
      undefined,
      [[[], t.unscanned_mappings]],
    );
    w.family(
      'samepage_ksm_process_profit_sum_bytes',
      'gauge',
      "Linux's ksm_process_profit summed over processes: more than general_profit by one page per KSM page.",
      'bytes',
      [[[], t.naive_profit_bytes]],
    );
    rowFamilies(w, 'process', a.processes);
    rowFamilies(w, 'cgroup', a.cgroups);
  }
  w.family(
    'samepage_scrape_duration_seconds',
    'gauge',
    'How long reading the machine took for this scrape.',
    'seconds',
    [[[], m.scrapeSeconds]],
  );
  w.family('samepage_exporter_cpu_seconds', 'counter', "The exporter's own CPU time (user + system).", 'seconds', [
    [[], m.exporterCpuSeconds],
  ]);
  return w.text();
}
