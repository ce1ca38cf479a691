/**
 * How every `samepage` command line runs: commander parses (its own errors and --help are
 * printed by it), the action sets the exit code, and any other error is one line,
 * `samepage: <message>`, exit 2, without a stack (unless SAMEPAGE_DEBUG=1). Shared by the
 * full command (main.ts) and the lean entry of the long-running daemon (plus_main.ts), which
 * must not load the rest of samepage.
 */
import { type Command, CommanderError } from 'commander';

/** Where process output goes; tests may pass their own. */
export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** Thrown for a bad command line or file: printed as `samepage: <message>`, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const EXIT_OK = 0;
const EXIT_UNUSABLE = 2;

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
  try {
    await program.parseAsync([...args], { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message; help and --version are not failures.
      return err.exitCode === 0 ? EXIT_OK : EXIT_UNUSABLE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`samepage: ${message}\n`);
    if (io.env.SAMEPAGE_DEBUG === '1' && err instanceof Error && err.stack !== undefined) {
      io.stderr.write(`${err.stack}\n`);
    }
    return EXIT_UNUSABLE;
  }
}
