/**
 * Reads a scenario file from disk and parses it. An unreadable file is a problem like any
 * other, so the command line reports it the same way (exit 2) instead of with a stack; so is
 * a file that is not a regular file (a device, a FIFO) or is larger than MAX_SCENARIO_BYTES.
 */
import { notScenarioText } from '../lib/file_kind.ts';
import { readInputFile } from '../lib/input_file.ts';
import { formatProblems, parseScenario, type ParseResult, type Problem } from './parse.ts';
import type { Scenario } from './types.ts';

/**
 * The largest scenario file samepage reads (README, `samepage run --help`). Parsing costs
 * about 0.5-1 µs of CPU per byte and, a few KiB of steps at a time (split.ts), memory of a
 * few times the text; at this size that is under half a minute and half a gigabyte.
 */
export const MAX_SCENARIO_BYTES = 32 * 1024 * 1024;

/** Reads `file` (YAML or JSON, UTF-8) and parses it into a checked scenario. */
export async function loadScenario(file: string): Promise<ParseResult> {
  const read = readInputFile(file, 'scenario file', MAX_SCENARIO_BYTES);
  if (!read.ok) return { ok: false, problems: [{ path: '', line: undefined, message: read.problem }] };
  const notText = notScenarioText(read.bytes);
  if (notText !== undefined) return { ok: false, problems: [{ path: '', line: undefined, message: notText }] };
  return parseScenario(read.bytes.toString('utf8'), file);
}

/** Scenario files that cannot run: the message names every problem with its file, path and line. */
export class ScenarioFileError extends Error {
  override readonly name = 'ScenarioFileError';
  /** The problems, for --json; given when one file has them (a problem's path names no file). */
  readonly problems: readonly Problem[] | undefined;

  constructor(message: string, problems?: readonly Problem[]) {
    super(message);
    this.problems = problems;
  }
}

/** The scenario in `file`, or a ScenarioFileError listing every problem with its path and line. */
export async function loadScenarioFile(file: string): Promise<Scenario> {
  return (await loadScenarioFiles([file]))[0]!.scenario;
}

/**
 * The scenarios of `files`, all checked before any runs (a typo in the last file must not
 * cost a kernel run of the first), or one ScenarioFileError listing every file's problems.
 */
export async function loadScenarioFiles(
  files: readonly string[],
): Promise<Array<{ readonly file: string; readonly scenario: Scenario }>> {
  const scenarios: Array<{ file: string; scenario: Scenario }> = [];
  const bad: Array<{ file: string; problems: readonly Problem[] }> = [];
  for (const file of files) {
    const loaded = await loadScenario(file);
    if (loaded.ok) scenarios.push({ file, scenario: loaded.scenario });
    else bad.push({ file, problems: loaded.problems });
  }
  if (bad.length > 0)
    throw new ScenarioFileError(
      bad.map((b) => formatProblems(b.file, b.problems)).join('\n'),
      bad.length === 1 ? bad[0]!.problems : undefined,
    );
  return scenarios;
}
