/**
 * The repository and the npm package stand alone: no file points to a place outside them,
 * every document a file names exists, and the package holds every file that the README and
 * the `--help` texts tell a user about (scenarios, examples, docs, the schema, the
 * calibration, the native sources and the script that builds them at install).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../src/lib/package_root.ts';

const ROOT = packageRoot(import.meta.dirname);
const run = promisify(execFile);

/** The files git tracks, or why they cannot be listed (not a git checkout). */
function trackedFiles(): string[] | string {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return `git ls-files failed here: ${r.error?.message ?? r.stderr}`;
  return r.stdout.split('\0').filter((f) => f !== '');
}

const tracked = trackedFiles();
const noGit = typeof tracked === 'string' ? tracked : undefined;
const files = typeof tracked === 'string' ? [] : tracked;
/** Text files worth reading: everything but the lockfile and recorded runs. */
const textFiles = files.filter((f) => !/(^|\/)package-lock\.json$|\.(kernel|model)\.json$|traces\.json$/.test(f));
const read = (f: string): string => readFileSync(join(ROOT, f), 'utf8');

test('no file points outside the repository', { skip: noGit }, () => {
  const outside = /\.\.\/shared\b|\/work\/|shared\/seeds|\/home\/[a-z]/;
  const hits = textFiles.flatMap((f) =>
    read(f)
      .split('\n')
      .flatMap((line, i) => (outside.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(hits, []);
});

/** Documents of other projects, cited by their upstream name, and whose they are. */
const UPSTREAM_DOCS: ReadonlyMap<string, string> = new Map([
  ['doc/xxhash_spec.md', 'the XXH64 specification of the xxHash project (src/lib/wasm/pagekernel.wat)'],
]);

test('every Markdown document a file names exists in the repository', { skip: noGit }, () => {
  const missing: string[] = [];
  for (const f of textFiles) {
    for (const m of read(f).matchAll(/[A-Za-z0-9_./-]*[A-Za-z0-9_-]\.md\b/g)) {
      const name = m[0];
      if (UPSTREAM_DOCS.has(name)) continue;
      // A path from the root or from the naming file, or a bare name of a file somewhere.
      const candidates = [join(ROOT, name), join(ROOT, dirname(f), name)];
      const bare = !name.includes('/') && files.some((t) => t.endsWith(`/${name}`));
      if (!bare && !candidates.some((c) => existsSync(c))) missing.push(`${f}: ${name}`);
    }
  }
  assert.deepEqual(missing, []);
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));
}

test('every relative link of the Markdown files resolves, anchors included', { skip: noGit }, () => {
  const broken: string[] = [];
  for (const f of textFiles.filter((x) => x.endsWith('.md'))) {
    for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
      const [target = '', anchor] = (m[1] ?? '').split('#');
      if (/^[a-z]+:/.test(target)) continue;
      const file = target === '' ? join(ROOT, f) : normalize(join(ROOT, dirname(f), target));
      if (!existsSync(file)) broken.push(`${f}: ${m[1]}`);
      else if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor)) {
        broken.push(`${f}: ${m[1]} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

/** Every `--help` text of the command line, the subcommands' too. */
async function helpTexts(): Promise<Map<string, string>> {
  const bin = join(ROOT, 'bin', 'samepage.js');
  const texts = new Map<string, string>();
  const visit = async (path: string[]): Promise<void> => {
    const { stdout } = await run(process.execPath, [bin, ...path, '--help'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    texts.set(path.join(' '), stdout);
    const commands = stdout.split(/\nCommands:\n/)[1]?.split(/\n\n/)[0] ?? '';
    const names = [...commands.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((c) => c[1] ?? '').filter((c) => c !== 'help');
    await Promise.all(names.map((name) => visit([...path, name])));
  };
  await visit([]);
  return texts;
}

/**
 * Paths the README may name that only a clone of the repository has, with why they are not
 * in the package: the README says so where it names them.
 */
const CLONE_ONLY: ReadonlyArray<readonly [RegExp, string]> = [
  [/^test\/|^dist\/test\/|\.test\.(ts|js)$/, 'the test suites run from a clone (npm test)'],
  [/^\.ci\//, 'the CI entry point'],
  [/^bench\/|^dist\/bench\//, 'benchmarks, run with the devDependencies of a clone'],
  [/^scripts\/kernel-probe\.mjs$/, 're-records test/kernel-truth on the live kernel'],
  [/^scripts\/rbtree-probe\.mjs$/, "re-records test/kernel-truth/rbtree.json from a copy of Linux's tree code"],
  [/^scripts\/linux-coverage\.mjs$/, 'regenerates docs/linux-coverage.md'],
  [/^scripts\/scenario-schema\.mjs$/, 'regenerates schema/scenario.schema.json'],
  [/^scripts\/lint-layers\.mjs$/, 'part of npm run lint'],
  [/^scripts\/robustness-corpus\.mjs$/, 'writes the corpus of the robustness suite, from a built clone'],
  [/^scripts\/reduce-diff\.mjs$/, 'shrinks a disagreeing scenario for scenarios-diff/, from a built clone'],
  [
    /^scripts\/timing-grid\.mjs$/,
    'measures the timing grid and reads the grids kept in bench/results/, from a built clone',
  ],
];

/** Made when the package is installed (scripts/build-native.mjs), never shipped. */
const BUILT_AT_INSTALL = ['native/build/'];

/**
 * The repository paths a text names: `scenarios/x.yaml`, `docs/`, `src/ksm/cost.ts`... A
 * folder (ending in /) or a pattern (`test/kernel-*.test.ts`, `scenarios/<name>.kernel.json`)
 * is kept as the prefix that every file it stands for starts with.
 */
function mentionedPaths(text: string, topLevel: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<![\w./-])([.\w-]+)\/[\w./*<>+-]*/g)) {
    if (!topLevel.has(m[1] ?? '')) continue;
    const pattern = /[*<]/.test(m[0]);
    const path = (m[0].split(/[*<]/)[0] ?? '').replace(/[.,]+$/, '');
    out.add(pattern || path.endsWith('/') ? path : `${path}\0`);
  }
  return [...out];
}

/** Whether `list` holds the path a mention names (a whole name ends in \0, else a prefix). */
function holds(list: readonly string[], mention: string): boolean {
  return mention.endsWith('\0')
    ? list.some((f) => f === mention.slice(0, -1) || f.startsWith(`${mention.slice(0, -1)}/`))
    : list.some((f) => f.startsWith(mention));
}

function packList(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.stderr}`);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  return (pack?.files ?? []).map((f) => f.path);
}

test('npm pack holds every file the README and the --help texts name', { skip: noGit }, async () => {
  const pack = packList();
  const topLevel = new Set([...files.map((f) => f.split('/')[0] ?? ''), 'dist'].filter((t) => t !== ''));
  const sources = new Map<string, string>([['README.md', read('README.md')]]);
  for (const [command, text] of await helpTexts()) sources.set(`samepage ${command} --help`.replace('  ', ' '), text);
  assert.ok(sources.size >= 15, `only ${sources.size - 1} help texts`);

  const problems: string[] = [];
  let checked = 0;
  for (const [source, text] of sources) {
    for (const mention of mentionedPaths(text, topLevel)) {
      const path = mention.replace(/\0$/, '');
      const built = path.startsWith('dist/') || BUILT_AT_INSTALL.some((b) => path.startsWith(b));
      if (!built && !holds(files, mention))
        problems.push(`${source} names ${path}, which the repository does not have`);
      if (CLONE_ONLY.some(([p]) => p.test(path)) || BUILT_AT_INSTALL.some((b) => path.startsWith(b))) continue;
      if (!holds(pack, mention)) problems.push(`${source} names ${path}, which npm pack leaves out`);
      checked++;
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 20, `only ${checked} paths checked`);
});

test('npm pack holds what installing needs and no build output or tests', { skip: noGit }, () => {
  const pack = packList();
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
  for (const bin of Object.values(pkg.bin)) assert.ok(pack.includes(bin.replace(/^\.\//, '')), bin);
  // The install script runs in the installed package: every file it names must be there.
  for (const file of pkg.scripts.install?.match(/[\w./-]+\.m?js\b/g) ?? []) assert.ok(pack.includes(file), file);
  assert.ok(pack.includes('schema/scenario.schema.json'));
  assert.ok(pack.includes('dist/src/cli/main.js'));
  assert.deepEqual(
    pack.filter((f) => f.startsWith('native/build/') || /\.test\.(js|ts|js\.map)$/.test(f) || f.startsWith('test/')),
    [],
  );
  // Source maps point into src/: what they name must be shipped.
  const maps = pack.filter((f) => f.endsWith('.js.map'));
  assert.ok(maps.length > 0);
  for (const map of maps) {
    const { sources } = JSON.parse(read(map)) as { sources: string[] };
    for (const s of sources) assert.ok(pack.includes(normalize(join(dirname(map), s))), `${map} -> ${s}`);
  }
});
