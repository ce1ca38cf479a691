/**
 * The `samepage` command line. Thin by design: it parses arguments, picks a backend, hands
 * the scenario to scenario/run.ts and prints what comes back. Exit codes follow
 * docs/scenario-format.md: 0 every expect held, 1 an expect failed, 2 the file is invalid or
 * the backend cannot run here; any other error is also 2, as one line without a stack.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import type { RunResult } from '../scenario/records.ts';
import { BACKEND_NAMES, type BackendName, runOn } from '../backends/run.ts';
import type { StatisticsResult } from '../stats/duplicate_statistics.ts';
import { renderDemoSummary, renderRunResult, thesisText } from '../report/table.ts';
import { runThesisComparison } from '../report/thesis.ts';
import { formatJson } from '../report/json.ts';
import { packageRoot as findPackageRoot, packageVersion } from '../lib/package_root.ts';
import { registerDiff } from './diff.ts';
import { registerCompare } from './compare.ts';
import { registerShell } from './shell.ts';
import { registerStats } from './stats.ts';
import { registerPredict } from './predict.ts';
import { addBenchCommand } from './bench.ts';
import { registerKernel } from './kernel.ts';
import { registerPlus } from './plus.ts';
import { waitProgress } from '../term/progress.ts';
import { checkReportTarget } from '../term/report_file.ts';
import { Output } from '../term/output.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { testPauseHook } from '../term/test_pause.ts';
import { parseSeed } from './args.ts';
import { newProgram, runProgram } from './run_program.ts';
import type { Io } from '../term/output.ts';

/** Exit codes of the contract. */
const EXIT_OK = 0;
const EXIT_EXPECT_FAILED = 1;

const DEMO_SCENARIO = 'scenarios/thesis-test-program.yaml';

/** Runs the command line `args` (without node and the script) and resolves to the exit code. */
export async function main(args: readonly string[], io: Io = process): Promise<number> {
  return runProgram((setExit) => buildProgram(io, setExit), args, io);
}

