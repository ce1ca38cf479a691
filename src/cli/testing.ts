/**
 * What tests of the command line share: an Io that collects what main writes, and the real
 * python3 interpreter for tests that start real programs.
 */
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Io } from './main.ts';

/** An Io whose stdout and stderr are collected; env is empty (no colour, no debug). */
export function capture(): { io: Io; out: () => string; err: () => string } {
  const sink = (chunks: string[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    });
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: sink(out), stderr: sink(err), env: {} }, out: () => out.join(''), err: () => err.join('') };
}

/**
 * The real python3 interpreter, or undefined when there is none. pyenv's `python3` is a
 * shell shim: a test that ptraces or measures the process must start the interpreter itself.
 */
export function realPython(): string | undefined {
  try {
    return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
