/**
 * `samepage shell`'s session on its input: a script file's text, else the lines typed at a
 * terminal (prompt, history, Ctrl-C and Ctrl-D), else a pipe read line by line. Loaded only
 * when a shell runs: it brings the bash interpreter.
 */
import { createInterface } from 'node:readline';
import { readInputFile } from '../lib/input_file.ts';
import { iterableLines, textLines } from './chunks.ts';
import { type ShellOptions, ShellSession } from './session.ts';
import { terminalLines } from './terminal.ts';

/** The largest script read (as for scenario files): the shell parses it in linear time. */
const MAX_SCRIPT_BYTES = 32 * 1024 * 1024;

/**
 * Runs the session to the end of its input, the script file `scriptFile` or else standard
 * input; resolves to its exit code (bash's). A script that cannot be read throws, saying why.
 */
export async function runShell(
  scriptFile: string | undefined,
  opts: ShellOptions & { readonly stdout: NodeJS.WritableStream },
): Promise<number> {
  // A regular file only: /dev/zero would be read for ever, a FIFO would block.
  const read = scriptFile === undefined ? undefined : readInputFile(scriptFile, 'script', MAX_SCRIPT_BYTES);
  if (read?.ok === false) throw new Error(read.problem);
  const script = read?.bytes.toString('utf8');
  const session = await ShellSession.create(opts);
  const interactive = script === undefined && process.stdin.isTTY === true;
  const source =
    script !== undefined
      ? textLines(script)
      : interactive
        ? terminalLines(opts, () => session.interrupt())
        : iterableLines(createInterface({ input: process.stdin, terminal: false }));
  // At a terminal readline hears Ctrl-C; elsewhere the signal interrupts the command.
  const onSigint = (): void => session.interrupt();
  if (!interactive) process.on('SIGINT', onSigint);
  try {
    if (interactive) opts.stdout.write('samepage shell: bash over the model; type help, or Ctrl-D to leave\n');
    return await session.run(source, interactive, scriptFile);
  } finally {
    process.off('SIGINT', onSigint);
    if (interactive) process.stdin.pause();
  }
}
