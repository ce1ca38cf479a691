/**
 * Writing an HTML report (`--report FILE`), the same way for every command: never over an
 * input (`run x.yaml --report x.yaml` replaced the scenario with HTML), and with a message
 * saying where the page went or why it could not.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { overwritesInput } from '../lib/input_file.ts';

/**
 * Throws, before any work, when the report file is one of the command's inputs or cannot be
 * written (no name, a directory, a missing or read-only directory): a run of minutes should
 * not end in "cannot write the report", and with --json the result and the error would be
 * two documents on stdout.
 */
export function checkReportTarget(report: string | undefined, inputs: readonly (string | undefined)[]): void {
  if (report === undefined) return;
  if (report === '') throw new Error('--report needs a file name');
  const input = overwritesInput(
    report,
    inputs.filter((i): i is string => i !== undefined),
  );
  if (input !== undefined) {
    throw new Error(`--report ${report} is the input file ${input}: the report would replace it; name another file`);
  }
  const problem = unwritable(report);
  if (problem !== undefined) throw new Error(`Cannot write the report to ${report}: ${problem}`);
}

/** Why `file` cannot be written, or undefined when it (or, if new, its directory) can. */
function unwritable(file: string): string | undefined {
  const stat = (path: string): ReturnType<typeof statSync> | undefined => statSync(path, { throwIfNoEntry: false });
  const writable = (path: string): boolean => {
    try {
      accessSync(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  const st = stat(file);
  if (st !== undefined) {
    if (st.isDirectory()) return 'it is a directory';
    return writable(file) ? undefined : 'it is not writable';
  }
  const dir = dirname(resolve(file));
  const dirSt = stat(dir);
  if (dirSt === undefined) return `the directory ${dir} does not exist`;
  if (!dirSt.isDirectory()) return `${dir} is not a directory`;
  return writable(dir) ? undefined : `the directory ${dir} is not writable`;
}

/** Writes `html` to `file` and says where on stderr (stdout may be --json); a failure is one line. */
export async function writeReportFile(file: string, html: string, stderr: NodeJS.WritableStream): Promise<void> {
  try {
    await writeFile(file, html);
  } catch (err) {
    throw new Error(`Cannot write the report to ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  stderr.write(`samepage: report written to ${resolve(file)}\n`);
}
