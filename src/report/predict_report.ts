/**
 * The HTML report of `samepage predict`: the prediction first (its headline figures, charts
 * of the saving and the scanner's CPU over virtual time and of the processes that merge,
 * the figures and per-process tables of predict.ts), then the model's run. Loaded only when
 * a report is written: it brings the chart renderer.
 */
import type { PredictResult, Prediction } from '../backends/model/predict.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { histogramChart, renderSvg } from './charts.ts';
import { escapeHtml } from './escape.ts';
import { type ExtraSection, renderHtmlReport } from './html.ts';
import { cpuShare, predictionRows, scannerName, seconds, settleDetail, unsettledWarning } from './predict.ts';
import { runSamples, spansTime } from './series.ts';
import { cpuChart, savingChart } from './time_charts.ts';

/** The four figures a reader looks for first: the saving, its net after metadata, the time and the CPU. */
function headline(p: Prediction): string {
  const share = p.pages === 0 ? '' : `, ${((100 * p.saving_pages) / p.pages).toFixed(1)} % of the ${p.pages} pages`;
  const cards: ReadonlyArray<readonly [string, string, string]> = [
    ['memory merging frees', formatBytes(p.saving_pages * PAGE_SIZE, 1), `${plural(p.saving_pages, 'page')}${share}`],
    [
      'net saving (general_profit)',
      formatBytes(p.general_profit, 1),
      `after ${formatBytes(p.rmap_item_bytes, 1)} of metadata (${plural(p.rmap_items, 'rmap_item')})`,
    ],
    ['virtual time to settle', seconds(p.settle_s), settleDetail(p)],
    [
      `${scannerName(p) === 'KSM' ? 'ksmd' : 'KSM+ scanner'} CPU`,
      seconds(p.cpu_s),
      p.run_s > 0 ? `${cpuShare(p)} of one CPU over ${seconds(p.run_s)}` : 'no time passed',
    ],
  ];
  const divs = cards.map(
    ([what, value, detail]) =>
      `<div><div class="what">${escapeHtml(what)}</div><div class="value">${escapeHtml(value)}</div><div class="detail">${escapeHtml(detail)}</div></div>`,
  );
  return `<div class="headline">\n${divs.join('\n')}\n</div>`;
}

/** Processes drawn in the per-process chart: those that merge the most. */
const MAX_PROCESS_BARS = 20;

/** The prediction as the HTML report's first section: headline figures, charts, the tables. */
export async function predictionSection(p: Prediction, run: PredictResult['run']): Promise<ExtraSection> {
  const rows = predictionRows(p)
    .map(
      ([what, value, detail]) =>
        `<tr><th scope="row">${escapeHtml(what)}</th><td>${escapeHtml(value)}</td><td>${escapeHtml(detail)}</td></tr>`,
    )
    .join('\n');
  const procs = Object.entries(p.by_process)
    .map(
      ([name, r]) =>
        `<tr><th scope="row">${escapeHtml(name)}</th><td>${r.pages}</td><td>${r.ksm_merging_pages}</td><td>${escapeHtml(formatBytes(r.ksm_process_profit, 1))}</td></tr>`,
    )
    .join('\n');
  const warning = unsettledWarning(p);
  const source = p.policy === 'ksm' ? 'ksm' : 'ksm+';
  const samples = runSamples(run);
  const options = { source, subtitle: `${plural(p.processes, 'process', 'processes')} of ${run.scenario}` } as const;
  const charts: string[] = [];
  if (spansTime(samples)) {
    charts.push(await renderSvg(savingChart(samples, options)));
    charts.push(await renderSvg(cpuChart(samples, options)));
  }
  const ranked = Object.entries(p.by_process)
    .sort(([, a], [, b]) => b.ksm_merging_pages - a.ksm_merging_pages)
    .slice(0, MAX_PROCESS_BARS);
  if (ranked.some(([, r]) => r.ksm_merging_pages > 0)) {
    const shown = ranked.length < Object.keys(p.by_process).length ? ` (the ${ranked.length} that merge most)` : '';
    charts.push(
      await renderSvg(
        histogramChart(
          ranked.map(([name, r]) => ({ label: name, count: r.ksm_merging_pages })),
          { title: `Merged pages per process${shown}`, xTitle: 'process', yTitle: 'ksm_merging_pages (pages)' },
        ),
      ),
    );
  }
  return {
    title: `Prediction under ${scannerName(p)}`,
    html: [
      `<p>${plural(p.processes, 'process', 'processes')}, ${plural(p.pages, 'anonymous page')} (${escapeHtml(formatBytes(p.pages * PAGE_SIZE))}), ${p.distinct_pages} distinct.</p>`,
      warning === undefined ? '' : `<p class="error">${escapeHtml(warning)}</p>`,
      headline(p),
      `<table class="counters prediction">\n<thead><tr><th scope="col">figure</th><th scope="col">value</th><th scope="col">in other terms</th></tr></thead>\n<tbody>\n${rows}\n</tbody>\n</table>`,
      `<table class="counters">\n<caption>Per process</caption>\n<thead><tr><th scope="col">process</th><th scope="col">pages</th><th scope="col">ksm_merging_pages</th><th scope="col">ksm_process_profit</th></tr></thead>\n<tbody>\n${procs}\n</tbody>\n</table>`,
    ]
      .filter((s) => s !== '')
      .join('\n'),
    charts,
  };
}

/**
 * The report of `samepage predict`: the prediction first, then the run on the model with
 * its records before the policy and once settled (`--json` has one per full scan) and the
 * charts of its samples.
 */
export async function renderPredictReport(file: string, { prediction, run }: PredictResult): Promise<string> {
  const ends = [run.records[0], run.records.at(-1)].filter((r) => r !== undefined);
  return renderHtmlReport({
    title: `predict ${file} under ${scannerName(prediction)}`,
    leadSections: [await predictionSection(prediction, run)],
    runs: [{ ...run, records: run.records.length > 2 ? ends : run.records }],
  });
}
