/**
 * `samepage predict` for people: what the snapshot holds, the counters before the policy
 * started and once settled, and the prediction with a per-process table.
 */
import Table from 'cli-table3';
import type { PredictResult, Prediction } from '../backends/model/predict.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
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

/** The prediction in words and a per-process table. */
function renderPrediction(p: Prediction): string {
  const style = { head: [], border: [] };
  const summary = new Table({ style });
  const name = p.policy === 'ksm' ? 'KSM' : 'KSM+';
  summary.push(
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
      `${name} scanner CPU`,
      `${p.cpu_s.toFixed(2)} s`,
      p.settle_s > 0 ? `${((100 * p.cpu_s) / p.settle_s).toFixed(2)} % of one CPU` : '-',
    ],
  );
  const procs = new Table({ head: ['process', 'pages', 'ksm_merging_pages', 'ksm_process_profit'], style });
  for (const [proc, r] of Object.entries(p.by_process)) {
    procs.push([proc, String(r.pages), String(r.ksm_merging_pages), formatBytes(r.ksm_process_profit)]);
  }
  return `Prediction under ${name}:\n${summary.toString()}\nPer process:\n${procs.toString()}\n`;
}
