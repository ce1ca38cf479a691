import type { PolicyResult } from '../backends/model/policy.ts';
import { renderHtmlReport } from '../report/html.ts';

/** The HTML report of a comparison: each policy's run and timeline, charts included. */
export async function renderCompareReport(name: string, results: readonly PolicyResult[]): Promise<string> {
  return renderHtmlReport({
    title: `${name}: ${results.map((r) => r.policy.toUpperCase()).join(' vs ')}`,
    runs: results.map((r) => ({ ...r.run, backend: `model, ${r.policy}`, records: [...r.run.records, ...r.timeline] })),
  });
}
