#!/usr/bin/env node
/**
 * Turns the `@linux <file> <function>` JSDoc tags of src/ into docs/linux-coverage.md.
 *
 *   node scripts/linux-coverage.mjs [--check] [ROOT]
 *
 * A tag may end in `(partial: why)` or `(diverges: why)` on the same line. Without --check
 * the doc is (re)written; with --check nothing is written and the exit code is 1 when the
 * committed doc differs from what the tags say (CI). Malformed tags are errors either way,
 * so a typo cannot silently drop a function from the doc. Plain Node, no dependencies.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DOC = 'docs/linux-coverage.md';

const TAG = /@linux\b(.*)$/;
/**
 * `<file> <function>` then optionally `(partial: note)` / `(diverges: note)` up to the last
 * `)`, or `: what it does` (a plain description, kept as the note of a modelled function).
 * Anything else after the name, `(partly: ...)` say, is malformed rather than silently modelled.
 */
const TAG_BODY = /^\s+(\S+)\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+\((partial|diverges):\s*(.*)\)|:\s*(.*?))?\s*$/;
const STATUS = { undefined: 'modelled', partial: 'partly', diverges: 'diverges' };

/** Words that may precede the name in a declaration: skipped to find our symbol. */
const MODIFIERS = new Set([
  'export',
  'default',
  'declare',
  'async',
  'static',
  'public',
  'private',
  'protected',
  'readonly',
  'override',
  'abstract',
  'function',
  'function*',
  'class',
  'const',
  'let',
  'var',
  'interface',
  'type',
  'get',
  'set',
  'enum',
]);

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The name declared on a code line (`export function cmpAndMergePage(`, `  get pagesShared()`). */
function declaredName(line) {
  const words = line
    .trim()
    .split(/[\s(<:=;{]+/)
    .filter((w) => w !== '');
  for (const word of words) {
    if (MODIFIERS.has(word) || word.startsWith('@')) continue;
    const name = word.replace(/^[*#]/, '').match(/^[A-Za-z_$][\w$]*/);
    return name ? name[0] : undefined;
  }
  return undefined;
}

/** The class or interface enclosing an indented declaration: the nearest less-indented one above it. */
function enclosingClass(lines, index) {
  const indent = lines[index].search(/\S/);
  if (indent <= 0) return undefined;
  for (let k = index - 1; k >= 0; k--) {
    const m = lines[k].match(
      /^(\s*)(?:export\s+)?(?:default\s+)?(?:abstract\s+)?(?:class|interface)\s+([A-Za-z_$][\w$]*)/,
    );
    if (m && m[1].length < indent) return m[2];
  }
  return undefined;
}

/** Every tag under root/src: { entries, errors }, each with file (relative to root) and line. */
export function collect(root) {
  const entries = [];
  const errors = [];
  for (const file of listTs(join(root, 'src'))) {
    const rel = relative(root, file).split(sep).join('/');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((text, i) => {
      const inJsDoc = /^\s*(\/\*\*|\*)/.test(text);
      const tag = text.match(TAG);
      if (!inJsDoc || !tag) return;
      const body = tag[1].replace(/\*\/\s*$/, '');
      const m = body.match(TAG_BODY);
      if (!m) {
        errors.push(
          `${rel}:${i + 1}: malformed @linux tag: expected '@linux <file> <function>' optionally followed by '(partial: why)' or '(diverges: why)'`,
        );
        return;
      }
      // Our symbol: the first code line after the comment closes.
      let k = i;
      while (k < lines.length && !lines[k].includes('*/')) k++;
      k++;
      while (
        k < lines.length &&
        (lines[k].trim() === '' || lines[k].trim().startsWith('@') || lines[k].trim().startsWith('//'))
      )
        k++;
      const name = k < lines.length ? declaredName(lines[k]) : undefined;
      const owner = name === undefined ? undefined : enclosingClass(lines, k);
      entries.push({
        kernelFile: m[1],
        fn: m[2],
        status: STATUS[m[3]],
        note: (m[4] ?? m[5] ?? '').trim(),
        symbol: name === undefined ? '?' : owner === undefined ? name : `${owner}.${name}`,
        file: rel,
        line: name === undefined ? i + 1 : k + 1,
      });
    });
  }
  return { entries, errors };
}

const cell = (s) => s.replaceAll('|', '\\|');

/** The whole document for these entries: deterministic (sorted, no dates) so --check can diff. */
export function render(entries) {
  const byFile = new Map();
  const sorted = [...entries].sort(
    (a, b) => cmp(a.kernelFile, b.kernelFile) || cmp(a.fn, b.fn) || cmp(a.file, b.file) || a.line - b.line,
  );
  for (const e of sorted) {
    if (!byFile.has(e.kernelFile)) byFile.set(e.kernelFile, []);
    byFile.get(e.kernelFile).push(e);
  }
  const count = (status) => entries.filter((e) => e.status === status).length;
  const out = [
    '# Linux coverage',
    '',
    '<!-- Generated by scripts/linux-coverage.mjs: do not edit. Run `npm run coverage-doc`. -->',
    '',
    'Which functions of Linux 6.18 samepage models, and where. Every function of `src/` that',
    'models kernel code carries a JSDoc tag `@linux <kernel file> <function>`, optionally',
    'followed by `(partial: why)` or `(diverges: why)`; `scripts/linux-coverage.mjs` collects',
    'the tags into this file (`npm run coverage-doc`), and CI runs it with `--check` to catch a',
    'stale copy. Status:',
    '',
    '- **modelled**: behaves as the kernel function does, for everything samepage can observe;',
    '- **partly**: some of its behaviour is left out, as the note says;',
    '- **diverges**: behaves differently on purpose, as the note says.',
    '',
  ];
  if (entries.length === 0) {
    out.push('No function carries an `@linux` tag yet.', '');
    return out.join('\n');
  }
  out.push(
    `${entries.length} tags over ${byFile.size} kernel files: ${count('modelled')} modelled, ` +
      `${count('partly')} partly, ${count('diverges')} diverging.`,
    '',
  );
  for (const [kernelFile, rows] of byFile) {
    out.push(`## ${kernelFile}`, '', '| function | status | ours | where | note |', '|---|---|---|---|---|');
    for (const e of rows) {
      // No line numbers: they would make the committed doc stale at every edit above a tag.
      const where = `[${e.file}](../${e.file})`;
      out.push(`| \`${e.fn}\` | ${e.status} | \`${cell(e.symbol)}\` | ${where} | ${cell(e.note)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function mainCli() {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const rest = args.filter((a) => a !== '--check');
  const root = resolve(rest[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  if (!existsSync(join(root, 'src'))) {
    console.error(`linux-coverage: no src/ directory under ${root}`);
    return 2;
  }
  const { entries, errors } = collect(root);
  for (const e of errors) console.error(e);
  if (errors.length > 0) return 1;
  // The hand-written list of known divergences is part of the document (docs/divergences.md).
  const extraPath = join(root, 'docs', 'divergences.md');
  const doc = render(entries) + (existsSync(extraPath) ? `\n${readFileSync(extraPath, 'utf8')}` : '');
  const path = join(root, DOC);
  if (check) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (current !== doc) {
      console.error(
        `linux-coverage: ${DOC} is ${current === undefined ? 'missing' : 'out of date'}: run npm run coverage-doc and commit it`,
      );
      return 1;
    }
    console.log(`linux-coverage: ${DOC} is up to date (${entries.length} tags)`);
    return 0;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, doc);
  console.log(`linux-coverage: wrote ${DOC} (${entries.length} tags)`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = mainCli();
}
