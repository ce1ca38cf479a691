/**
 * `samepage diff FILE... [--json]`: runs each scenario on the live kernel and then on the
 * model, and shows every counter on which they disagree. The kernel is the reference: with
 * `pages_to_scan` covering every mergeable page, each batch of ksmd is one full scan and the
 * counters at full-scan boundaries are exact, so the model must match them exactly.
 *
 * A merge on the live kernel can still fail for one pass for reasons no scenario controls (a
 * folio lock another task holds, a transient extra reference, on which mm/ksm.c's
 * try_to_merge_one_page and write_protect_page give up for the pass; the kernel backend holds ksmd on one CPU against the commonest, per-CPU LRU batches),
 * or ksmd can run a pass past a boundary on a busy machine. `--attempts N` measures a file
 * that disagrees again, up to N kernel runs in all: it agrees when one run agrees exactly,
 * and the runs that did not are shown. A model error disagrees on every run.
 *
 * Exit codes: 0 no difference, 1 some difference or a run that stopped early, 2 a file is
 * invalid or the kernel backend cannot run here (with its reason).
 */
import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import pc from 'picocolors';
import { createKernelBackend } from '../backends/kernel/index.ts';
import { findKsmUsers } from '../backends/kernel/procfs.ts';
import { createModelBackend } from '../backends/model/index.ts';
import { compareRuns, type RecordDiff } from '../scenario/compare.ts';
import { whyNotExact } from '../scenario/exact.ts';
import { loadScenario } from '../scenario/load.ts';
import { formatProblems } from '../scenario/parse.ts';
import type { RunResult } from '../scenario/records.ts';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';

/** How long a diff waits for another samepage kernel run to release KSM: 10 minutes. */
export const DIFF_LOCK_WAIT_MS = 600_000;

export interface DiffOptions {
  /** Seed of the model backend; default 0. */
  readonly seed?: number;
  /** How long to wait for another samepage kernel run; default DIFF_LOCK_WAIT_MS. */
  readonly lockWaitMs?: number;
  /** Notes of the kernel backend (a wait overshot its boundary...); collected regardless. */
  readonly onWarning?: (message: string) => void;
}

/** How a warning that other processes used KSM right after the kernel run begins. */
export const INTERFERENCE = 'Other processes used KSM when the kernel run ended';

/** One scenario run on both backends. */
export interface ScenarioDiff {
  readonly scenario: string;
  readonly differences: readonly RecordDiff[];
  readonly kernelOk: boolean;
  readonly modelOk: boolean;
  /** Why a run stopped early, when it did. */
  readonly kernelError?: string;
  readonly modelError?: string;
  /** The kernel backend's warnings during the run. */
  readonly warnings: readonly string[];
  readonly kernel: RunResult;
  readonly model: RunResult;
  /** Under --attempts: the earlier runs of this scenario, each of which disagreed. */
  readonly earlier?: readonly ScenarioDiff[];
}

/** Whether the two runs agree: no value differs and neither run stopped early. */
export function agrees(d: ScenarioDiff): boolean {
  return d.differences.length === 0 && d.kernelError === undefined && d.modelError === undefined;
}

/**
 * Up to `attempts` runs of `runner`, stopping at the first that agrees: that run (or the
 * last), with the disagreeing runs before it as `earlier`.
 */
export async function diffAttempts(
  runner: DiffRunner,
  scenario: Scenario,
  attempts: number,
  opts: DiffOptions = {},
): Promise<ScenarioDiff> {
  const earlier: ScenarioDiff[] = [];
  for (;;) {
    const d = await runner(scenario, opts);
    if (agrees(d) || earlier.length + 1 >= attempts) return earlier.length === 0 ? d : { ...d, earlier };
    earlier.push(d);
  }
}

/**
 * Runs `scenario` on the kernel backend, then on the model, and compares them. Throws the
 * kernel backend's BackendUnavailable when it cannot run here.
 */
