/**
 * The samepage command as a user runs it: bin/samepage.js (over the built dist/) in a child
 * process. Tests outside src/cli/ drive the command this way rather than importing it, so
 * that nothing but the command line itself depends on src/cli/.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/lib/package_root.ts';

/** The repository (the package) this test belongs to, from test/ or dist/test/. */
export const REPO = packageRoot(dirname(fileURLToPath(import.meta.url)));

/** The installed `samepage` command. */
export const CLI = join(REPO, 'bin', 'samepage.js');

/** Runs `samepage ARGS...` to its end: the exit code and what it wrote (no colour). */
export function samepage(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}
