#!/usr/bin/env node
/**
 * The layer check of `npm run lint` (the layers of README.md, "How the code is laid out").
 *
 *   node scripts/lint-layers.mjs [ROOT]
 *
 * Scans ROOT/src/**\/*.ts (ROOT defaults to the repository holding this script) for:
 *   - imports that go against the layer order (import, import type, export ... from, import());
 *     report/ may import types only (`import type`) from the layers that produce results;
 *   - live-machine access outside host/: a /proc or /sys path beside node:fs (LIVE below);
 *   - wall-clock time, timers and Math.random outside the layers allowed to touch the machine;
 *   - module-level `let`/`var` (module state: the kernel's globals belong on an instance);
 *   - TypeScript's `private`/`protected` members (private members are #names);
 *   - imports of the raw live writers outside the journal (JOURNALED below);
 * and ROOT/test and ROOT/bench for imports of src/cli/ (nothing imports the command line).
 * Prints `file:line: message` per violation and exits 1, or one summary line and exits 0.
 * Plain Node with no dependencies so it runs before anything is built.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What each layer may import directly, besides itself. `system` is src/system.ts.
 * `cli` is in nobody's list: nothing imports the command line.
 *   - host/ is the only code that touches the live machine (/proc, /sys, ptrace, the KSM
 *     lock); backends/kernel, differential, measure and cli reach the machine through it.
 *   - differential/ runs a scenario on both backends and compares; measure/ is bench and
 *     calibration (the root bench/ scripts may use it); both sit above backends.
 *   - report/ renders: it imports values from lib only, and types from TYPES_ONLY below.
 */
const DIRECT = {
  lib: [],
  sim: ['lib'],
  mm: ['lib', 'sim'],
  ksm: ['lib', 'sim', 'mm'],
  ksmplus: ['lib', 'sim', 'mm', 'ksm'],
  stats: ['lib'],
  sysfs: ['lib', 'sim', 'mm', 'ksm', 'ksmplus', 'stats'],
  system: ['lib', 'sim', 'mm', 'ksm', 'ksmplus', 'stats', 'sysfs'],
  scenario: ['lib', 'sysfs', 'system', 'attribution'],
  // Who saves what: KSM's saving attributed to processes, pure arithmetic that the live
  // reader (host/) and the model (backends/) both feed; ksm/ only for the profit formula.
  attribution: ['lib', 'ksm'],
  // The KSM+ daemon's policy for stock kernels: pure, it sees the machine through an interface
  // (policy/host.ts) that host/ implements for the live kernel and backends/model for the model.
  policy: ['lib'],
  host: ['lib', 'stats', 'attribution', 'policy'],
  backends: [
    'lib',
    'scenario',
    'system',
    'sysfs',
    'host',
    'sim',
    'mm',
    'ksm',
    'ksmplus',
    'stats',
    'attribution',
    'policy',
  ],
  differential: ['lib', 'scenario', 'backends', 'host'],
  measure: ['lib', 'sim', 'mm', 'ksm', 'system', 'scenario', 'backends', 'host'],
  // samepage shell: bash (the just-bash library) over a model machine's files and processes.
  shell: ['lib', 'sim', 'mm', 'ksm', 'ksmplus', 'stats', 'sysfs', 'system', 'scenario', 'backends'],
  report: ['lib'],
  // How commands talk to the terminal: Output (results as tables or --json, notes and warnings
  // on stderr, --report files), progress bars, the width tables fit, waiting for Ctrl-C.
  // report/ only for its JSON writer (bigints), which every --json answer shares.
  term: ['lib', 'scenario', 'report'],
  cli: [
    'lib',
    'sim',
    'mm',
    'ksm',
    'ksmplus',
    'stats',
    'sysfs',
    'system',
    'scenario',
    'attribution',
    'host',
    'policy',
    'backends',
    'differential',
    'measure',
    'report',
    'shell',
    'term',
  ],
};

/**
 * Layers whose plain result types report/ may name, with `import type` (or `export type`)
 * only: a type import is erased from the JavaScript, so every table and chart can live in
 * report/ without report/ running, or loading, anything of the layers that produce results.
 */
const TYPES_ONLY = {
  report: ['scenario', 'stats', 'attribution', 'host', 'policy', 'backends', 'differential', 'measure'],
};

