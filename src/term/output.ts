/**
 * How every command writes: its result on stdout, as a table for people or as JSON with
 * `--json`, and everything said about the run on stderr as `samepage: ...` lines, so that
 * stdout stays the result alone (a script can parse it) and the words are the same in
 * every command.
 */
import { bigintReplacer } from '../report/json.ts';
import { tableWidth } from './width.ts';
import { writeReportFile } from './report_file.ts';

/** Where process output goes; tests may pass their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Control characters but tab and newline (C0, DEL, C1) shown as `?`, as ps(1) shows them:
 * names, labels and comms come from scenario files, snapshots and /proc (a process may name
 * itself anything), and printed raw an escape sequence in one could retitle or rewrite the
 * user's terminal. JSON needs none of this: JSON.stringify escapes them.
 */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, '?');
}

export class Output {
  readonly io: Io;

  constructor(io: Io) {
    this.io = io;
  }

  /** The width tables fit (term/width.ts), or undefined: no limit. */
  get width(): number | undefined {
    return tableWidth(this.io);
  }

  /** The terminal's rows when stdout is one, else undefined. */
  get rows(): number | undefined {
    const out = this.io.stdout as Partial<NodeJS.WriteStream>;
    return out.isTTY === true ? (out.rows ?? 40) : undefined;
  }

  /** `text` as a live screen: in place at a terminal (cursor home, clear below), appended elsewhere. */
  screen(text: string): void {
    const shown = printable(text);
    this.io.stdout.write(this.rows !== undefined ? `\x1b[H\x1b[J${shown}(Ctrl-C to stop)\n` : `${shown}\n`);
  }

  /** Writes `text` on stdout, control characters but tab and newline shown as `?`. */
  print(text: string): void {
    this.io.stdout.write(printable(text));
  }

  /** Writes text for programs (JSON, Prometheus) on stdout exactly as it is. */
  raw(text: string): void {
    this.io.stdout.write(text);
  }

  /** The result: `value` as indented JSON when `json`, else the table `render` gives at the terminal's width. */
  result(json: boolean | undefined, value: unknown, render: (width: number | undefined) => string): void {
    this.io.stdout.write(json === true ? this.json(value) : printable(render(this.width)));
  }

  /** `value` as the indented JSON every command prints (bigints as report/json.ts writes them). */
  json(value: unknown): string {
    return `${JSON.stringify(value, bigintReplacer, 2)}\n`;
  }

  /** Writes the HTML report `render` gives to `file` (`--report`), when one was asked for. */
  async report(file: string | undefined, render: () => Promise<string>): Promise<void> {
    if (file !== undefined) await writeReportFile(file, await render(), this.io.stderr);
  }

  /** A line about the run on stderr: `samepage: <message>`. */
  say(message: string): void {
    this.io.stderr.write(`samepage: ${printable(message)}\n`);
  }

  /** Something the user should know that did not stop the command. */
  note(message: string): void {
    this.say(`note: ${message}`);
  }

  /** Something that went wrong without stopping the command. */
  warn(message: string): void {
    this.say(`warning: ${message}`);
  }
}
