/**
 * Whether a command would start: execvp's search, done before `kernel exec` tells the user
 * anything about KSM. A program that cannot start needs no note that ksmd is stopped, and no
 * write of ksm/run to hold; the helper still runs it and reports the failure as a shell does
 * (127, 126), so the message comes from one place.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';

/** glibc's execvp searches this when PATH is unset (confstr _CS_PATH). */
const DEFAULT_PATH = '/bin:/usr/bin';

/** A regular file this process may execute. */
function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether execvp(cmd) would find a program to run: `cmd` itself when it holds a slash, else
 * the first directory of `path` (an empty entry is the working directory) holding it.
 */
export function commandRuns(cmd: string, path: string | undefined): boolean {
  if (cmd === '') return false;
  if (cmd.includes('/')) return executable(cmd);
  return (path ?? DEFAULT_PATH).split(':').some((dir) => executable(join(dir === '' ? '.' : dir, cmd)));
}