export async function diffScenario(scenario: Scenario, opts: DiffOptions = {}): Promise<ScenarioDiff> {
  const warnings: string[] = [];
  const inexact = whyNotExact(scenario, liveNumaNodes() ?? 1);
  if (inexact !== undefined) {
    warnings.push(`The scenario's figures are not exact under the contract (${inexact}), so differences are expected`);
  }
  const kernelBackend = createKernelBackend({
    lockWaitMs: opts.lockWaitMs ?? DIFF_LOCK_WAIT_MS,
    onWarning: (message) => {
      warnings.push(message);
      opts.onWarning?.(message);
    },
  });
  const kernel = await runScenario(scenario, kernelBackend);
  // The backend refuses to start beside other KSM users, but one that appears during the run
  // puts its own pages into the global counters; say so when one is there afterwards.
  const others = findKsmUsers(new Set([process.pid]));
  if (others.length > 0) {
    warnings.push(
      `${INTERFERENCE}: ${others.map((u) => `${u.pid} ${u.comm}`).join(', ')}; the kernel's global counters may include their pages`,
    );
  }
  const model = await runScenario(scenario, createModelBackend({ seed: opts.seed ?? 0 }));
  return scenarioDiffOf(kernel, model, warnings);
}

/** Two finished runs of one scenario, compared. */
export function scenarioDiffOf(kernel: RunResult, model: RunResult, warnings: readonly string[]): ScenarioDiff {
  return {
    scenario: kernel.scenario,
    differences: compareRuns(kernel, model),
    kernelOk: kernel.ok,
    modelOk: model.ok,
    warnings,
    kernel,
    model,
    ...(kernel.error === undefined ? {} : { kernelError: kernel.error }),
    ...(model.error === undefined ? {} : { modelError: model.error }),
  };
}

/**
 * The number of NUMA nodes of this machine (/sys/devices/system/node/online, e.g. `0` or
 * `0-1,3`), or undefined where the file is missing.
 */
export function liveNumaNodes(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/sys/devices/system/node/online', 'utf8').trim();
  } catch {
    return undefined;
  }
  let n = 0;
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) continue;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n > 0 ? n : undefined;
}

/** One file of `samepage diff --json`. */
export interface DiffFileJson {
  readonly file: string;
  readonly scenario: string;
  readonly differences: ReadonlyArray<{ label: string; path: string; kernel: unknown; model: unknown }>;
  readonly kernelOk: boolean;
  readonly modelOk: boolean;
  readonly kernelError?: string;
  readonly modelError?: string;
  readonly warnings?: readonly string[];
  /** Under --attempts: the kernel runs before this one, each of which disagreed. */
  readonly earlierRuns?: readonly EarlierRunJson[];
}

/** A disagreeing kernel run that --attempts measured again. */
export interface EarlierRunJson {
  readonly differences: DiffFileJson['differences'];
  readonly kernelError?: string;
  readonly modelError?: string;
  readonly warnings?: readonly string[];
}

/**
 * The whole `samepage diff --json` output. `stopped` is there when a file could not be run
 * (the kernel backend became unavailable, say): the files before it are still reported, and
 * the command exits 2.
 */
export interface DiffJson {
  readonly files: readonly DiffFileJson[];
  readonly stopped?: { readonly file: string; readonly reason: string };
}

export function diffJson(file: string, d: ScenarioDiff): DiffFileJson {
  const { differences, ...stopsAndWarnings } = runJson(d);
  return {
    file,
    scenario: d.scenario,
    differences,
    kernelOk: d.kernelOk,
    modelOk: d.modelOk,
    ...stopsAndWarnings,
    ...(d.earlier === undefined ? {} : { earlierRuns: d.earlier.map(runJson) }),
  };
}

function runJson(d: ScenarioDiff): EarlierRunJson {
  return {
    differences: d.differences.map((x) => ({
      label: x.label,
      path: x.path,
      kernel: x.kernel ?? null,
      model: x.model ?? null,
    })),
    ...(d.kernelError === undefined ? {} : { kernelError: d.kernelError }),
    ...(d.modelError === undefined ? {} : { modelError: d.modelError }),
    ...(d.warnings.length === 0 ? {} : { warnings: d.warnings }),
  };
}

/**
 * A file's result for people: a verdict line, then one table row per differing value; under
 * --attempts, each earlier run that disagreed follows, indented.
 */
