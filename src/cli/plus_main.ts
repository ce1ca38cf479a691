/**
 * The lean entry of `samepage plus`: the long-running daemon loads only what it uses (its
 * policy, host readers and the command line), not the model, the reports and their charts,
 * which would cost it some 55 MiB of resident memory for nothing (docs/ksmplus-live.md).
 * bin/samepage.js comes here when the first argument is `plus`; `samepage --help` still
 * lists the command through main.ts.
 */
import { registerPlus } from './plus.ts';
import { newProgram, runProgram } from './run_program.ts';
import type { Io } from '../term/output.ts';

/** Runs `samepage plus ...` (`args` without node, the script and `plus`). */
export function plusMain(args: readonly string[], io: Io = process): Promise<number> {
  return runProgram(
    (setExit) => {
      const program = newProgram(io, 'samepage plus');
      registerPlus(program, io, setExit);
      return program;
    },
    ['plus', ...args],
    io,
  );
}
