/** What tests of the command line share: an Io that collects what main writes. */
import { Writable } from 'node:stream';
import type { Io } from './output.ts';

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
