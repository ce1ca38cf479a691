/**
 * `samepage predict` for people: what the snapshot holds, the counters before the policy
 * started and once settled, and the prediction (the saving, its cost in metadata and CPU,
 * the time to settle, whether it settled) with a per-process table; the same rows for the
 * terminal and for the HTML report's first section.
 */
import Table from 'cli-table3';
import type { PredictResult, Prediction } from '../backends/model/predict.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { escapeHtml } from './escape.ts';
import type { ExtraSection } from './html.ts';
import { renderRunResult } from './table.ts';

/** The whole text output of `samepage predict FILE` (--json prints the result as it is). */
export function renderPredictResult(file: string, { prediction, run }: PredictResult): string {
  let out =
    `${file}: ${plural(prediction.processes, 'process', 'processes')}, ${plural(prediction.pages, 'anonymous page')} ` +
    `(${formatBytes(prediction.pages * PAGE_SIZE)}), ${prediction.distinct_pages} distinct\n`;
  if (prediction.synthetic_contents) {
    out +=
      'A hashes-only snapshot: which pages merge is exact, the order of the trees (and so the counts mid-scan) is not.\n';
  }
  // The record before the policy started and the settled one; --json has every scan.
  const brief = { ...run, records: [run.records[0]!, run.records.at(-1)!] };
  return `${out}${renderRunResult(brief)}\n${renderPrediction(prediction)}`;
}

/** A row: what, the figure, and the figure in other terms. */
export type PredictionRow = readonly [what: string, value: string, detail: string];

function scannerName(p: Pick<Prediction, 'policy'>): string {
  return p.policy === 'ksm' ? 'KSM' : 'KSM+';
}

/** The summary rows, in the order people read them. */
export function predictionRows(p: Prediction): PredictionRow[] {
  return [
    [
      'pages merging frees (pages_sharing + ksm_zero_pages)',
      String(p.saving_pages),
      formatBytes(p.saving_pages * PAGE_SIZE),
    ],
    ['KSM pages kept (pages_shared)', String(p.pages_shared), formatBytes(p.pages_shared * PAGE_SIZE)],
    ['rmap_items (metadata)', String(p.rmap_items), formatBytes(p.rmap_item_bytes)],
    ['general_profit', String(p.general_profit), formatBytes(p.general_profit)],
    ['virtual time to settle', `${p.settle_s.toFixed(1)} s`, plural(p.full_scans, 'full scan')],
    [
      // CPU over the whole run, the quiet scans after settling included: its share is of that span.
      `${scannerName(p)} scanner CPU`,
      `${p.cpu_s.toFixed(2)} s`,
      p.run_s > 0 ? `${((100 * p.cpu_s) / p.run_s).toFixed(2)} % of one CPU over ${p.run_s.toFixed(1)} s` : '-',
    ],
  ];
}

/** The warning an unsettled prediction carries, or undefined when it settled. */
export function unsettledWarning(p: Prediction): string | undefined {
  if (p.settled) return undefined;
  return `Not settled: ${p.unsettled ?? 'the scan stopped early'}. The figures are where the scan stopped, not what ${scannerName(p)} would reach.`;
}

/** The prediction in words and a per-process table. */
function renderPrediction(p: Prediction): string {
  const style = { head: [], border: [] };
  const summary = new Table({ style });
  summary.push(...predictionRows(p).map((r) => [...r]));
  const procs = new Table({ head: ['process', 'pages', 'ksm_merging_pages', 'ksm_process_profit'], style });
  for (const [proc, r] of Object.entries(p.by_process)) {
    procs.push([proc, String(r.pages), String(r.ksm_merging_pages), formatBytes(r.ksm_process_profit)]);
  }
  const warning = unsettledWarning(p);
  return (
    `Prediction under ${scannerName(p)}:\n${summary.toString()}\nPer process:\n${procs.toString()}\n` +
    (warning === undefined ? '' : `${warning}\n`)
  );
}

/** The prediction as the HTML report's first section. */
export function predictionSection(p: Prediction): ExtraSection {
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
      `<p>${plural(p.processes, 'process', 'processes')}, ${plural(p.pages, 'anonymous page')} (${escapeHtml(formatBytes(p.pages * PAGE_SIZE))}), ${p.distinct_pages} distinct.</p>`,
      warning === undefined ? '' : `<p class="error">${escapeHtml(warning)}</p>`,
      `<table class="counters prediction">\n<thead><tr><th scope="col">figure</th><th scope="col">value</th><th scope="col"></th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`,
      `<table class="counters">\n<caption>Per process</caption>\n<thead><tr><th scope="col">process</th><th scope="col">pages</th><th scope="col">ksm_merging_pages</th><th scope="col">ksm_process_profit</th></tr></thead>\n<tbody>\n${procs}\n</tbody>\n</table>`,
    ]
      .filter((s) => s !== '')
      .join('\n'),
  };
}
