/** Writing an HTML report (`--report FILE`), the same way for every command. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Writes `html` to `file` and says where on stderr (stdout may be --json); a failure is one line. */
export async function writeReportFile(file: string, html: string, stderr: NodeJS.WritableStream): Promise<void> {
  try {
    await writeFile(file, html);
  } catch (err) {
    throw new Error(`Cannot write the report to ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  stderr.write(`samepage: report written to ${resolve(file)}\n`);
}
