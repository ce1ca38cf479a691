/**
 * `samepage compare FILE --policy ksm,ksm+`: runs one workload under each policy on the model
 * until its counters settle and prints them side by side, like the thesis's Table 5-2, with
 * the thesis's own figures beside samepage's where the workload is one of its experiments.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { POLICIES, runPolicy, type Policy, type PolicyResult } from '../backends/model/policy.ts';
import { runFailure, thesisText } from '../report/table.ts';
import { measuredByPolicy, thesisComparison, thesisExperiment } from '../report/thesis.ts';
import { compareJson, renderSideBySide } from '../report/compare_rows.ts';
import { refuseReportOverInput } from './report_file.ts';
import { loadScenarioFile } from './errors.ts';
import { Output } from './output.ts';
import { parseSeed } from './args.ts';
import { wrapText } from '../lib/text_width.ts';
import type { Io } from './run_program.ts';

function parsePolicies(v: string): Policy[] {
  const list = v.split(',').map((p) => p.trim());
  for (const p of list)
    if (!(POLICIES as readonly string[]).includes(p))
      throw new InvalidArgumentError(`Unknown policy "${p}": use ${POLICIES.join(', ')}, comma-separated`);
  const twice = list.find((p, i) => list.indexOf(p) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`Policy "${twice}" is given twice: each runs once`);
  return list as Policy[];
}

export function registerCompare(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description(
      'run one workload under KSM, KSM+ and the KSM+ daemon (plus) on the model until the counters settle, side by side',
    )
    .argument('<file>', 'a workload scenario (it should not switch KSM on itself: compare does, before the first wait)')
    .option('--policy <list>', 'policies to run, comma-separated: ksm, ksm+, plus', parsePolicies, [
      'ksm',
      'ksm+',
    ] as Policy[])
    .option('--seed <n>', 'seed of the model (KSM+ samples pages at random)', parseSeed, 0)
    .option('--json', 'print the results as JSON')
    .option('--report <file>', 'also write a self-contained HTML report with charts')
    .addHelpText(
      'after',
      '\nKSM is switched on with run=1; KSM+ by naming every program the workload starts in\n' +
        '/sys/kernel/mm/ksm+/processes_to_scan, then run=1; plus by naming them to the KSM+ daemon for stock\n' +
        "kernels (samepage plus, /run/samepage/ksm+), then its run=1 and KSM's. Each policy then runs until its merged pages\n" +
        '(KSM: every counter) stop changing for 3 full scans (KSM+: rounds sampled at min_coefficient).\n' +
        'Two times are reported, each to the batch that last changed the figure: until merged pages\n' +
        'settled, and until rmap_items settled (KSM+: by the end of its first round at the floor).\n' +
        "For the thesis's experiments (scenarios/thesis/) the thesis's figures are printed beside them.",
    )
    .action(async (file: string, opts: { policy: Policy[]; seed: number; json?: true; report?: string }) => {
      refuseReportOverInput(opts.report, [file]);
      const scenario = await loadScenarioFile(file);
      const out = new Output(io);
      const results: PolicyResult[] = [];
      for (const policy of opts.policy) {
        io.stderr.write(`running ${scenario.name} under ${policy}...\n`);
        // The report's histogram needs the processes' pages once: their contents are the same under every policy.
        const statistics = opts.report !== undefined && results.length === 0;
        results.push(
          await runPolicy(scenario, policy, { seed: opts.seed, statistics, samples: opts.report !== undefined }),
        );
      }
      const exp = thesisExperiment(scenario.name);
      const thesis =
        exp === undefined ? undefined : thesisComparison(exp, (f) => measuredByPolicy(f, results), { file });
      // Exit 1 is said in words: which policy's run failed and why, and which did not settle.
      const failures = results.map((r) => runFailure(r.run));
      out.result(opts.json, compareJson(scenario.name, results, failures, exp), (width) => {
        const about = `${scenario.name}: ${scenario.description ?? ''}`;
        const head = width === undefined ? about : wrapText(about, width).join('\n');
        return `${head}\n${renderSideBySide(results, width)}\n${thesisText(thesis, width)}`;
      });
      await out.report(opts.report, async () =>
        (await import('../report/compare.ts')).renderCompareReport(scenario.name, results, thesis),
      );
      results.forEach((r, i) => {
        if (failures[i] !== undefined) out.say(`the workload failed under ${r.policy}: ${failures[i]}`);
        if (r.unsettled !== undefined) out.warn(`${r.policy} did not settle: ${r.unsettled}`);
      });
      setExit(failures.some((f) => f !== undefined) ? 1 : 0);
    });
}
