import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { packageRoot } from '../lib/package_root.ts';
import { Prng } from '../lib/prng.ts';
import { generateScenario } from './generate.ts';
import { parseScenario, WHOLE_PARSE_BYTES } from './parse.ts';
import { findSteps } from './split.ts';

/** The steps' texts, as the layout cuts them one step per chunk. */
function items(text: string): string[] {
  const layout = findSteps(text, 1);
  assert.ok(layout !== undefined, 'no layout found');
  return layout.bounds.slice(0, -1).map((b, i) => text.slice(b, layout.bounds[i + 1]));
}

test('findSteps cuts a block list at its items, comments and continuation lines included', () => {
  const text =
    'version: 1\nname: t\nsteps:\n  - spawn: { proc: a, comm: x }\n  # a comment\n\n  - expect:\n      /sys/kernel/mm/ksm/run: 0\n  -\n    record: { label: x }\nksm: { run: 0 }\n';
  assert.deepEqual(items(text), [
    '  - spawn: { proc: a, comm: x }\n  # a comment\n\n',
    '  - expect:\n      /sys/kernel/mm/ksm/run: 0\n',
    '  -\n    record: { label: x }\n',
  ]);
  const layout = findSteps(text)!;
  assert.equal(layout.style, 'block');
  assert.equal(
    text.slice(0, layout.cutStart) + text.slice(layout.cutEnd),
    'version: 1\nname: t\nsteps:\nksm: { run: 0 }\n',
  );
  assert.deepEqual(layout.counts, [3]);
});

test('findSteps reads a list at column 0 and a block scalar inside an item', () => {
  const text = 'steps:\n- record: { label: a }\n- expect: |\n    - not an item\n- exit: { proc: a }\nname: t\n';
  assert.deepEqual(items(text), [
    '- record: { label: a }\n',
    '- expect: |\n    - not an item\n',
    '- exit: { proc: a }\n',
  ]);
});

test('findSteps cuts a JSON steps array between its items, whatever the strings hold', () => {
  const text =
    '{"version": 1, "name": "t, [x]", "steps": [{"record": {"label": "a],{"}}, {"exit": {"proc": "a"}} ], "x": 1}';
  assert.deepEqual(items(text), ['{"record": {"label": "a],{"}},', ' {"exit": {"proc": "a"}} ']);
  const layout = findSteps(text)!;
  assert.equal(
    text.slice(0, layout.cutStart) + text.slice(layout.cutEnd),
    '{"version": 1, "name": "t, [x]", "steps": [], "x": 1}',
  );
});

test('findSteps declines what is not a steps list', () => {
  for (const text of [
    '',
    'version: 1\n',
    'steps: []\n',
    'steps:\n  record: { label: a }\n',
    '[1, 2]\n',
    '{"steps": []}',
    '{"steps": 5}',
  ]) {
    assert.equal(findSteps(text), undefined, JSON.stringify(text));
  }
});

/** The repository's scenario files and generated ones, with a JSON copy of each. */
function corpus(): Array<[string, string]> {
  const root = packageRoot(import.meta.dirname);
  const out: Array<[string, string]> = [];
  for (const dir of ['scenarios', 'scenarios-diff']) {
    for (const f of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (f.endsWith('.yaml')) out.push([`${dir}/${f}`, readFileSync(join(root, dir, f), 'utf8')]);
    }
  }
  for (let seed = 0; seed < 40; seed++) out.push([`generated-${seed}`, generateScenario(seed)]);
  for (const [name, text] of [...out]) out.push([`${name}.json`, JSON.stringify(parse(text), null, 1)]);
  return out;
}

test('a file read a step at a time gives what it gives read whole, for every shipped and generated scenario', () => {
  const files = corpus();
  assert.ok(files.length > 100);
  for (const [name, text] of files) {
    const whole = parseScenario(text, name, { mode: 'whole' });
    assert.ok(whole.ok, name);
    for (const chunkBytes of [1, 200, 4096]) {
      assert.deepEqual(parseScenario(text, name, { mode: 'chunked', chunkBytes }), whole, `${name}, ${chunkBytes}`);
    }
  }
});

/** `text` with one random edit: a line dropped, doubled, re-indented, or a character changed. */
function mutate(text: string, rng: Prng): string {
  const lines = text.split('\n');
  const i = rng.below(lines.length);
  const line = lines[i]!;
  switch (rng.below(6)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, line);
      break;
    case 2:
      lines[i] = ` ${line}`;
      break;
    case 3:
      lines[i] = line.slice(1);
      break;
    case 4: {
      const at = rng.below(line.length + 1);
      lines[i] = line.slice(0, at) + '-:"[{#,& *'.charAt(rng.below(10)) + line.slice(at);
      break;
    }
    default:
      lines[i] = `${line} # c`;
  }
  return lines.join('\n');
}

test('read a step at a time, a damaged file never gives another scenario than read whole', () => {
  const rng = new Prng(13);
  const files = corpus();
  let accepted = 0;
  for (let n = 0; n < 1000; n++) {
    const [name, original] = files[rng.below(files.length)]!;
    let text = original;
    for (let k = 0, edits = 1 + rng.below(3); k < edits; k++) text = mutate(text, rng);
    const whole = parseScenario(text, name, { mode: 'whole' });
    const chunked = parseScenario(text, name, { mode: 'chunked', chunkBytes: 1 + rng.below(300) });
    if (whole.ok) {
      accepted++;
      assert.deepEqual(chunked, whole, `${name} after edits:\n${text}`);
    } else {
      assert.equal(chunked.ok, false, `${name} after edits, invalid whole, accepted in chunks:\n${text}`);
    }
  }
  assert.ok(accepted > 100, `only ${accepted} damaged files were still valid`);
});

test('parseScenario reads a file larger than WHOLE_PARSE_BYTES in chunks, with the lines of the file', () => {
  const step = '  - write: { proc: a, region: r, offset: 0, bytes: "00" }\n';
  const n = Math.ceil(WHOLE_PARSE_BYTES / step.length) + 10;
  const head =
    'version: 1\nname: big\nsteps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 4096 }\n';
  const r = parseScenario(
    `${head}${step.repeat(n)}  - write: { proc: a, region: q, offset: 0, bytes: "0" }\n`,
    'big.yaml',
  );
  assert.equal(r.ok, false);
  const last = n + 6;
  assert.deepEqual(r.ok ? [] : r.problems, [
    {
      path: `steps[${n + 2}].write.bytes`,
      line: last,
      message: 'Bytes must be a non-empty hex string with an even number of digits, got "0"',
    },
    { path: `steps[${n + 2}].write.region`, line: last, message: 'Region "q" is not mapped in proc "a"' },
  ]);
  const good = parseScenario(`${head}${step.repeat(n)}`, 'big.yaml');
  assert.ok(good.ok);
  assert.equal(good.ok && good.scenario.steps.length, n + 2);
  assert.equal(good.ok && good.scenario.stepLines.at(-1), n + 5);
});

test('parseScenario refuses a large file whose steps it cannot find, saying how to write them', () => {
  const r = parseScenario(
    `version: 1\nname: x\ndescription: "${'x'.repeat(WHOLE_PARSE_BYTES)}"\nsteps: []\n`,
    'big.yaml',
  );
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.problems[0]!.message, /reads its steps a few at a time.*"steps:" list/);
});