function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const out = new Output(io);
  const program = newProgram(io, 'samepage')
    .description(
      // One paragraph: commander wraps it to the terminal's width.
      'An exact, executable model of Linux 6.18 memory management and KSM (kernel samepage ' +
        'merging), driven by scenario files. A scenario describes processes, their memory and ' +
        'what an operator writes into /sys/kernel/mm/ksm, on a virtual clock; samepage runs it ' +
        'on its own model (deterministic, no root needed) or on the live kernel of this machine ' +
        '(root), and reports the KSM counters and whether the expectations held.',
    )
    .version(packageVersion(packageRoot()), '-V, --version')
    .addHelpText(
      'after',
      '\nExit codes: 0 every expect held, 1 an expect failed or the run stopped early, 2 invalid file or\n' +
        'backend unavailable (with --json also { ok: false, exit, error } on stdout).\n' +
        'Set SAMEPAGE_DEBUG=1 to see stack traces of unexpected errors.\n\n' +
        'Examples:\n' +
        '  samepage demo\n' +
        '  samepage run scenarios/thesis-test-program.yaml --json\n' +
        '  samepage run scenarios/thesis-test-program.yaml --report report.html\n' +
        '  sudo samepage run my-scenario.yaml --backend kernel',
    );

  program
    .command('run')
    .description('run a scenario file and check its expects')
    .argument('<file>', 'scenario file (YAML or JSON, see docs/scenario-format.md)')
    .addOption(
      new Option('--backend <name>', 'model: samepage on virtual time; kernel: the live kernel (root)')
        .choices(BACKEND_NAMES)
        .default('model'),
    )
    .option('--json', 'print one JSON object on stdout instead of tables')
    .option('--report <file>', 'also write a static HTML report (charts, counters, expects) to this file')
    .option('--seed <n>', 'seed of the model backend (ignored by kernel)', parseSeed, 0)
    .addHelpText(
      'after',
      '\nThe file: a regular file of at most 32 MiB (larger ones, devices, FIFOs and directories are\n' +
        'refused). Over 256 KiB it is read a few KiB of steps at a time, which needs its steps as a\n' +
        'top-level "steps:" list or a JSON "steps": [...] array. The model\'s clock counts to 104 days: a\n' +
        'wait that would pass that is refused before it starts. A long wait shows its virtual time and an\n' +
        'ETA on a terminal; Ctrl-C stops it. --report never writes over the scenario.\n\n' +
        'Examples:\n' +
        '  samepage run scenarios/ksm-tests-merge.yaml\n' +
        '  samepage run scenarios/thesis-test-program.yaml --json\n' +
        '  samepage run scenarios/thesis-test-program.yaml --report report.html\n' +
        '  sudo samepage run scenarios/ksm-tests-merge.yaml --backend kernel',
    )
    .action(async (file: string, opts: { backend: BackendName; json?: true; seed: number; report?: string }) => {
      checkReportTarget(opts.report, [file]);
      const { result, statistics } = await runFile(file, opts.backend, opts.seed, out, opts.report !== undefined);
      const thesis = runThesisComparison(result, file);
      // The report first: if it cannot be written after all, stdout holds the error alone.
      // The chart renderer loads only when a report is written (half a second of start-up).
      await out.report(opts.report, async () =>
        (await import('../report/stats_report.ts')).renderRunReport(result, thesis, statistics),
      );
      if (opts.json === true) out.raw(`${formatJson(result)}\n`);
      else out.print(renderRunResult(result, { width: out.width }) + thesisText(thesis, out.width));
      setExit(result.ok ? EXIT_OK : EXIT_EXPECT_FAILED);
    });

  program
    .command('demo')
    .description(`run the built-in scenario ${DEMO_SCENARIO} on the model and explain the result`)
    .option('--seed <n>', 'seed of the model backend', parseSeed, 0)
    .addHelpText(
      'after',
      "\nThe thesis's test program (section 5.1.1): two processes with 20 MiB each of identical pages;\n" +
        'KSM at the default knobs merges their 10,240 pages into 40 KSM pages of 256 sharers each\n' +
        '(max_page_sharing). The tables show the counters before and after; the text explains them.\n' +
        'For your own scenarios: samepage run.\n\n' +
        'Example:\n  samepage demo',
    )
    .action(async (opts: { seed: number }) => {
      const file = join(packageRoot(), DEMO_SCENARIO);
      if (!existsSync(file)) throw new Error(`The demo scenario is missing: ${file}`);
      const { result } = await runFile(file, 'model', opts.seed, out, false);
      const width = out.width;
      out.print(`${renderRunResult(result, { width })}\n${renderDemoSummary(result, width)}\n`);
      setExit(result.ok ? EXIT_OK : EXIT_EXPECT_FAILED);
    });

  registerDiff(program, io, setExit);
  registerCompare(program, io, setExit);
  registerShell(program, io, setExit);
  registerStats(program, io, setExit);
  registerPredict(program, io, setExit);
  registerKernel(program, io, setExit);
  registerPlus(program, io, setExit);

  addBenchCommand(program, io);

  return program;
}

/** Runs one scenario file on `backend`, with a progress bar on stderr while it waits. */
async function runFile(
  file: string,
  backend: BackendName,
  seed: number,
  out: Output,
  report: boolean,
): Promise<{ result: RunResult; statistics?: StatisticsResult }> {
  const scenario = await loadScenarioFile(file);
  const beforeStep = testPauseHook(out.io.env, out.io.stderr);
  const progress = waitProgress(out.io.stderr);
  try {
    return await runOn(backend, scenario, {
      seed,
      report,
      onWarning: (m) => out.warn(m),
      onProgress: progress.update,
      ...(beforeStep === undefined ? {} : { beforeStep }),
    });
  } finally {
    progress.stop();
  }
}

/** The installed package's root (holds package.json and scenarios/), from src/ or dist/src/. */
export function packageRoot(): string {
  return findPackageRoot(dirname(fileURLToPath(import.meta.url)));
}
