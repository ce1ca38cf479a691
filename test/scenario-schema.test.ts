/**
 * The committed JSON Schema of scenario files (schema/scenario.schema.json) against the zod
 * schemas it is generated from and against the files samepage ships: it must be current
 * (npm run schema), a valid draft-07 schema, accept every scenario samepage accepts (the
 * shipped ones, generated ones, the examples of the docs) and refuse what no version of
 * samepage could read. Validated with Ajv, a JSON Schema validator independent of zod, as
 * an editor would validate a file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { packageRoot } from '../src/lib/package_root.ts';
import { generateScenario } from '../src/scenario/generate.ts';
import { renderScenarioJsonSchema, SCHEMA_FILE } from '../src/scenario/json_schema.ts';
import { formatProblems, parseScenario } from '../src/scenario/parse.ts';

const ROOT = packageRoot(import.meta.dirname);
const SCENARIO_DIRS = ['scenarios', 'scenarios/thesis', 'scenarios-diff'];
const DOCS_WITH_SCENARIOS = ['docs/scenario-format.md', 'README.md'];

const committed = readFileSync(join(ROOT, SCHEMA_FILE), 'utf8');
// strict: an unknown keyword or a type that contradicts a keyword is an error, not ignored
// (required inside oneOf, for wait's one-of-two, names properties defined beside it).
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
// The editors' own annotation keyword (VS Code's JSON and YAML services), not validation.
ajv.addVocabulary(['patternErrorMessage']);
const validate = ajv.compile(JSON.parse(committed));

function schemaErrors(data: unknown): string {
  return validate(data) ? '' : ajv.errorsText(validate.errors);
}

/** The fenced blocks of a Markdown file: language, text, and the block that follows. */
function fencedBlocks(markdown: string): Array<{ lang: string; text: string; next: string | undefined }> {
  const blocks = [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? '',
    text: m[2] ?? '',
  }));
  return blocks.map((b, i) => ({ ...b, next: blocks[i + 1]?.text }));
}

test('schema/scenario.schema.json is what the zod schemas give (npm run schema)', () => {
  assert.ok(
    committed === renderScenarioJsonSchema(),
    `${SCHEMA_FILE} is out of date: run npm run schema and commit the result`,
  );
});

test('every shipped scenario file validates against the schema', () => {
  let files = 0;
  for (const dir of SCENARIO_DIRS) {
    for (const name of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.yaml'))) {
      const text = readFileSync(join(ROOT, dir, name), 'utf8');
      assert.ok(parseScenario(text, name).ok, `${dir}/${name} is not a valid scenario`);
      assert.equal(schemaErrors(parse(text)), '', `${dir}/${name}`);
      files++;
    }
  }
  assert.ok(files >= 30, `only ${files} scenario files found`);
});

test('the schema accepts 300 generated scenarios that samepage accepts', () => {
  for (let seed = 0; seed < 300; seed++) {
    const text = generateScenario(seed);
    assert.ok(parseScenario(text, `generated-${seed}.yaml`).ok);
    assert.equal(schemaErrors(parse(text)), '', `generated scenario ${seed}`);
  }
});

test('the examples of the docs are what samepage and the schema say of them', () => {
  let complete = 0;
  let snippets = 0;
  let refused = 0;
  for (const doc of DOCS_WITH_SCENARIOS) {
    for (const block of fencedBlocks(readFileSync(join(ROOT, doc), 'utf8'))) {
      if (block.lang !== 'yaml') continue;
      const where = `${doc}: ${block.text.split('\n')[0]}`;
      if (block.text.startsWith('# refused\n')) {
        // A file the docs show being refused, followed by the exact messages.
        const result = parseScenario(block.text, 'mistakes.yaml');
        assert.ok(!result.ok, `${where}: samepage accepts it`);
        assert.equal(`${formatProblems('mistakes.yaml', result.problems)}\n`, block.next, where);
        refused++;
      } else if (/^(?:#.*\n)*version: 1\n/.test(block.text)) {
        const result = parseScenario(block.text, doc);
        assert.ok(result.ok, `${where}: ${result.ok ? '' : formatProblems(doc, result.problems)}`);
        assert.equal(schemaErrors(parse(block.text)), '', where);
        complete++;
      } else if (block.text.startsWith('- ')) {
        // Steps shown alone: each must be a step the schema accepts.
        const steps = parse(block.text) as unknown;
        assert.equal(schemaErrors({ version: 1, name: 'snippet', steps }), '', where);
        snippets++;
      }
    }
  }
  assert.ok(complete >= 3 && snippets >= 15 && refused >= 1, `${complete} files, ${snippets} snippets, ${refused}`);
});

/** Files samepage refuses for a reason the schema can see on its own. */
const REFUSED: ReadonlyArray<readonly [string, string]> = [
  ['an unknown step kind', 'steps:\n  - sleep: { ms: 10 }\n'],
  ['two kinds in one step', 'steps:\n  - spawn: { proc: a, comm: x }\n    exit: { proc: a }\n'],
  ['an empty step', 'steps:\n  - {}\n'],
  ['a missing field', 'steps:\n  - spawn: { proc: a }\n'],
  ['an unknown field', 'steps:\n  - spawn: { proc: a, comm: x, pid: 1 }\n'],
  ['a bad proc name', 'steps:\n  - spawn: { proc: "a/b", comm: x }\n'],
  [
    'a size in the wrong unit',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 64KB }\n',
  ],
  [
    'a size off the page size',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 5000 }\n',
  ],
  [
    'a fill offset off the page size',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 8192 }\n  - fill: { proc: a, region: r, pattern: zero, offset: 100 }\n',
  ],
  [
    'an unknown pattern',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 4096 }\n  - fill: { proc: a, region: r, pattern: ones }\n',
  ],
  [
    'a byte above 255',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 4096 }\n  - fill: { proc: a, region: r, pattern: { byte: 256 } }\n',
  ],
  [
    'a negative seed',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 4096 }\n  - fill: { proc: a, region: r, pattern: { random: "-1" } }\n',
  ],
  ['a wait with both', 'steps:\n  - wait: { full_scans: 1, ms: 5 }\n'],
  ['a wait with neither', 'steps:\n  - wait: {}\n'],
  ['a wait of 0 ms', 'steps:\n  - wait: { ms: 0 }\n'],
  ['an unknown errno', 'steps:\n  - sysfs: { path: ksm/run, value: "3", errno: EWHATEVER }\n'],
  [
    'a returns of -22',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - prctl: { proc: a, option: PR_GET_MEMORY_MERGE, returns: -22 }\n',
  ],
  ['an expect path outside the format', 'steps:\n  - expect: { /proc/meminfo: 1 }\n'],
  ['an empty expect', 'steps:\n  - expect: {}\n'],
  ['a read-only ksm value', 'ksm: { pages_shared: 1 }\nsteps: []\n'],
  [
    'a YAML boolean for shared',
    'steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 4096, shared: yes }\n',
  ],
  ['version 2', 'version: 2\nname: x\nsteps: []\n'],
  ['an unknown top-level field', 'seed: 1\nsteps: []\n'],
];

test('the schema refuses what samepage refuses for a reason of one value', () => {
  for (const [what, body] of REFUSED) {
    const text = body.startsWith('version:') ? body : `version: 1\nname: refused\n${body}`;
    assert.ok(!parseScenario(text, 'refused.yaml').ok, `samepage accepts ${what}`);
    assert.notEqual(schemaErrors(parse(text)), '', `the schema accepts ${what}`);
  }
});

test('scripts/scenario-schema.mjs --check passes on the committed file', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'scenario-schema.mjs'), '--check'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /is current/);
});
