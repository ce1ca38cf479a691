/**
 * The lines a person types at `samepage shell`'s prompt, with readline's editing and
 * history (a LineSource, as chunks.ts's sources for files and pipes).
 */
import { createInterface } from 'node:readline';
import type { LineSource } from './chunks.ts';

const PS1 = 'samepage# ';
const PS2 = '> ';

/**
 * Lines typed at a terminal, with readline's editing and history. Ctrl-C at the prompt drops
 * the line; while a command runs it interrupts the command. Ctrl-D ends the input.
 */
export function terminalLines(io: { readonly stdout: NodeJS.WritableStream }, onInterrupt: () => void): LineSource {
  const rl = createInterface({ input: process.stdin, output: io.stdout, terminal: true, historySize: 1000 });
  /** Lines typed (or pasted) before they were asked for. */
  const typed: Array<string | undefined> = [];
  let waiting: ((line: string | undefined) => void) | undefined;
  const give = (line: string | undefined) => {
    const w = waiting;
    waiting = undefined;
    if (w === undefined) typed.push(line);
    else w(line);
  };
  rl.on('line', give);
  rl.on('close', () => {
    if (waiting !== undefined) io.stdout.write('exit\n');
    give(undefined);
  });
  rl.on('SIGINT', () => {
    if (waiting === undefined) {
      onInterrupt();
      return;
    }
    // Like bash: ^C, a fresh prompt, the partial command forgotten.
    io.stdout.write('^C\n');
    rl.write(null, { ctrl: true, name: 'u' });
    give('');
  });
  return {
    next: (more) => {
      if (typed.length > 0) return Promise.resolve(typed.shift());
      rl.setPrompt(more ? PS2 : PS1);
      rl.prompt();
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
  };
}
