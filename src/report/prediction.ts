/**
 * What `samepage predict` found, for people: the saving, its cost in metadata and CPU, the
 * time to settle, and whether it settled; one list of rows for the terminal and the HTML
 * report alike. Plain data in (the prediction's JSON shape), text out.
 */
import { formatBytes } from '../lib/sizes.ts';
import { plural } from '../lib/plural.ts';
import { escapeHtml } from './escape.ts';
import type { ExtraSection } from './html.ts';

/** The fields of a prediction shown here (backends/model/predict.ts's Prediction has them). */
export interface PredictionFigures {
  readonly policy: 'ksm' | 'ksm+';
  readonly processes: number;
  readonly pages: number;
  readonly distinct_pages: number;
  readonly saving_pages: number;
  readonly pages_shared: number;
  readonly rmap_items: number;
  readonly rmap_item_bytes: number;
  readonly general_profit: number;
  readonly settle_s: number;
  readonly cpu_s: number;
  readonly full_scans: number;
  readonly settled: boolean;
  readonly unsettled?: string;
  readonly by_process: Readonly<
    Record<string, { readonly pages: number; readonly ksm_merging_pages: number; readonly ksm_process_profit: number }>
  >;
}

/** A row: what, the figure, and the figure in other terms. */
export type PredictionRow = readonly [what: string, value: string, detail: string];

export function scannerName(p: Pick<PredictionFigures, 'policy'>): string {
  return p.policy === 'ksm' ? 'KSM' : 'KSM+';
}

/** The summary rows, in the order people read them. */
export function predictionRows(p: PredictionFigures): PredictionRow[] {
  return [
    [
      'pages merging frees (pages_sharing + ksm_zero_pages)',
      String(p.saving_pages),
      formatBytes(p.saving_pages * 4096),
    ],
    ['KSM pages kept (pages_shared)', String(p.pages_shared), formatBytes(p.pages_shared * 4096)],
    ['rmap_items (metadata)', String(p.rmap_items), formatBytes(p.rmap_item_bytes)],
    ['general_profit', String(p.general_profit), formatBytes(p.general_profit)],
    ['virtual time to settle', `${p.settle_s.toFixed(1)} s`, plural(p.full_scans, 'full scan')],
    [
      `${scannerName(p)} scanner CPU`,
      `${p.cpu_s.toFixed(2)} s`,
      p.settle_s > 0 ? `${((100 * p.cpu_s) / p.settle_s).toFixed(2)} % of one CPU` : '-',
    ],
  ];
}

/** The warning an unsettled prediction carries, or undefined when it settled. */
export function unsettledWarning(p: PredictionFigures): string | undefined {
  if (p.settled) return undefined;
  return `Not settled: ${p.unsettled ?? 'the scan stopped early'}. The figures are where the scan stopped, not what ${scannerName(p)} would reach.`;
}

/** The prediction as the HTML report's first section. */
export function predictionSection(p: PredictionFigures): ExtraSection {
  const rows = predictionRows(p)
    .map(
      ([what, value, detail]) =>
        `<tr><th scope="row">${escapeHtml(what)}</th><td>${escapeHtml(value)}</td><td>${escapeHtml(detail)}</td></tr>`,
    )
    .join('\n');
  const procs = Object.entries(p.by_process)
    .map(
      ([name, r]) =>
        `<tr><th scope="row">${escapeHtml(name)}</th><td>${r.pages}</td><td>${r.ksm_merging_pages}</td><td>${escapeHtml(formatBytes(r.ksm_process_profit))}</td></tr>`,
    )
    .join('\n');
  const warning = unsettledWarning(p);
  return {
    title: `Prediction under ${scannerName(p)}`,
    html: [
      `<p>${plural(p.processes, 'process', 'processes')}, ${plural(p.pages, 'anonymous page')} (${escapeHtml(formatBytes(p.pages * 4096))}), ${p.distinct_pages} distinct.</p>`,
      warning === undefined ? '' : `<p class="error">${escapeHtml(warning)}</p>`,
      `<table class="counters prediction">\n<thead><tr><th scope="col">figure</th><th scope="col">value</th><th scope="col"></th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`,
      `<table class="counters">\n<caption>Per process</caption>\n<thead><tr><th scope="col">process</th><th scope="col">pages</th><th scope="col">ksm_merging_pages</th><th scope="col">ksm_process_profit</th></tr></thead>\n<tbody>\n${procs}\n</tbody>\n</table>`,
    ]
      .filter((s) => s !== '')
      .join('\n'),
  };
}
