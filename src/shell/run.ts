/**
 * `samepage shell`'s session on its input: a script's text, else the lines typed at a
 * terminal (prompt, history, Ctrl-C and Ctrl-D), else a pipe read line by line. Loaded only
 * when a shell runs: it brings the bash interpreter.
 */
import { createInterface } from 'node:readline';
import { iterableLines, textLines } from './chunks.ts';
import { type ShellOptions, ShellSession } from './session.ts';
import { terminalLines } from './terminal.ts';

/** Runs the session to the end of its input; resolves to its exit code (bash's). */
export async function runShell(
  script: string | undefined,
  opts: ShellOptions & { readonly stdout: NodeJS.WritableStream },
): Promise<number> {
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
    return await session.run(source, interactive);
  } finally {
    process.off('SIGINT', onSigint);
    if (interactive) process.stdin.pause();
  }
}
