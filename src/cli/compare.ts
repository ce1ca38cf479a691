/**
 * `samepage compare FILE --policy ksm,ksm+`: runs one workload under each policy on the model
 * until its counters settle and prints them side by side, like the thesis's Table 5-2, with
 * the thesis's own figures beside samepage's where the workload is one of its experiments.
 */
import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { runPolicy, type Policy, type PolicyResult } from '../backends/model/policy.ts';
import { loadScenario } from '../scenario/load.ts';
import { formatProblems } from '../scenario/parse.ts';

/** Figures the thesis reports for its experiments, per policy. */
interface ThesisFigures {
  readonly source: string;
  readonly merged_pages?: number;
  readonly rmap_items?: number;
  readonly settle_s?: number;
  readonly note: string;
}

const THESIS: Readonly<Record<string, Partial<Record<Policy, ThesisFigures>>>> = {
  'thesis-5.2.3': {
    ksm: { source: 'Table 5-2', merged_pages: 256, rmap_items: 25600, note: 'merged 1 MB; system memory +0.6 MB' },
    'ksm+': { source: 'Table 5-2', merged_pages: 512, rmap_items: 1027, note: 'merged 2 MB; system memory -1.3 MB' },
  },
  'thesis-5.1.1': {
    'ksm+': { source: 'section 5.1.1', merged_pages: 10240, settle_s: 65, note: 'about 40 MB saved in about 65 s' },
  },
};

function parsePolicies(v: string): Policy[] {
  const list = v.split(',').map((p) => p.trim());
  for (const p of list) if (p !== 'ksm' && p !== 'ksm+') throw new InvalidArgumentError(`Unknown policy "${p}": use ksm, ksm+ or both`);
  return list as Policy[];
}

const mib = (pages: number) => `${((pages * 4096) / 2 ** 20).toFixed(1)} MiB`;

function table(results: readonly PolicyResult[], thesis: Partial<Record<Policy, ThesisFigures>> | undefined): string {
  const t = new Table({ head: ['', ...results.map((r) => r.policy.toUpperCase())], style: { head: [], border: [] } });
  const row = (name: string, f: (r: PolicyResult) => string) => t.push([name, ...results.map(f)]);
  row('merged pages (Σ ksm_merging_pages)', (r) => `${r.merged_pages} (${mib(r.merged_pages)})`);
  row('pages saved (pages_sharing)', (r) => `${r.pages_sharing} (${mib(r.pages_sharing)})`);
  row('rmap_items', (r) => `${r.rmap_items} (${(r.rmap_item_bytes / 1024).toFixed(0)} KiB)`);
  row('vma_nodes', (r) => (r.policy === 'ksm+' ? String(r.vma_nodes) : '-'));
  row('profit (general_profit)', (r) => `${r.profit} B (${(r.profit / 2 ** 20).toFixed(2)} MiB)`);
  row('virtual time to settle', (r) => `${r.settle_s.toFixed(1)} s`);
  row('full scans / rounds', (r) => String(r.full_scans));
  row('scanner CPU', (r) => `${r.cpu_s.toFixed(2)} s (${((100 * r.cpu_s) / Math.max(r.settle_s, 1e-9)).toFixed(2)} % until settled)`);
  if (thesis !== undefined) {
    row('thesis: merged pages', (r) => String(thesis[r.policy]?.merged_pages ?? '-'));
    row('thesis: rmap_items', (r) => String(thesis[r.policy]?.rmap_items ?? '-'));
    row('thesis: time', (r) => (thesis[r.policy]?.settle_s === undefined ? '-' : `about ${thesis[r.policy]!.settle_s} s`));
    row('thesis: note', (r) => (thesis[r.policy] === undefined ? '-' : `${thesis[r.policy]!.note} (${thesis[r.policy]!.source})`));
  }
  return t.toString();
}

export interface CompareIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export function registerCompare(program: Command, io: CompareIo, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description('run one workload under KSM and under KSM+ on the model until the counters settle, side by side')
    .argument('<file>', 'a workload scenario (it should not switch KSM on itself: compare does, before the first wait)')
    .option('--policy <list>', 'policies to run, comma-separated: ksm, ksm+', parsePolicies, ['ksm', 'ksm+'] as Policy[])
    .option('--seed <n>', 'seed of the model (KSM+ samples pages at random)', (v) => Number(v), 0)
    .option('--json', 'print the results as JSON')
    .option('--report <file>', 'also write a self-contained HTML report with charts')
    .addHelpText('after', '\nKSM is switched on with run=1; KSM+ by naming every program the workload starts in\n' +
      '/sys/kernel/mm/ksm+/processes_to_scan, then run=1. Each policy then runs until its merged pages\n' +
      '(and, for KSM, rmap_items) stop changing for 3 full scans (KSM+: once sampling reached its floor).')
    .action(async (file: string, opts: { policy: Policy[]; seed: number; json?: true; report?: string }) => {
      const parsed = await loadScenario(file);
      if (!parsed.ok) {
        io.stderr.write(`${formatProblems(file, parsed.problems)}\n`);
        setExit(2);
        return;
      }
      const results: PolicyResult[] = [];
      for (const policy of opts.policy) {
        io.stderr.write(`running ${parsed.scenario.name} under ${policy}...\n`);
        results.push(await runPolicy(parsed.scenario, policy, { seed: opts.seed }));
      }
      const thesis = THESIS[parsed.scenario.name];
      if (opts.json === true) {
        const out = results.map(({ run: _run, timeline: _t, ...r }) => ({ ...r, thesis: thesis?.[r.policy] ?? null }));
        io.stdout.write(`${JSON.stringify({ scenario: parsed.scenario.name, results: out }, null, 2)}\n`);
      } else {
        io.stdout.write(`${parsed.scenario.name}: ${parsed.scenario.description ?? ''}\n${table(results, thesis)}\n`);
      }
      if (opts.report !== undefined) {
        const { renderCompareReport } = await import('./compare_report.ts');
        await writeFile(opts.report, await renderCompareReport(parsed.scenario.name, results));
        io.stderr.write(`report written to ${opts.report}\n`);
      }
      setExit(results.some((r) => !r.run.ok) ? 1 : 0);
    });
}
