/**
 * docs/architecture.md stays true as the code moves: every file it names exists, it names a
 * file for every place docs/linux-coverage.md says a kernel function is modelled, and its
 * layer table has a row for every layer the lint knows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';

const ROOT = packageRoot(import.meta.dirname);
const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
/**
 * Backticked paths from the repository's root (`src/ksm/scan.ts`, `native/agent.c`,
 * `scenarios/x.yaml`); globs (`scenarios/*.kernel.json`) stand for a kind of file, not one.
 */
const named = [...doc.matchAll(/`((?:src|native|scenarios|scripts|test|docs)\/[^`\s*]*)`/g)].map((m) => m[1]!);

test('every path docs/architecture.md names exists', () => {
  assert.ok(named.length > 40, `only ${named.length} paths found: the pattern no longer matches the doc`);
  assert.deepEqual(
    named.filter((p) => !existsSync(join(ROOT, p))),
    [],
  );
});

test('docs/architecture.md names the file of every function docs/linux-coverage.md lists', () => {
  const coverage = readFileSync(join(ROOT, 'docs/linux-coverage.md'), 'utf8');
  const where = new Set([...coverage.matchAll(/\]\(\.\.\/(src\/[^)]+)\)/g)].map((m) => m[1]!));
  assert.ok(where.size > 10, 'docs/linux-coverage.md lists no files: has its table changed shape?');
  assert.deepEqual(
    [...where].filter((f) => !named.includes(f)),
    [],
  );
});

test("docs/architecture.md's layer table has a row for every folder of src/", () => {
  const layers = readdirSync(join(ROOT, 'src')).filter((d) => statSync(join(ROOT, 'src', d)).isDirectory());
  const rows = new Set([...doc.matchAll(/^\| `([a-z_]+)\/` \|/gm)].map((m) => m[1]!));
  assert.deepEqual(
    layers.filter((l) => !rows.has(l)),
    [],
  );
});
