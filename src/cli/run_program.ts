/**
 * How every `samepage` command line runs: commander parses (its own errors and --help are
 * printed by it), the action sets the exit code, and any other error is one line,
 * `samepage: <message>`, exit 2, without a stack (unless SAMEPAGE_DEBUG=1), and with --json
 * also a JSON answer on stdout (errors.ts). Shared by the full command (main.ts) and the lean
 * entry of the long-running daemon (plus_main.ts), which must not load the rest of samepage.
 */
import { Command, CommanderError } from 'commander';
import { failureJson, failureJsonFor, wantsJson } from './errors.ts';
import type { Io } from '../term/output.ts';

const EXIT_OK = 0;
const EXIT_UNUSABLE = 2;

/** An empty `samepage` program writing to `io`; `usage` is the command whose --help a usage error points to. */
export function newProgram(io: Io, usage: string): Command {
  return (
    new Command('samepage')
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
      // Commander exits 1 on a usage error by default, which the contract reserves for a failed
      // expect; exitOverride turns every exit into a CommanderError that runProgram maps to 2.
      .exitOverride()
      .showHelpAfterError(`(run ${usage} --help for usage)`)
  );
}

/** Builds the program with `build` (given the exit-code setter), runs `args`, resolves to the exit code. */
export async function runProgram(
  build: (setExit: (code: number) => void) => Command,
  args: readonly string[],
  io: Io,
): Promise<number> {
  let exitCode = EXIT_OK;
  const program = build((code) => {
    exitCode = code;
  });
  // `samepage help nosuch` would print the whole help and exit 2 without a word of why.
  const [first, asked] = args;
  if (first === 'help' && asked !== undefined && !program.commands.some((c) => c.name() === asked)) {
    io.stderr.write(`error: unknown command '${asked}' (run samepage --help for the commands)\n`);
    return EXIT_UNUSABLE;
  }
  try {
    await program.parseAsync([...args], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message; help and --version are not failures.
      if (err.exitCode === 0) return EXIT_OK;
      if (wantsJson(args)) io.stdout.write(failureJson(EXIT_UNUSABLE, err.message.replace(/^error: /, '')));
      return EXIT_UNUSABLE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`samepage: ${message}\n`);
    const json = wantsJson(args) ? failureJsonFor(err, EXIT_UNUSABLE, message) : undefined;
    if (json !== undefined) io.stdout.write(json);
    if (io.env.SAMEPAGE_DEBUG === '1' && err instanceof Error && err.stack !== undefined) {
      io.stderr.write(`${err.stack}\n`);
    }
    return EXIT_UNUSABLE;
  }
}