/**
 * LIVE: the live machine is host/'s alone. Outside host/ (and outside test files, which
 * look at the machine to check what the code did), a file that imports node:fs or
 * node:child_process may hold no literal path under /proc or /sys. Why this shape: the
 * model and the scenario format name such paths as data ('/sys/kernel/mm/ksm/run' is a file
 * of the model's sysfs and a word of scenario files), and those files do not do I/O; a file
 * that does I/O and names a /proc or /sys path is reading or writing the live machine. A
 * literal counts when it begins with `/proc` or `/sys` (then `/` or its end) and its text,
 * up to a template's first `${`, holds no whitespace, so a help text that mentions a path
 * in a sentence is prose, not access. A path built from a constant that host/ exports
 * escapes this check, which is why host/ keeps its constants (KSM_DIR) for messages only.
 */
const LIVE_ONLY = 'host/';
const IO_MODULES = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'child_process', 'node:child_process']);
const LIVE_PATH = /^\/(?:proc|sys)(?:\/\S*)?$/;

/**
 * JOURNALED: the raw writers of the live machine (a sysfs write, ksmd's CPUs, a ptrace
 * injection), by the file that defines them, and the only file that may import them:
 * host/live_writes.ts, which records each change in the journal before it makes it, so that
 * whatever kills samepage leaves a record of what to undo (docs/crash-safety.md). Everything
 * else changes the machine through host/live_changes.ts. Test files may use them directly
 * (they put back what they break in `finally`), and so may the kernel backend's test
 * helpers. A namespace or dynamic import of a defining file counts as importing them all.
 */
const JOURNALED = {
  'host/ksm_sysfs.ts': ['writeSysfs', 'REAL_SYSFS', 'restoreKsm'],
  'host/ksmd_affinity.ts': ['setTaskCpus'],
  'host/inject.ts': ['injectSyscalls'],
};
const JOURNAL_WRITERS = new Set(['host/live_writes.ts']);
const JOURNAL_EXEMPT = new Set(['backends/kernel/testing.ts']);

/** The names an import or re-export statement takes, or `all` for `* as x`, `export *` and import(). */
function importedNames(statement) {
  if (/^import\s*\(/.test(statement) || /\*\s*(?:as\s|from)/.test(statement)) return 'all';
  const braces = /\{([^}]*)\}/.exec(statement);
  if (braces === null) return [];
  return braces[1]
    .split(',')
    .map((part) =>
      part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)[0]
        .trim(),
    )
    .filter(Boolean);
}

/** Layers (relative to src/) where real time and timers are the point, not a bug. */
const TIME_ALLOWED = ['cli/', 'term/', 'backends/kernel/', 'host/', 'measure/'];

/** Nondeterminism banned elsewhere: time must come from the injected clock, chance from the PRNG. */
const BANNED = [
  [/\bMath\.random\b/g, 'Math.random'],
  [/\bDate\.now\b/g, 'Date.now'],
  [/\bnew\s+Date\b/g, 'new Date('],
  [/\bperformance\.now\b/g, 'performance.now'],
  [/\bsetTimeout\b/g, 'setTimeout'],
  [/\bsetInterval\b/g, 'setInterval'],
  [/\bsetImmediate\b/g, 'setImmediate'],
  [/\bprocess\.hrtime\b/g, 'process.hrtime'],
];

/**
 * Import forms, matched on source whose comments are blanked. The static form refuses to
 * cross a quote or a semicolon, so it cannot run from one statement into a string of another.
 */
