/**
 * The installed package's root: the nearest directory above `from` (a module's own
 * directory, in src/ or in dist/src/) that holds package.json. Files shipped with the
 * package (scenarios/, calibration/, native/build/) are found from there.
 */
import { existsSync } from 'node:fs';
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
