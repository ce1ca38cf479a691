/**
 * `samepage predict` for people: what the snapshot holds, the counters before the policy
 * started and once settled, and the prediction (the saving, its cost in metadata and CPU,
 * the time to settle, whether it settled) with a per-process table; the same rows serve
 * the HTML report (predict_report.ts).
 */
import type { PredictResult, Prediction } from '../backends/model/predict.ts';
import { formatDuration } from '../lib/duration.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { renderRunResult } from './table.ts';
import { fitTable } from './fit_table.ts';
import { fitText } from '../lib/text_width.ts';

/** The whole text output of `samepage predict FILE` (--json prints the result as it is). */
export function renderPredictResult(file: string, { prediction, run }: PredictResult, width?: number): string {
  let out = `${fitText(
    `${file}: ${plural(prediction.processes, 'process', 'processes')}, ${plural(prediction.pages, 'anonymous page')} ` +
      `(${formatBytes(prediction.pages * PAGE_SIZE)}), ${prediction.distinct_pages} distinct`,
    width,
  )}\n`;
  if (prediction.synthetic_contents) {
    out += `${fitText(
      'A hashes-only snapshot: which pages merge is exact, the order of the trees (and so the counts mid-scan) is not.',
      width,
    )}\n`;
  }
  // The record before the policy started and the settled one; --json has every scan.
  const brief = { ...run, records: [run.records[0]!, run.records.at(-1)!] };
  return `${out}${renderRunResult(brief, { width })}\n${renderPrediction(prediction, width)}`;
}

/** A row: what, the figure, and the figure in other terms. */
export type PredictionRow = readonly [what: string, value: string, detail: string];

export function scannerName(p: Pick<Prediction, 'policy'>): string {
  return p.policy === 'ksm' ? 'KSM' : p.policy === 'ksm+' ? 'KSM+' : 'the KSM+ daemon (plus)';
}

/** The summary rows, in the order people read them (memory in binary units, one decimal). */
export function predictionRows(p: Prediction): PredictionRow[] {
  return [
    [
      'pages merging frees (pages_sharing + ksm_zero_pages)',
      String(p.saving_pages),
      formatBytes(p.saving_pages * PAGE_SIZE, 1),
    ],
    ['KSM pages kept (pages_shared)', String(p.pages_shared), formatBytes(p.pages_shared * PAGE_SIZE, 1)],
    ['rmap_items (metadata)', String(p.rmap_items), formatBytes(p.rmap_item_bytes, 1)],
    ['general_profit', String(p.general_profit), formatBytes(p.general_profit, 1)],
    ['virtual time to settle', seconds(p.settle_s), settleDetail(p)],
    [
      // CPU over the whole run, the quiet scans after settling included: its share is of that span.
      p.policy === 'plus' ? 'ksmd CPU' : `${scannerName(p)} scanner CPU`,
      seconds(p.cpu_s),
      p.run_s > 0 ? `${cpuShare(p)} of one CPU over ${seconds(p.run_s)}` : '-',
    ],
    ...(p.daemon === undefined ? [] : daemonRows(p.daemon)),
  ];
}

/** plus: what the daemon marked, read and cost. */
function daemonRows(d: NonNullable<Prediction['daemon']>): PredictionRow[] {
  return [
    ['daemon: marked ranges', String(d.marked_ranges), `${d.marked_pages} pages`],
    ['daemon: pages read', String(d.pages_scanned), plural(d.rounds, 'round')],
    ['daemon: CPU (live costs), own data', `${d.cpu_s.toFixed(2)} s`, formatBytes(d.policy_bytes)],
  ];
}

/**
 * What the settle time means beside the run's length: the counters last changed then, and
 * the scans after it (which the run's "settled" record closes) changed nothing.
 */
export function settleDetail(p: Prediction): string {
  const scans = `${plural(p.full_scans, 'full scan')} in ${seconds(p.run_s)}`;
  return p.settled ? `unchanged after it: ${scans}` : `not settled after ${scans}`;
}

export const seconds = (s: number): string => formatDuration(s * 1e9);

/** The scanner's CPU time as a share of one CPU over the time it ran. */
export function cpuShare(p: Prediction): string {
  return `${((100 * p.cpu_s) / p.run_s).toFixed(2)} %`;
}

/** The warning an unsettled prediction carries, or undefined when it settled. */
export function unsettledWarning(p: Prediction): string | undefined {
  if (p.settled) return undefined;
  return `Not settled: ${p.unsettled ?? 'the scan stopped early'}. The figures are where the scan stopped, not what ${scannerName(p)} would reach.`;
}

/** The prediction in words and a per-process table, fitted to `width` columns. */
function renderPrediction(p: Prediction, width: number | undefined): string {
  const summary = fitTable(
    [
      { head: 'figure', wrap: true },
      { head: 'value', align: 'right' },
      { head: 'in other terms', wrap: true },
    ],
    predictionRows(p),
    { width },
  );
  const procs = fitTable(
    [
      { head: 'process', wrap: true },
      // On a narrow terminal the snapshot's own size goes first, then the profit.
      { head: 'pages', align: 'right', drop: 2 },
      { head: 'ksm_merging_pages', align: 'right' },
      { head: 'ksm_process_profit', align: 'right', drop: 1 },
    ],
    Object.entries(p.by_process).map(([proc, r]) => [
      proc,
      String(r.pages),
      String(r.ksm_merging_pages),
      formatBytes(r.ksm_process_profit, 1),
    ]),
    { width, compact: true },
  );
  const warning = unsettledWarning(p);
  return (
    `Prediction under ${scannerName(p)}:\n${summary}\nPer process:\n${procs}\n` +
    (warning === undefined ? '' : `${fitText(warning, width)}\n`)
  );
}
