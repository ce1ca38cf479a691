/**
 * `samepage bench` and `samepage bench --calibrate [--dry-run]`: parses the options, runs
 * src/measure/ (bench.ts, calibrate.ts) and prints report/bench.ts's tables or the JSON.
 */
import { type Command, Option } from 'commander';
import { calibrationSet, foreignCalibration, HOSTS_DIR } from '../backends/model/calibration.ts';
import { type MeasureLog, runBench } from '../measure/bench.ts';
import { CALIBRATION_PAGES, calibrate } from '../measure/calibrate.ts';
import type { ReloadReading } from '../measure/reload_rows.ts';
import { MAX_ROUNDS } from '../measure/workload_rounds.ts';
import { renderBench, renderCalibration } from '../report/bench.ts';
import { wholeNumber } from './args.ts';
import { tableWidth } from '../term/width.ts';
import type { Io } from '../term/output.ts';

interface BenchCliOptions {
  json?: true;
  pages: number;
  scans: number;
  calibrate?: true;
  dryRun?: true;
  modelOnly?: true;
  lockWait: number;
  reload: ReloadReading;
  rounds?: number;
}

/** Adds `bench` to the program. */
export function addBenchCommand(program: Command, io: Io): void {
  const log: MeasureLog = {
    progress: (m) => io.stderr.write(`samepage bench: ${m}\n`),
    warn: (m) => io.stderr.write(`samepage bench: warning: ${m}\n`),
  };
  program
    .command('bench')
    .description('model vs live-kernel KSM speed (pages visited per CPU-second), or --calibrate the cost model')
    .option('--json', 'print JSON on stdout instead of tables')
    .option(
      '--pages <n>',
      'pages of each workload (fork-heavy forks a sixteenth of them 8 times)',
      parsePages,
      CALIBRATION_PAGES,
    )
    .option('--scans <n>', 'measured full scans per workload (the first one is also reported alone)', parseScans, 10)
    .option(
      '--calibrate',
      "measure the live ksmd's CPU cost per event (fitting src/ksm/cost.ts's constants), what its batches cost more after a sleep and on first visits, and the machine's timer (HZ, ksmd's wake-up latency and scan-start flush); run it on a quiet machine: a workload during which other work used over 5 % of the CPU is measured again, three times at most",
    )
    .option(
      '--dry-run',
      `with --calibrate: print the fitted constants and the timer without writing this machine's calibration set (its directory under ${HOSTS_DIR}/, or the files SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER name)`,
    )
    .addOption(
      new Option(
        '--reload <how>',
        "with --calibrate: how to read what a batch costs more after a sleep: 'passes' (whole passes, one batch size after another) or 'interleaved' (every batch size and sleep in the same minute, ksmd traced through tracefs, with the passes where it cannot be traced); interleaved follows the kernel's batch sizes more evenly and made the AMD set shipped, but across ten calibrations on 2026-12-05 neither way passed more of the timing grids than the other (docs/cost-model.md, step 5)",
      )
        .choices(['passes', 'interleaved'])
        .default('passes'),
    )
    .option(
      '--rounds <n>',
      `with --calibrate: measure every workload n times (1 to ${MAX_ROUNDS}), the order reversed every other round, and fit each scan's median, so that a slow minute of the host cannot set the per-event constants alone; each round adds about as long as the workloads take once (default 1)`,
      parseRounds,
    )
    .option('--model-only', 'do not touch the live kernel (the ratio is then unavailable)')
    .option('--lock-wait <s>', 'seconds to wait for another samepage kernel run to finish', parseSeconds, 600)
    .addHelpText(
      'after',
      '\nThe kernel side needs root and a writable /sys/kernel/mm/ksm; it runs through the kernel\n' +
        'backend, which saves and restores every KSM setting. Progress goes to stderr.\n\n' +
        'The model reads the calibration set measured on this CPU model and CPU count\n' +
        `(a directory under ${HOSTS_DIR}/), else the default set (calibration/);\n` +
        "--calibrate writes this machine's set. SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER\n" +
        'name other files.\n\n' +
        'Examples:\n  sudo samepage bench\n  sudo samepage bench --json --pages 131072\n  sudo samepage bench --calibrate',
    )
    .action(async (opts: BenchCliOptions) => {
      if (opts.dryRun === true && opts.calibrate !== true)
        throw new Error('--dry-run needs --calibrate (it leaves the calibration file as it is)');
      if (opts.reload !== 'passes' && opts.calibrate !== true)
        throw new Error('--reload needs --calibrate (it says how the calibration reads the reload after a sleep)');
      if (opts.rounds !== undefined && opts.calibrate !== true)
        throw new Error('--rounds needs --calibrate (it says how often the calibration measures its workloads)');
      const lockWaitMs = opts.lockWait * 1000;
      if (opts.calibrate === true) {
        if (opts.modelOnly === true)
          throw new Error('--calibrate measures the live ksmd; it cannot run with --model-only');
        const cal = await calibrate(
          { pages: opts.pages, lockWaitMs, write: opts.dryRun !== true, reload: opts.reload, rounds: opts.rounds ?? 1 },
          log,
        );
        io.stdout.write(
          opts.json === true
            ? `${JSON.stringify({ ...cal.file, timer_calibration: cal.timer }, null, 2)}\n`
            : renderCalibration(cal.file, cal.previous, cal.timer, cal.previousTimer, tableWidth(io)),
        );
      } else {
        const set = calibrationSet();
        log.progress(
          `the model reads ${set.host === undefined ? 'the calibration' : `host set ${set.host}:`} ${set.costPath} and ${set.timerPath}`,
        );
        // The model's side is the cost model's: another CPU's constants give another ratio.
        const foreign = opts.modelOnly === true ? undefined : foreignCalibration();
        if (foreign !== undefined) log.warn(foreign);
        const run = await runBench(
          { pages: opts.pages, scans: opts.scans, modelOnly: opts.modelOnly === true, lockWaitMs },
          log,
        );
        io.stdout.write(
          opts.json === true ? `${JSON.stringify(run.results, null, 2)}\n` : renderBench(run, tableWidth(io)),
        );
      }
    });
}

const parsePages = wholeNumber('a page count of at least 64', 64);
const parseScans = wholeNumber('1 to 1000 full scans', 1, 1000);
const parseRounds = wholeNumber(`1 to ${MAX_ROUNDS} rounds`, 1, MAX_ROUNDS);
const parseSeconds = wholeNumber('whole seconds');