export function renderDiff(file: string, d: ScenarioDiff, color: boolean): string {
  const c = pc.createColors(color);
  const count = d.differences.length;
  const verdict =
    count > 0
      ? c.red(`${count} difference${count === 1 ? '' : 's'}`)
      : agrees(d)
        ? c.green('kernel and model agree')
        : c.yellow('no value differs, but a run stopped early');
  const runs = d.earlier === undefined ? '' : ` on kernel run ${d.earlier.length + 1}`;
  const lines = [`${c.bold(d.scenario)} (${file}): ${verdict}${runs}`, ...runLines(d, c)];
  for (const [i, e] of (d.earlier ?? []).entries()) {
    const n = e.differences.length;
    lines.push(`  kernel run ${i + 1} disagreed (${n} difference${n === 1 ? '' : 's'}):`);
    for (const line of runLines(e, c)) lines.push(`    ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What stopped the runs, the kernel's warnings, and the table of differing values. */
function runLines(d: ScenarioDiff, c: ReturnType<typeof pc.createColors>): string[] {
  const lines: string[] = [];
  if (d.kernelError !== undefined) lines.push(`  kernel run stopped: ${d.kernelError}`);
  if (d.modelError !== undefined) lines.push(`  model run stopped: ${d.modelError}`);
  for (const w of d.warnings) lines.push(`  ${c.yellow('kernel warning')}: ${w}`);
  if (d.differences.length > 0) {
    const table = new Table({
      head: ['record', 'counter', 'kernel', 'model'],
      colAligns: ['left', 'left', 'right', 'right'],
      style: { head: c.isColorSupported ? ['cyan'] : [], border: c.isColorSupported ? ['grey'] : [] },
    });
    for (const x of d.differences) table.push([x.label, x.path, show(x.kernel), show(x.model)]);
    lines.push(...table.toString().split('\n'));
  }
  return lines;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Where `samepage diff` writes, and whether to colour. */
export interface DiffIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly color: boolean;
}

/** Thrown for what makes the whole command unusable (a bad file): exit 2. */
export class DiffUsageError extends Error {
  override readonly name = 'DiffUsageError';
}

/** How diffCommand runs one scenario on both backends; tests pass their own. */
export type DiffRunner = (scenario: Scenario, opts: DiffOptions) => Promise<ScenarioDiff>;

export interface DiffCommandOptions {
  readonly json: boolean;
  readonly seed: number;
  /** Kernel runs of a file at most, until one agrees; default 1. */
  readonly attempts?: number;
  /** Default diffScenario: the live kernel, then the model. */
  readonly runner?: DiffRunner;
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

  const runner = opts.runner ?? diffScenario;
  const results: DiffFileJson[] = [];
  let differ = false;
  for (const { file, scenario } of scenarios) {
    let d: ScenarioDiff;
    try {
      d = await diffAttempts(runner, scenario, opts.attempts ?? 1, { seed: opts.seed });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (opts.json)
        io.stdout.write(
          `${JSON.stringify({ files: results, stopped: { file, reason } } satisfies DiffJson, null, 2)}\n`,
        );
      throw err;
    }
    differ ||= !agrees(d);
    if (opts.json) results.push(diffJson(file, d));
    else io.stdout.write(renderDiff(file, d, io.color));
  }
  if (opts.json) io.stdout.write(`${JSON.stringify({ files: results } satisfies DiffJson, null, 2)}\n`);
  return differ ? 1 : 0;
}

/** What registerDiff needs of main's Io. */
export interface DiffCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Adds `diff` to the samepage program; `setExit` receives 0 or 1 (exit 2 is a throw). */
export function registerDiff(program: Command, io: DiffCliIo, setExit: (code: number) => void): void {
  program
    .command('diff')
    .description('run scenario files on the live kernel (root) and on the model; show every counter that differs')
    .argument('<files...>', 'scenario files (YAML or JSON, see docs/scenario-format.md)')
    .option(
      '--json',
      'print { files: [{ file, scenario, differences: [{ label, path, kernel, model }], kernelOk, modelOk }], stopped?: { file, reason } }',
    )
    .option('--seed <n>', 'seed of the model backend', parseDiffSeed, 0)
    .option(
      '--attempts <n>',
      'kernel runs of a file that disagrees, in all: it agrees when one run agrees exactly (a live merge can fail for a pass); the others are shown',
      parseAttempts,
      1,
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 kernel and model agree, 1 some counter differs or a run stopped early, 2 invalid file or kernel backend unavailable.',
    )
    .action(async (files: string[], opts: { json?: true; seed: number; attempts: number }) => {
      const color = io.stdout === process.stdout && pc.isColorSupported;
      const run = { json: opts.json === true, seed: opts.seed, attempts: opts.attempts };
      setExit(await diffCommand(files, run, { stdout: io.stdout, stderr: io.stderr, color }));
    });
}

function parseDiffSeed(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError(`Expected a non-negative integer, got "${value}".`);
  }
  return Number(value);
}

function parseAttempts(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`Expected a whole number of runs, at least 1, got "${value}".`);
  }
  return n;
}
