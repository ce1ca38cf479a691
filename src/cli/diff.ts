/**
 * `samepage diff FILE... [--json] [--attempts N]`: the differential method
 * (src/differential/diff.ts) on each file, printed by report/diff.ts. With `--timed`, the
 * tolerance mode for scenarios that wait in milliseconds (src/differential/timed.ts,
 * printed by report/timed_diff.ts).
 *
 * Exit codes: 0 no difference, 1 some difference or a run that stopped early, 2 a file is
 * invalid or the kernel backend cannot run here (with its reason).
 */
import type { Command } from 'commander';
import pc from 'picocolors';
import { agrees, diffAttempts, diffScenario, type DiffRunner, type ScenarioDiff } from '../differential/diff.ts';
import { type DiffFileJson, diffJson, type DiffJson, renderDiff } from '../report/diff.ts';
import { DEFAULT_TOLERANCE, timedAgrees, timedDiff, type Tolerance } from '../differential/timed.ts';
import { renderTimedDiff, type TimedDiffJson, timedDiffJson } from '../report/timed_diff.ts';
import { loadScenario } from '../scenario/load.ts';
import { formatProblems } from '../scenario/parse.ts';
import type { Scenario } from '../scenario/types.ts';
import { parsePercent, parseSeed, wholeNumber } from './args.ts';
import { markReportedInJson } from './errors.ts';
import { tableWidth } from '../term/width.ts';
import type { Io } from './run_program.ts';

/** Where `samepage diff` writes, and whether to colour. */
export interface DiffIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly color: boolean;
  /** Tables fit this many columns (term/width.ts); undefined: no limit. */
  readonly width?: number | undefined;
}

/** Thrown for what makes the whole command unusable (a bad file): exit 2. */
export class DiffUsageError extends Error {
  override readonly name = 'DiffUsageError';
}

export interface DiffCommandOptions {
  readonly json: boolean;
  readonly seed: number;
  /** Kernel runs of a file at most, until one agrees; default 1. */
  readonly attempts?: number;
  /** Default diffScenario: the live kernel, then the model. */
  readonly runner?: DiffRunner;
  /** The tolerance mode for timed scenarios, with its tolerances; off when undefined. */
  readonly timed?: Tolerance;
}

/**
 * The command: every file is checked before anything runs, so a typo in the last file does
 * not cost a kernel run of the first. Resolves to the exit code (0 or 1); throws
 * DiffUsageError, or whatever stopped a file (the kernel's BackendUnavailable), for exit 2,
 * after printing what the files before it gave: with --json, one object that says where it
 * stopped, so a machine reading it never gets a truncated document.
 */
export async function diffCommand(files: readonly string[], opts: DiffCommandOptions, io: DiffIo): Promise<number> {
  const scenarios: Array<{ file: string; scenario: Scenario }> = [];
  const problems: string[] = [];
  for (const file of files) {
    const loaded = await loadScenario(file);
    if (loaded.ok) scenarios.push({ file, scenario: loaded.scenario });
    else problems.push(formatProblems(file, loaded.problems));
  }
  if (problems.length > 0) throw new DiffUsageError(problems.join('\n'));
  if (opts.timed !== undefined) return timedCommand(scenarios, opts, opts.timed, io);

  const runner = opts.runner ?? diffScenario;
  const results: DiffFileJson[] = [];
  let differ = false;
  for (const { file, scenario } of scenarios) {
    let d: ScenarioDiff;
    try {
      d = await diffAttempts(runner, scenario, opts.attempts ?? 1, { seed: opts.seed });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (opts.json) {
        io.stdout.write(
          `${JSON.stringify({ files: results, stopped: { file, reason } } satisfies DiffJson, null, 2)}\n`,
        );
        throw markReportedInJson(err);
      }
      throw err;
    }
    differ ||= !agrees(d);
    if (opts.json) results.push(diffJson(file, d));
    else io.stdout.write(renderDiff(file, d, io.color, io.width));
  }
  if (opts.json) io.stdout.write(`${JSON.stringify({ files: results } satisfies DiffJson, null, 2)}\n`);
  return differ ? 1 : 0;
}

