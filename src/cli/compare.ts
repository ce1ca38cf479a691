/**
 * `samepage compare FILE --policy ksm,ksm+`: runs one workload under each policy on the model
 * until its counters settle and prints them side by side, like the thesis's Table 5-2, with
 * the thesis's own figures beside samepage's where the workload is one of its experiments.
 */
import { type Command, Option } from 'commander';
import { parsePolicies, runPolicies, type Policy } from '../backends/model/policy.ts';
import { runFailure } from '../report/table.ts';
import { measuredByPolicy, thesisComparison, thesisExperiment } from '../report/thesis.ts';
import { compareJson, renderCompare } from '../report/compare_rows.ts';
import { checkReportTarget } from '../term/report_file.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { Output } from '../term/output.ts';
import { checked, parseSeed } from './args.ts';
import type { Io } from '../term/output.ts';

export function registerCompare(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description(
      'run one workload under KSM, KSM+ and the KSM+ daemon (plus) on the model until the counters settle, side by side',
    )
    .argument('<file>', 'a workload scenario (it should not switch KSM on itself: compare does, before the first wait)')
    .addOption(
      new Option('--policy <list>', 'policies to run, comma-separated: ksm, ksm+, plus')
        .argParser(checked(parsePolicies, 'policies'))
        .default(['ksm', 'ksm+'] as Policy[], 'ksm,ksm+'),
    )
    .option('--seed <n>', 'seed of the model (KSM+ samples pages at random)', parseSeed, 0)
    .option('--json', 'print the results as JSON')
    .option('--report <file>', 'also write a self-contained HTML report with charts')
    .addHelpText(
      'after',
      '\nKSM is switched on with run=1; KSM+ by naming every program the workload starts in\n' +
        '/sys/kernel/mm/ksm+/processes_to_scan, then run=1; plus by naming them to the KSM+ daemon\n' +
        "for stock kernels (samepage plus, /run/samepage/ksm+), then its run=1 and KSM's. Each policy\n" +
        'then runs until its merged pages (KSM: every counter) stop changing for 3 full scans (KSM+:\n' +
        'rounds sampled at min_coefficient). Two times are reported, each to the batch that last\n' +
        'changed the figure: until merged pages settled, and until rmap_items settled (KSM+: by the\n' +
        "end of its first round at the floor). For the thesis's experiments (scenarios/thesis/) the\n" +
        "thesis's figures are printed beside them.\n\n" +
        'Examples:\n' +
        '  samepage compare scenarios/thesis/5.2.3-workload.yaml\n' +
        '  samepage compare scenarios/thesis/5.2.3-workload.yaml --policy ksm,ksm+,plus --report cmp.html',
    )
    .action(async (file: string, opts: { policy: Policy[]; seed: number; json?: true; report?: string }) => {
      checkReportTarget(opts.report, [file]);
      const scenario = await loadScenarioFile(file);
      const out = new Output(io);
      const report = opts.report !== undefined;
      const results = await runPolicies(
        scenario,
        opts.policy,
        { seed: opts.seed, statistics: report, samples: report },
        (p) => io.stderr.write(`running ${scenario.name} under ${p}...\n`),
      );
      const exp = thesisExperiment(scenario.name);
      const thesis =
        exp === undefined ? undefined : thesisComparison(exp, (f) => measuredByPolicy(f, results), { file });
      // Exit 1 is said in words: which policy's run failed and why, and which did not settle.
      const failures = results.map((r) => runFailure(r.run));
      // The report first: if it cannot be written after all, stdout holds the error alone.
      await out.report(opts.report, async () =>
        (await import('../report/compare.ts')).renderCompareReport(scenario.name, results, thesis),
      );
      out.result(opts.json, compareJson(scenario.name, results, failures, exp), (width) =>
        renderCompare(scenario, results, thesis, width),
      );
      results.forEach((r, i) => {
        if (failures[i] !== undefined) out.say(`the workload failed under ${r.policy}: ${failures[i]}`);
        if (r.unsettled !== undefined) out.warn(`${r.policy} did not settle: ${r.unsettled}`);
      });
      setExit(failures.some((f) => f !== undefined) ? 1 : 0);
    });
}