const IMPORT_PATTERNS = [
  /(?<![.\w$])(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
  /(?<![.\w$])import\s*(['"])([^'"\n]+)\1/g,
  /(?<![.\w$])import\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
];

/** For every layer, all it may import: its direct list, closed transitively (for test files). */
function closure() {
  const out = {};
  const visit = (layer, seen) => {
    for (const dep of DIRECT[layer] ?? []) {
      if (!seen.has(dep)) {
        seen.add(dep);
        visit(dep, seen);
      }
    }
    return seen;
  };
  for (const layer of Object.keys(DIRECT)) out[layer] = visit(layer, new Set());
  return out;
}

/** `lib`, `system`, ... for a path relative to src/ (with `/` separators); undefined if none. */
function layerOf(srcRel) {
  if (srcRel === 'system.ts') return 'system';
  const slash = srcRel.indexOf('/');
  if (slash < 0) return undefined;
  const dir = srcRel.slice(0, slash);
  return Object.hasOwn(DIRECT, dir) ? dir : undefined;
}

/**
 * Two copies of `text` of the same length and line structure: `code` with comments blanked
 * (strings kept, for import specifiers) and `bare` with string and template contents blanked
 * too (for banned words and top-level `let`). Template `${...}` expressions stay code.
 * `literals` lists each string literal and template head (its text up to the first `${`),
 * with the offset of its opening quote.
 * Regular-expression literals are not recognised: a quote inside one would confuse this,
 * which is acceptable for this code base and would show up as a spurious violation.
 */
export function blank(text) {
  const code = text.split('');
  const bare = text.split('');
  const literals = [];
  const wipe = (arr, from, to) => {
    for (let k = from; k < to; k++) if (arr[k] !== '\n') arr[k] = ' ';
  };
  const n = text.length;
  // Brace depth at which each open `${` started: its closing brace resumes the template.
  const templates = [];
  let depth = 0;
  let i = 0;
  const scanTemplate = (from) => {
    let j = from;
    while (j < n) {
      const ch = text[j];
      if (ch === '\\') j += 2;
      else if (ch === '`') {
        wipe(bare, from, j);
        return j + 1;
      } else if (ch === '$' && text[j + 1] === '{') {
        wipe(bare, from, j);
        templates.push(depth);
        depth++;
        return j + 2;
      } else j++;
    }
    wipe(bare, from, n);
    return n;
  };
  while (i < n) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      wipe(code, i, stop);
      wipe(bare, i, stop);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      wipe(code, i, stop);
      wipe(bare, i, stop);
      i = stop;
    } else if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < n && text[j] !== ch && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      literals.push({ offset: i, text: text.slice(i + 1, Math.min(j, n)) });
      wipe(bare, i + 1, Math.min(j, n));
      i = j + 1;
    } else if (ch === '`') {
      const end = scanTemplate(i + 1);
      const head = text.slice(i + 1, end);
      const expr = head.indexOf('${');
      literals.push({ offset: i, text: expr < 0 ? head.slice(0, -1) : head.slice(0, expr) });
      i = end;
    } else if (ch === '{') {
      depth++;
      i++;
    } else if (ch === '}') {
      depth--;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        i = scanTemplate(i + 1);
      } else i++;
    } else i++;
  }
  return { code: code.join(''), bare: bare.join(''), literals };
}

