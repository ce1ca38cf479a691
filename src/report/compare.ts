import type { PolicyResult } from '../backends/model/policy.ts';
import { comparisonChart, renderSvg, type ComparisonValue } from './charts.ts';
import { escapeHtml, renderHtmlReport } from './html.ts';
import { statisticsSection } from './stats_report.ts';
import { measuredByPolicy, thesisExperiment, type ThesisComparison } from './thesis.ts';
import { sideBySideRows } from './compare_rows.ts';

/** The bars of the comparison chart: samepage's policies, then the thesis's where it gives a figure. */
function comparisonValues(name: string, results: readonly PolicyResult[]): ComparisonValue[] {
  type Measure = Pick<ComparisonValue, 'kind' | 'unit'>;
  const pages: Measure = { kind: 'count', unit: 'pages' };
  const seconds: Measure = { kind: 'seconds' };
  const metrics: ReadonlyArray<
    readonly [
      string,
      Measure,
      (r: PolicyResult) => number,
      'merged_pages' | 'rmap_items' | 'profit' | 'settle_s' | undefined,
    ]
  > = [
    ['merged pages', pages, (r) => r.merged_pages, 'merged_pages'],
    ['pages saved', pages, (r) => r.pages_sharing, undefined],
    ['rmap_items', { kind: 'count', unit: 'items' }, (r) => r.rmap_items, 'rmap_items'],
    ['profit', { kind: 'bytes' }, (r) => r.profit, 'profit'],
    ['time until merged', seconds, (r) => r.merged_settle_s, 'settle_s'],
    ['rmap_items settle time', seconds, (r) => r.rmap_settle_s, undefined],
    ['scanner CPU', seconds, (r) => r.cpu_s, undefined],
  ];
  const out: ComparisonValue[] = [];
  const exp = thesisExperiment(name);
  for (const [metric, measure, read, thesisMetric] of metrics) {
    for (const r of results) out.push({ metric, ...measure, policy: r.policy.toUpperCase(), value: read(r) });
    for (const r of results) {
      const f = exp?.figures.find(
        (x) =>
          x.policy === r.policy &&
          (x.metric === thesisMetric || (metric === 'pages saved' && x.metric === 'pages_sharing')),
      );
      if (f === undefined || measuredByPolicy(f, results) === undefined) continue;
      out.push({ metric, ...measure, policy: `${r.policy.toUpperCase()} (thesis)`, value: f.value });
    }
  }
  return out;
}

/**
 * The HTML report of a comparison: the side-by-side table and a chart of it, the thesis's
 * figures beside samepage's, then each policy's run with its charts and its settled state.
 */
export async function renderCompareReport(
  name: string,
  results: readonly PolicyResult[],
  thesis: ThesisComparison | undefined,
): Promise<string> {
  const head = `<tr><th scope="col"></th>${results.map((r) => `<th scope="col">${escapeHtml(r.policy.toUpperCase())}</th>`).join('')}</tr>`;
  const body = sideBySideRows(results).map(
    ([what, ...cells]) =>
      `<tr><th scope="row">${escapeHtml(what)}</th>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
  );
  const table = `<div class="scroll"><table class="side-by-side">\n<thead>${head}</thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table></div>`;
  const policies = results.map((r) => r.policy.toUpperCase());
  const values = comparisonValues(name, results);
  const chart = comparisonChart(values, {
    title: `${name}: ${policies.join(' vs ')}`,
    subtitle: 'each policy run on the model until its counters settled; "(thesis)": the thesis\'s figure',
    policyOrder: [
      ...policies,
      ...policies.map((p) => `${p} (thesis)`).filter((p) => values.some((v) => v.policy === p)),
    ],
  });
  const stats = results.find((r) => r.statistics !== undefined)?.statistics;
  const statsSection =
    stats === undefined
      ? []
      : [
          await statisticsSection(
            stats,
            'Duplicate-page statistics of the processes at the end',
            `${name}, the same under every policy`,
          ),
        ];
  return renderHtmlReport({
    title: `${name}: ${policies.join(' vs ')}`,
    leadSections: [{ title: 'Side by side', svg: await renderSvg(chart), html: table }, ...statsSection],
    ...(thesis === undefined ? {} : { thesis }),
    // The tables: the workload's records and the settled state (--json has every scan); the
    // charts draw the samples, which go on through the settling.
    runs: results.map((r) => ({
      ...r.run,
      backend: `model, ${r.policy}`,
      records: [...r.run.records, ...r.timeline.slice(-1)],
    })),
  });
}
