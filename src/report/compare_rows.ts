/**
 * The side-by-side figures of `samepage compare`, once for the text table and the HTML
 * report: one row per figure, one column per policy.
 */
import Table from 'cli-table3';
import type { PolicyResult } from '../backends/model/policy.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';

export type SideBySideRow = readonly [name: string, ...values: string[]];

/** One decimal always: 39.8 MiB, not the rounded 40 MiB, when pages are compared. */
const pagesBytes = (pages: number) => formatBytes(pages * PAGE_SIZE, 1);

export function sideBySideRows(results: readonly PolicyResult[]): SideBySideRow[] {
  const row = (name: string, f: (r: PolicyResult) => string): SideBySideRow => [name, ...results.map(f)];
  return [
    row('merged pages (Σ ksm_merging_pages)', (r) => `${r.merged_pages} (${pagesBytes(r.merged_pages)})`),
    row('pages saved (pages_sharing)', (r) => `${r.pages_sharing} (${pagesBytes(r.pages_sharing)})`),
    row('rmap_items', (r) => `${r.rmap_items} (${formatBytes(r.rmap_item_bytes)})`),
    row('rmap_items at the peak', (r) => `${r.peak_rmap_items} (${formatBytes(r.peak_rmap_item_bytes)})`),
    row('vma_nodes', (r) => (r.policy === 'ksm+' ? String(r.vma_nodes) : '-')),
    row('profit (general_profit)', (r) => `${r.profit} B (${formatBytes(r.profit)})`),
    row('virtual time until merged pages settled', (r) => `${r.merged_settle_s.toFixed(1)} s`),
    row('virtual time until rmap_items settled', (r) => `${r.rmap_settle_s.toFixed(1)} s`),
    row('full scans / rounds', (r) => String(r.full_scans)),
    row(
      'scanner CPU',
      (r) =>
        `${r.cpu_s.toFixed(2)} s in ${r.run_s.toFixed(1)} s (${((100 * r.cpu_s) / Math.max(r.run_s, 1e-9)).toFixed(2)} % of a CPU)`,
    ),
  ];
}

/** The side-by-side figures as a terminal table. */
export function renderSideBySide(results: readonly PolicyResult[]): string {
  const t = new Table({ head: ['', ...results.map((r) => r.policy.toUpperCase())], style: { head: [], border: [] } });
  for (const row of sideBySideRows(results)) t.push([...row]);
  return t.toString();
}
