/**
 * The installed package's root: the nearest directory above `from` (a module's own
 * directory, in src/ or in dist/src/) that holds package.json. Files shipped with the
 * package (scenarios/, calibration/, native/build/) are found from there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`Cannot find package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** The version in `root`'s package.json ('0.0.0' when it names none). */
export function packageVersion(root: string): string {
  const pkg: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string'
    ? pkg.version
    : '0.0.0';
}
