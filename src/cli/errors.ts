/**
 * How a command that fails says why: one line on stderr (`samepage: <message>`), and with
 * `--json` also one JSON object on stdout, so that a script reading stdout learns why the
 * exit code is not 0 instead of finding nothing: `{ ok: false, exit, error, problems? }`.
 */
import { ScenarioFileError } from '../scenario/load.ts';
import type { Problem } from '../scenario/parse.ts';

/** Whether the command line asks for JSON (`--json` before any `--`). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** The --json answer of a command that failed before it could print its own. */
export function failureJson(exit: number, message: string, problems?: readonly Problem[]): string {
  const body = {
    ok: false,
    exit,
    error: message,
    ...(problems === undefined
      ? {}
      : { problems: problems.map((p) => ({ path: p.path, line: p.line ?? null, message: p.message })) }),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

const REPORTED = Symbol('samepage.reportedInJson');

/** Marks an error whose command already printed its --json answer (main prints no second one). */
export function markReportedInJson<E>(err: E): E {
  if (typeof err === 'object' && err !== null) Object.defineProperty(err, REPORTED, { value: true });
  return err;
}

function reportedInJson(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[REPORTED] === true;
}

/** The --json answer main prints for an error, or undefined when the command printed its own. */
export function failureJsonFor(err: unknown, exit: number, message: string): string | undefined {
  if (reportedInJson(err)) return undefined;
  return failureJson(exit, message, err instanceof ScenarioFileError ? err.problems : undefined);
}
