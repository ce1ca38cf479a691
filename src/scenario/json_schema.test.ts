import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errnoNames } from '../lib/errno.ts';
import { renderScenarioJsonSchema, scenarioJsonSchema } from './json_schema.ts';
import { KSM_WRITABLE_FILES } from '../lib/ksm_files.ts';
import { STEP_KINDS } from './schema.ts';

type Node = Record<string, unknown>;
const node = (v: unknown): Node => v as Node;

const schema = scenarioJsonSchema();
const props = node(schema.properties);
const stepItem = node(node(props.steps).items);
const stepKinds = node(stepItem.properties);

test('scenarioJsonSchema is draft-07 with the top-level fields of the format', () => {
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.deepEqual(Object.keys(props), ['version', 'name', 'description', 'machine', 'ksm', 'steps']);
  assert.deepEqual([...(schema.required as string[])].sort(), ['name', 'steps', 'version']);
  assert.equal(schema.additionalProperties, false);
  assert.match(String(schema.description), /docs\/scenario-format\.md/);
});

test('scenarioJsonSchema describes a step as one mapping with exactly one step kind', () => {
  assert.deepEqual(Object.keys(stepKinds), STEP_KINDS);
  assert.equal(stepItem.minProperties, 1);
  assert.equal(stepItem.maxProperties, 1);
  assert.equal(stepItem.additionalProperties, false);
  assert.deepEqual(node(stepKinds.mmap).required, ['proc', 'region', 'size']);
  assert.deepEqual(node(stepKinds.wait).oneOf, [
    { required: ['full_scans'] },
    { required: ['ms'] },
    { required: ['batches'] },
  ]);
});

test('scenarioJsonSchema gives every step, field and pattern form a description', () => {
  const missing: string[] = [];
  for (const [kind, raw] of Object.entries(stepKinds)) {
    const step = node(raw);
    if (typeof step.description !== 'string') missing.push(kind);
    for (const [field, f] of Object.entries(node(step.properties ?? {}))) {
      if (typeof node(f).description !== 'string') missing.push(`${kind}.${field}`);
    }
  }
  const pattern = node(node(node(stepKinds.fill).properties).pattern);
  for (const form of pattern.anyOf as unknown[]) {
    if (typeof node(form).description !== 'string') missing.push(`pattern ${JSON.stringify(form)}`);
  }
  for (const [name, p] of Object.entries(props)) if (typeof node(p).description !== 'string') missing.push(name);
  assert.deepEqual(missing, []);
});

test('scenarioJsonSchema lists the writable KSM files, the errno names and the text forms of sizes and seeds', () => {
  const ksm = node(props.ksm);
  assert.deepEqual(Object.keys(node(ksm.properties)), [...KSM_WRITABLE_FILES]);
  assert.equal(ksm.additionalProperties, false);
  const sysfs = node(node(stepKinds.sysfs).properties);
  assert.deepEqual(node(sysfs.errno).enum, errnoNames());
  const size = node(node(node(stepKinds.mmap).properties).size);
  assert.equal(size.multipleOf, 4096);
  const sizeText = new RegExp(String(size.pattern));
  for (const ok of ['64KiB', '2 MiB', ' 1.5GiB ', '4096']) assert.match(ok, sizeText);
  for (const bad of ['64KB', '-4096', '1 GB', 'MiB']) assert.doesNotMatch(bad, sizeText);
  // write and read offsets are byte offsets: no page multiple there.
  assert.equal(node(node(node(stepKinds.write).properties).offset).multipleOf, undefined);
  const forms = node(node(node(stepKinds.fill).properties).pattern).anyOf as unknown[];
  const randomSeed = node(forms.find((f) => node(node(f).properties ?? {}).random !== undefined));
  const seedText = new RegExp(String(node(node(randomSeed.properties).random).pattern));
  for (const ok of ['42', '0x2a', ' 18446744073709551615 ']) assert.match(ok, seedText);
  for (const bad of ['-1', '0x', '1e3']) assert.doesNotMatch(bad, seedText);
});

test('renderScenarioJsonSchema is two-space JSON with a final newline', () => {
  const text = renderScenarioJsonSchema();
  assert.ok(text.endsWith('}\n'));
  assert.deepEqual(JSON.parse(text), schema);
  assert.match(text, /^ {2}"\$schema"/m);
});
