/**
 * A throwaway directory tree for the tests of the repository's own scripts (lint-layers,
 * linux-coverage), which read a tree of source files: each path of `files` is written under
 * a fresh temporary directory (whose name starts `samepage-<prefix>-`), returned; the caller removes it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function fakeTree(prefix: string, files: Readonly<Record<string, string>>): string {
  const root = mkdtempSync(join(tmpdir(), `samepage-${prefix}-`));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}