/** 1-based line of each offset, by binary search over line starts. */
function lineIndex(text) {
  const starts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === '\n') starts.push(k + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listTs(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

const toPosix = (p) => p.split(sep).join('/');

/** Every violation under root/src, as { file (relative to root), line, message }, in file order. */
export function lint(root) {
  const src = join(root, 'src');
  const testDir = join(root, 'test');
  const below = closure();
  const violations = [];
  const files = listTs(src);
  for (const file of files) {
    const rel = toPosix(relative(root, file));
    const srcRel = toPosix(relative(src, file));
    const text = readFileSync(file, 'utf8');
    const { code, bare, literals } = blank(text);
    const lineOf = lineIndex(text);
    const report = (offset, message) => violations.push({ file: rel, line: lineOf(offset), message });
    const layer = layerOf(srcRel);
    const isTest = srcRel.endsWith('.test.ts');

    if (layer === undefined) {
      report(
        0,
        `not in any layer: put it under one of src/{${Object.keys(DIRECT)
          .filter((l) => l !== 'system')
          .join(',')}}/ or add a layer to scripts/lint-layers.mjs`,
      );
    } else {
      for (const pattern of IMPORT_PATTERNS) {
        for (const m of code.matchAll(pattern)) {
          const spec = m[2];
          if (bare[m.index] !== code[m.index]) continue; // the word import inside a string
          if (!spec.startsWith('.') && !spec.startsWith('/')) continue; // a package, not ours
          const offset = m.index + m[0].lastIndexOf(spec);
          const target = resolve(dirname(file), spec);
          const targetRel = toPosix(relative(src, target));
          if (targetRel.startsWith('../') || targetRel === '..') {
            const testRel = toPosix(relative(testDir, target));
            const inTest = !testRel.startsWith('../') && testRel !== '..';
            if (!(isTest && inTest)) {
              report(
                offset,
                `${layer} imports '${spec}' from outside src/${inTest ? ' (test helpers are for *.test.ts files)' : ''}`,
              );
            }
            continue;
          }
          const raw = JOURNALED[targetRel.replace(/\.js$/, '.ts')];
          if (raw !== undefined && !isTest && !JOURNAL_WRITERS.has(srcRel) && !JOURNAL_EXEMPT.has(srcRel)) {
            const names = importedNames(m[0]);
            const taken = names === 'all' ? raw : raw.filter((n) => names.includes(n));
            if (taken.length > 0) {
              report(
                offset,
                `imports the raw live writer${taken.length === 1 ? '' : 's'} ${taken.join(', ')} of '${spec}': change the machine through host/live_changes.ts, which journals each change first (docs/crash-safety.md)`,
              );
            }
          }
          const targetLayer = layerOf(targetRel);
          if (targetLayer === undefined || targetLayer === layer) continue; // the former is reported on its own file
          const allowed = isTest ? below[layer] : new Set(DIRECT[layer]);
          if (allowed.has(targetLayer)) continue;
          const typesFrom = TYPES_ONLY[layer] ?? [];
          const typeOnly = /^(?:import|export)\s+type\s/.test(m[0]);
          if (typesFrom.includes(targetLayer) && (typeOnly || isTest)) continue;
          const why =
            targetLayer === 'cli'
              ? 'nothing imports cli'
              : `${layer} may import ${[...allowed].join(', ') || 'nothing of ours'}${typesFrom.length > 0 ? `, and types only (import type) from ${typesFrom.join(', ')}` : ''}`;
          report(offset, `${layer} must not import ${targetLayer}: '${spec}' (${why})`);
        }
      }
    }

    if (!isTest && !srcRel.startsWith(LIVE_ONLY) && importsIo(code, bare)) {
      for (const lit of literals) {
        if (LIVE_PATH.test(lit.text)) {
          report(
            lit.offset,
            `live-machine path '${lit.text}' beside node:fs or node:child_process: only host/ reads /proc and /sys (use src/host/)`,
          );
        }
      }
    }

    if (!TIME_ALLOWED.some((prefix) => srcRel.startsWith(prefix))) {
      for (const [pattern, name] of BANNED) {
        for (const m of bare.matchAll(pattern)) {
          report(m.index, `${name} is banned here: take time from the injected clock and chance from the seeded PRNG`);
        }
      }
    }

    for (const m of bare.matchAll(/^(?:export\s+)?(let|var)\b/gm)) {
      report(m.index, `module-level ${m[1]} is module state: make it a field of an instance`);
    }

    // One style of private member: ECMAScript #names, which the runtime enforces too (a
    // private constructor has no # form, so it stays).
    const modifiers =
      /^\s+(private|protected)\s+(?:static\s+|readonly\s+|async\s+|get\s+|set\s+)*(?!constructor\b)[\w$]+\s*[(:=;<!?]/gm;
    for (const m of bare.matchAll(modifiers)) {
      report(
        m.index + m[0].indexOf(m[1]),
        `TypeScript's \`${m[1]}\` member: use a #name (one style of private member)`,
      );
    }
  }
  // Tests and the root bench scripts may use any layer of src/, but never the command line.
  const outside = ['test', 'bench'].flatMap((dir) => (existsSync(join(root, dir)) ? listTs(join(root, dir)) : []));
  for (const file of outside) {
    const text = readFileSync(file, 'utf8');
    const { code, bare } = blank(text);
    const lineOf = lineIndex(text);
    for (const pattern of IMPORT_PATTERNS) {
      for (const m of code.matchAll(pattern)) {
        const spec = m[2];
        if (bare[m.index] !== code[m.index] || !spec.startsWith('.')) continue;
        const targetRel = toPosix(relative(src, resolve(dirname(file), spec)));
        if (layerOf(targetRel) !== 'cli') continue;
        violations.push({
          file: toPosix(relative(root, file)),
          line: lineOf(m.index + m[0].lastIndexOf(spec)),
          message: `imports '${spec}': nothing imports cli (run the samepage command instead, or use the layer it calls)`,
        });
      }
    }
  }
  violations.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { files: files.length + outside.length, violations };
}

/** Whether source (comments blanked) imports a module that reads files or runs programs, for values. */
function importsIo(code, bare) {
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) {
      if (bare[m.index] !== code[m.index]) continue;
      if (IO_MODULES.has(m[2]) && !/^(?:import|export)\s+type\s/.test(m[0])) return true;
    }
  }
  return false;
}

function mainCli() {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  if (!existsSync(join(root, 'src'))) {
    console.error(`lint-layers: no src/ directory under ${root}`);
    process.exitCode = 2;
    return;
  }
  const { files, violations } = lint(root);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) {
    console.log(`lint-layers: ${violations.length} violation${violations.length === 1 ? '' : 's'} in ${files} files`);
    process.exitCode = 1;
  } else {
    console.log(`lint-layers: ${files} files, layers and determinism rules hold`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) mainCli();
