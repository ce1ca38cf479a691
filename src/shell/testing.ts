/** Runs a script in a fresh `samepage shell` session and collects what it prints. */
import { textLines } from './chunks.ts';
import { ShellSession } from './session.ts';

export interface ShellRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly parses: number;
}

/** `name`: run as the script file of that name (syntax errors say its name and line, as bash's do). */
export async function runShell(script: string, maxVirtualMs = 3_600_000, name?: string): Promise<ShellRun> {
  let stdout = '';
  let stderr = '';
  const session = await ShellSession.create({
    seed: 0,
    bootEpochMs: 0,
    maxVirtualMs,
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  const code = await session.run(textLines(script), false, name);
  return { code, stdout, stderr, parses: session.parses };
}
