import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';
import { fakeTree } from './fake_tree.ts';

const SCRIPT = join(packageRoot(import.meta.dirname), 'scripts', 'linux-coverage.mjs');

function run(root: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args, root], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const KSM = [
  'export class Ksm {',
  '  /**',
  '   * Merges a page with an identical one, or remembers it for later.',
  '   * @linux mm/ksm.c cmp_and_merge_page',
  '   */',
  '  cmpAndMergePage(): void {}',
  '',
  '  /** Walks the stable tree. @linux mm/ksm.c stable_tree_search (partial: no NUMA (yet) | chains) */',
  '  private stableTreeSearch(): void {}',
  '}',
  '',
  '/**',
  ' * @linux mm/ksm.c calc_checksum (diverges: caches the sum until the frame is written)',
  ' */',
  'export function calcChecksum(): number {',
  '  return 0;',
  '}',
  '',
].join('\n');

const MM = [
  '/** Copy on write. @linux mm/memory.c do_wp_page */',
  'export const doWpPage = (): void => {};',
  'export interface Hooks {',
  '  /** @linux mm/ksm.c ksm_madvise: returns 0 or -errno */',
  '  ksmMadvise(advice: number): number;',
  '}',
  '',
].join('\n');

test('linux-coverage writes one table per kernel file with status, symbol, place and note', () => {
  const root = fakeTree('cov', {
    'src/ksm/ksm.ts': KSM,
    'src/mm/memory.ts': MM,
    'src/ksm/ksm.test.ts': '/** @linux mm/ksm.c ignored */\n',
  });
  try {
    const r = run(root);
    assert.equal(r.status, 0, r.stderr);
    const doc = readFileSync(join(root, 'docs/linux-coverage.md'), 'utf8');
    assert.match(doc, /^# Linux coverage\n/);
    assert.match(doc, /5 tags over 2 kernel files: 3 modelled, 1 partly, 1 diverging\./);
    assert.ok(doc.indexOf('## mm/ksm.c') < doc.indexOf('## mm/memory.c'));
    assert.match(
      doc,
      /\| `cmp_and_merge_page` \| modelled \| `Ksm\.cmpAndMergePage` \| \[src\/ksm\/ksm\.ts\]\(\.\.\/src\/ksm\/ksm\.ts\) \| {2}\|/,
    );
    assert.match(
      doc,
      /\| `stable_tree_search` \| partly \| `Ksm\.stableTreeSearch` \| \[src\/ksm\/ksm\.ts\].* \| no NUMA \(yet\) \\\| chains \|/,
    );
    assert.match(
      doc,
      /\| `calc_checksum` \| diverges \| `calcChecksum` \| \[src\/ksm\/ksm\.ts\].* \| caches the sum until the frame is written \|/,
    );
    assert.match(doc, /\| `do_wp_page` \| modelled \| `doWpPage` \| \[src\/mm\/memory\.ts\]/);
    assert.match(
      doc,
      /\| `ksm_madvise` \| modelled \| `Hooks\.ksmMadvise` \| \[src\/mm\/memory\.ts\].* \| returns 0 or -errno \|/,
    );
    assert.doesNotMatch(doc, /ignored/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('linux-coverage --check fails on a stale doc and passes on a fresh one', () => {
  const root = fakeTree('cov', { 'src/mm/memory.ts': MM });
  try {
    assert.equal(run(root, '--check').status, 1, 'missing doc');
    assert.equal(run(root).status, 0);
    assert.equal(run(root, '--check').status, 0);
    writeFileSync(join(root, 'src/ksm.ts'), KSM);
    const stale = run(root, '--check');
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /out of date/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('linux-coverage rejects a malformed tag with its place', () => {
  const root = fakeTree('cov', {
    'src/mm/memory.ts':
      '/**\n * @linux mm/memory.c\n * @linux mm/memory.c f (partly: typo)\n */\nexport function f(): void {}\n',
  });
  try {
    const r = run(root);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^src\/mm\/memory\.ts:2: malformed @linux tag/);
    assert.match(r.stderr, /\nsrc\/mm\/memory\.ts:3: malformed @linux tag/);
    assert.equal(existsSync(join(root, 'docs/linux-coverage.md')), false);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
