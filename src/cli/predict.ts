/**
 * `samepage predict SNAPSHOT --policy ksm|ksm+`: what KSM (or KSM+) would save on the
 * snapshotted processes, and at what cost, from the model (src/backends/model/predict.ts).
 */
import { Option, type Command } from 'commander';
import { parseKnob, predictSnapshotFile, type PredictResult } from '../backends/model/predict.ts';
import { calibrationUsed, describeCalibrationUsed, foreignCalibration } from '../backends/model/calibration.ts';
import type { Policy } from '../backends/model/policy.ts';
import { renderPredictResult, unsettledWarning } from '../report/predict.ts';
import { collectStrings, parseSeed, wholeNumber } from './args.ts';
import { fitText } from '../lib/text_width.ts';
import { snapshotProgress } from '../term/progress.ts';
import { checkReportTarget } from '../term/report_file.ts';
import { Output } from '../term/output.ts';
import type { Io } from '../term/output.ts';

interface PredictCliOptions {
  readonly policy: Policy;
  readonly set: string[];
  readonly json?: true;
  readonly report?: string;
  readonly seed: number;
  readonly maxScans: number;
}

const parsePositive = wholeNumber(
  'a whole number of at least 1, in digits (with no full scan there is nothing to predict)',
  1,
);

export function registerPredict(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('predict')
    .description(
      'load a snapshot (samepage snapshot) into the model, run KSM or KSM+ until the counters settle, and print what Linux would report',
    )
    .argument('<snapshot>', 'a file written by samepage snapshot')
    .addOption(
      new Option(
        '--policy <policy>',
        'ksm: every process calls PR_SET_MEMORY_MERGE; ksm+: every program is named in processes_to_scan; plus: the KSM+ daemon (samepage plus) is given every program',
      )
        .choices(['ksm', 'ksm+', 'plus'])
        .default('ksm'),
    )
    .option(
      '--set <knob=value>',
      'write a knob first, e.g. pages_to_scan=1000 or ksm/use_zero_pages=1 (repeatable)',
      collectStrings,
      [],
    )
    .option('--json', 'print { scenario, backend, ok, records, expects, prediction } on stdout')
    .option('--report <file>', 'also write a self-contained HTML report with the counters over virtual time')
    .option('--seed <n>', 'seed of the model (KSM+ samples pages at random)', parseSeed, 0)
    .option('--max-scans <n>', 'give up settling after this many full scans (at least 1)', parsePositive, 400)
    .addHelpText(
      'after',
      "\nThe knobs keep Linux 6.18's defaults unless set (pages_to_scan 100, sleep_millisecs 20), so the\n" +
        'virtual time to settle is what ksmd would take on this machine. The policy runs until merged pages,\n' +
        'rmap_items and sharing stay the same for 3 full scans. "Saving" is pages_sharing + ksm_zero_pages:\n' +
        'the pages merging frees, comparable with the saving_pages of samepage stats on the same snapshot.\n\n' +
        'Examples:\n  sudo samepage snapshot --name python3 -o py.snap\n  samepage predict py.snap --policy ksm\n' +
        '  samepage predict py.snap --policy ksm --set use_zero_pages=1 --json\n  samepage predict py.snap --policy ksm+ --report py.html',
    )
    .action(async (file: string, opts: PredictCliOptions) => {
      checkReportTarget(opts.report, [file]);
      const settings = opts.set.map((s) => parseKnob(s, opts.policy));
      const bar = snapshotProgress(io.stderr);
      let result: PredictResult;
      try {
        result = await predictSnapshotFile(file, {
          policy: opts.policy,
          settings,
          seed: opts.seed,
          maxScans: opts.maxScans,
          onVerify: bar.verify,
          onLoad: bar.load,
          onScan: (n) => bar.scan(n, opts.maxScans),
          samples: opts.report !== undefined,
        });
      } finally {
        bar.stop();
      }
      const out = new Output(io);
      // The set the model read: the same machine and environment as this process.
      const calibration = calibrationUsed();
      // The report first: if it cannot be written after all, stdout holds the error alone.
      // The chart renderer loads only when a report is written (half a second of start-up).
      await out.report(opts.report, async () =>
        (await import('../report/predict_report.ts')).renderPredictReport(file, result),
      );
      out.result(
        opts.json,
        { ...result.run, prediction: result.prediction, calibration },
        (width) =>
          `${renderPredictResult(file, result, width)}${fitText(describeCalibrationUsed(calibration), width)}\n`,
      );
      // Times come from the cost model: another CPU's constants give another CPU's times.
      for (const warning of [unsettledWarning(result.prediction), foreignCalibration()])
        if (warning !== undefined) out.warn(warning);
      setExit(0);
    });
}