/** --timed: each file within the tolerance of the kernel's median; exit 1 when a value is beyond it. */
async function timedCommand(
  scenarios: ReadonlyArray<{ file: string; scenario: Scenario }>,
  opts: DiffCommandOptions,
  tol: Tolerance,
  io: DiffIo,
): Promise<number> {
  const results: TimedDiffJson[] = [];
  let differ = false;
  for (const { file, scenario } of scenarios) {
    const d = await timedDiff(scenario, tol, {
      seed: opts.seed,
      onKernelRun: (r, good) =>
        io.stderr.write(
          `samepage diff: ${file}: kernel run ${good}/${tol.runs}${r.disturbed ? ' disturbed (ksmd waited for a CPU), again' : ''}\n`,
        ),
    });
    differ ||= !timedAgrees(d);
    if (opts.json) results.push(timedDiffJson(file, d));
    else io.stdout.write(renderTimedDiff(file, d, io.color));
  }
  if (opts.json) io.stdout.write(`${JSON.stringify({ files: results }, null, 2)}\n`);
  return differ ? 1 : 0;
}

/** Adds `diff` to the samepage program; `setExit` receives 0 or 1 (exit 2 is a throw). */
export function registerDiff(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('diff')
    .description('run scenario files on the live kernel (root) and on the model; show every counter that differs')
    .argument('<files...>', 'scenario files (YAML or JSON, see docs/scenario-format.md)')
    .option(
      '--json',
      'print { files: [{ file, scenario, differences: [{ label, path, kernel, model }], kernelOk, modelOk }], stopped?: { file, reason } }',
    )
    .option('--seed <n>', 'seed of the model backend', parseSeed, 0)
    .option(
      '--attempts <n>',
      'kernel runs of a file that disagrees, in all: it agrees when one run agrees exactly (a live merge can fail for a pass); the others are shown',
      parseAttempts,
      1,
    )
    .option(
      '--timed',
      "tolerance mode for scenarios that wait in milliseconds with ksmd running: the median of --runs undisturbed kernel runs (a run where ksmd waited for a CPU is measured again) against the model: pages_scanned within --tolerance of its value and full_scans by its clock, the advisor's pages_to_scan within --advisor-tolerance, knobs exact, the other counters shown",
    )
    .option(
      '--runs <n>',
      'with --timed: undisturbed kernel runs whose median is compared',
      parseAttempts,
      DEFAULT_TOLERANCE.runs,
    )
    .option(
      '--tolerance <pct>',
      'with --timed: relative tolerance of pages_scanned (of its value) and of full_scans (by its clock: neither side reaches a count more than this share of the time before the other), in %',
      parsePercent,
      DEFAULT_TOLERANCE.counters * 100,
    )
    .option(
      '--advisor-tolerance <pct>',
      'with --timed: relative tolerance of pages_to_scan under advisor_mode=scan-time, in %',
      parsePercent,
      DEFAULT_TOLERANCE.advisor * 100,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 kernel and model agree (with --timed: within the tolerance), 1 some counter differs or a run stopped early (or the machine was too busy to measure time), 2 invalid file or kernel backend unavailable.\n\n' +
        'Examples:\n  sudo samepage diff scenarios/*.yaml --attempts 3\n  sudo samepage diff --timed --runs 3 my-timed-scenario.yaml',
    )
    .action(async (files: string[], opts: DiffCliOptions) => {
      const color = io.stdout === process.stdout && pc.isColorSupported;
      const timed: Tolerance | undefined =
        opts.timed === true
          ? {
              ...DEFAULT_TOLERANCE,
              runs: opts.runs,
              maxRuns: 3 * opts.runs,
              counters: opts.tolerance / 100,
              advisor: opts.advisorTolerance / 100,
            }
          : undefined;
      const run = {
        json: opts.json === true,
        seed: opts.seed,
        attempts: opts.attempts,
        ...(timed === undefined ? {} : { timed }),
      };
      setExit(await diffCommand(files, run, { stdout: io.stdout, stderr: io.stderr, color, width: tableWidth(io) }));
    });
}

interface DiffCliOptions {
  json?: true;
  seed: number;
  attempts: number;
  timed?: true;
  runs: number;
  tolerance: number;
  advisorTolerance: number;
}

const parseAttempts = wholeNumber('a whole number of runs, at least 1', 1);
