/** The real python3 interpreter, for tests that start real programs. */
import { execFileSync } from 'node:child_process';

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
