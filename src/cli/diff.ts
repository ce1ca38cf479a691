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
import { agrees, diffAttempts, diffScenario, type DiffRunner } from '../differential/diff.ts';
import { diffJson, renderDiff } from '../report/diff.ts';
import { timedAgrees, timedDiff } from '../differential/timed.ts';
import { DEFAULT_TOLERANCE, toleranceOf, type Tolerance } from '../differential/tolerance.ts';
import { renderTimedDiff, timedDiffJson } from '../report/timed_diff.ts';
import type { Scenario } from '../scenario/types.ts';
import { parsePercent, parseSeed, wholeNumber } from './args.ts';
import { loadScenarioFiles } from '../scenario/load.ts';
import { markReportedInJson } from './errors.ts';
import { tableWidth } from '../term/width.ts';
import type { Io } from '../term/output.ts';

/** Where `samepage diff` writes, and whether to colour. */
export interface DiffIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly color: boolean;
  /** Tables fit this many columns (term/width.ts); undefined: no limit. */
  readonly width?: number | undefined;
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
  /** With timed: trace ksmd's batches on both sides and show them (report/ksmd_batches.ts). */
  readonly batches?: boolean;
}

/**
 * The command: every file is checked before anything runs (a ScenarioFileError names
 * every problem). Resolves to the exit code, 0 or 1; whatever stops a file (the kernel's
 * BackendUnavailable) is thrown, for exit 2, after what the files before it gave is printed:
 * with --json as one object that says where it stopped, never a truncated document.
 */
export async function diffCommand(files: readonly string[], opts: DiffCommandOptions, io: DiffIo): Promise<number> {
  const scenarios = await loadScenarioFiles(files);
  const results: unknown[] = [];
  const json = (body: object): boolean => io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  let differ = false;
  for (const { file, scenario } of scenarios) {
    const shown = await diffFile(file, scenario, opts, io).catch((err: unknown) => {
      if (!opts.json) throw err;
      json({ files: results, stopped: { file, reason: err instanceof Error ? err.message : String(err) } });
      throw markReportedInJson(err);
    });
    differ ||= !shown.agrees;
    if (opts.json) results.push(shown.json);
    else io.stdout.write(shown.text());
  }
  if (opts.json) json({ files: results });
  return differ ? 1 : 0;
}

/** One file by the exact method (--attempts) or, with --timed, within the tolerance of the kernel's median. */
async function diffFile(
  file: string,
  scenario: Scenario,
  opts: DiffCommandOptions,
  io: DiffIo,
): Promise<{ readonly agrees: boolean; readonly json: unknown; readonly text: () => string }> {
  const tol = opts.timed;
  if (tol === undefined) {
    const d = await diffAttempts(opts.runner ?? diffScenario, scenario, opts.attempts ?? 1, { seed: opts.seed });
    return { agrees: agrees(d), json: diffJson(file, d), text: () => renderDiff(file, d, io.color, io.width) };
  }
  const onKernelRun = (r: { readonly disturbed: boolean }, good: number): void => {
    const again = r.disturbed ? ' disturbed (ksmd waited for a CPU or other work ran), again' : '';
    io.stderr.write(`samepage diff: ${file}: kernel run ${good}/${tol.runs}${again}\n`);
  };
  const d = await timedDiff(scenario, tol, { seed: opts.seed, onKernelRun, batches: opts.batches === true });
  return { agrees: timedAgrees(d), json: timedDiffJson(file, d), text: () => renderTimedDiff(file, d, io.color) };
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
      "tolerance mode for scenarios that wait in milliseconds with ksmd running: the median of --runs undisturbed kernel runs (a run where ksmd waited for a CPU or other work kept the CPUs busy is measured again) against the model: pages_scanned within --tolerance of its value and full_scans by its clock, the advisor's pages_to_scan within --advisor-tolerance, knobs exact, the other counters shown. Beside the verdict, not instead of it: ksmd's CPU on both sides, and the model run again at the kernel's speed (its CPU costs scaled until its CPU per page scanned is the kernel runs' median), which tells a miss of the host's speed from one of the clock",
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
    .option(
      '--batches',
      "with --timed: also trace the live ksmd's batches (tracefs, in a trace instance of its own, removed afterwards) and record the model's; show how many ticks their cycles took and each batch's CPU by its place in the scan, kernel beside model (where a counter differs, they show which batches part)",
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 kernel and model agree (with --timed: within the tolerance), 1 some counter differs or a run stopped early (or the machine was too busy to measure time), 2 invalid file or kernel backend unavailable.\n\n' +
        'Examples:\n  sudo samepage diff scenarios/*.yaml --attempts 3\n  sudo samepage diff --timed --runs 3 my-timed-scenario.yaml\n  sudo samepage diff --timed --batches my-timed-scenario.yaml',
    )
    .action(async (files: string[], opts: DiffCliOptions) => {
      if (opts.batches === true && opts.timed !== true)
        throw new Error('--batches needs --timed (it traces the batches of timed scenarios)');
      const timed = opts.timed === true ? toleranceOf(opts.runs, opts.tolerance, opts.advisorTolerance) : undefined;
      const run = {
        json: opts.json === true,
        seed: opts.seed,
        attempts: opts.attempts,
        ...(timed && { timed }),
        batches: opts.batches === true,
      };
      const color = io.stdout === process.stdout && pc.isColorSupported;
      setExit(await diffCommand(files, run, { ...io, color, width: tableWidth(io) }));
    });
}

interface DiffCliOptions {
  json?: true;
  seed: number;
  attempts: number;
  timed?: true;
  batches?: true;
  runs: number;
  tolerance: number;
  advisorTolerance: number;
}

const parseAttempts = wholeNumber('a whole number of runs, at least 1', 1);
