/**
 * Writing an HTML report (`--report FILE`), the same way for every command: never over an
 * input (`run x.yaml --report x.yaml` replaced the scenario with HTML), and with a message
 * saying where the page went or why it could not.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { overwritesInput } from '../lib/input_file.ts';

/** Throws, before any work, when the report file is one of the command's inputs. */
export function refuseReportOverInput(report: string | undefined, inputs: readonly (string | undefined)[]): void {
  if (report === undefined) return;
  const input = overwritesInput(
    report,
    inputs.filter((i): i is string => i !== undefined),
  );
  if (input !== undefined) {
    throw new Error(`--report ${report} is the input file ${input}: the report would replace it; name another file`);
  }
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
