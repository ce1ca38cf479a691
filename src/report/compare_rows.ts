/**
 * The side-by-side figures of `samepage compare`, once for the text table and the HTML
 * report: one row per figure, one column per policy.
 */
import type { PolicyResult } from '../backends/model/policy.ts';
import { formatDuration } from '../lib/duration.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { fitTable } from './fit_table.ts';
import { measuredByPolicy, type ThesisComparison, type ThesisExperiment } from './thesis.ts';
import { thesisText } from './table.ts';
import { fitText } from '../lib/text_width.ts';

export type SideBySideRow = readonly [name: string, ...values: string[]];

/** One decimal always: 39.8 MiB, not the rounded 40 MiB, when pages are compared. */
const pagesBytes = (pages: number) => formatBytes(pages * PAGE_SIZE, 1);

const seconds = (s: number): string => formatDuration(s * 1e9);

export function sideBySideRows(results: readonly PolicyResult[]): SideBySideRow[] {
  const row = (name: string, f: (r: PolicyResult) => string): SideBySideRow => [name, ...results.map(f)];
  return [
    row('merged pages (Σ ksm_merging_pages)', (r) => `${r.merged_pages} (${pagesBytes(r.merged_pages)})`),
    row('pages saved (pages_sharing)', (r) => `${r.pages_sharing} (${pagesBytes(r.pages_sharing)})`),
    row('rmap_items', (r) => `${r.rmap_items} (${formatBytes(r.rmap_item_bytes)})`),
    row('rmap_items at the peak', (r) => `${r.peak_rmap_items} (${formatBytes(r.peak_rmap_item_bytes)})`),
    row('vma_nodes (plus: regions still sampled)', (r) => (r.policy === 'ksm' ? '-' : String(r.vma_nodes))),
    row('profit (general_profit)', (r) => `${r.profit} B (${formatBytes(r.profit, 1)})`),
    row('virtual time until merged pages settled', (r) => seconds(r.merged_settle_s)),
    row('virtual time until rmap_items settled', (r) => seconds(r.rmap_settle_s)),
    row('full scans / rounds', (r) => String(r.full_scans)),
    row(
      'scanner CPU (plus: ksmd)',
      (r) =>
        `${seconds(r.cpu_s)} in ${seconds(r.run_s)} (${((100 * r.cpu_s) / Math.max(r.run_s, 1e-9)).toFixed(2)} % of a CPU)`,
    ),
    ...(results.some((r) => r.daemon !== undefined)
      ? [
          row('daemon: marked ranges (pages)', (r) =>
            r.daemon === undefined ? '-' : `${r.daemon.marked_ranges} (${r.daemon.marked_pages})`,
          ),
          row('daemon: pages read, rounds', (r) =>
            r.daemon === undefined ? '-' : `${r.daemon.pages_scanned}, ${r.daemon.rounds}`,
          ),
          row('daemon: CPU (live costs), own data', (r) =>
            r.daemon === undefined ? '-' : `${r.daemon.cpu_s.toFixed(2)} s, ${formatBytes(r.daemon.policy_bytes)}`,
          ),
        ]
      : []),
  ];
}

/**
 * `samepage compare`'s text: the workload and what it is, the policies side by side, and the
 * thesis's figures beside them when the workload is one of its experiments.
 */
export function renderCompare(
  scenario: { readonly name: string; readonly description?: string | undefined },
  results: readonly PolicyResult[],
  thesis: ThesisComparison | undefined,
  width: number | undefined,
): string {
  const about = scenario.description === undefined ? scenario.name : `${scenario.name}: ${scenario.description}`;
  const head = fitText(about, width);
  return `${head}\n${renderSideBySide(results, width)}\n${thesisText(thesis, width)}`;
}

/** The side-by-side figures as a terminal table, fitted to `width` columns. */
export function renderSideBySide(results: readonly PolicyResult[], width?: number): string {
  return fitTable(
    [
      { head: '', wrap: true },
      ...results.map((r) => ({
        head: r.policy === 'plus' ? 'PLUS (the daemon)' : r.policy.toUpperCase(),
        align: 'right' as const,
        wrap: true,
      })),
    ],
    sideBySideRows(results),
    { width },
  );
}

/**
 * `samepage compare --json`: each policy's figures (without the timeline and statistics the
 * report draws), whether its run succeeded and why not, and the thesis's figures beside
 * samepage's where the workload is one of its experiments (else null).
 */
export function compareJson(
  scenario: string,
  results: readonly PolicyResult[],
  failures: ReadonlyArray<string | undefined>,
  exp: ThesisExperiment | undefined,
): unknown {
  const out = results.map(({ run, timeline: _t, statistics: _s, ...r }, i) => {
    const failure = failures[i];
    return { ...r, ok: run.ok, ...(failure === undefined ? {} : { failure }) };
  });
  const figures = exp?.figures.map((f) => ({ ...f, samepage: measuredByPolicy(f, results) ?? null })) ?? null;
  return { scenario, results: out, thesis: figures };
}
