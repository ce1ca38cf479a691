/**
 * Golden scenarios: every file in scenarios/ runs on the model and every `expect` must hold
 * (the expects are the kernel selftests' own assertions or figures measured on Linux).
 * Where the live kernel's output was recorded (`scenarios/<name>.kernel.json`, written by
 * `samepage run FILE --backend kernel --json`), every counter of every record must equal
 * the kernel's. A mismatch writes `<name>.model.actual.json` beside it for review.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../src/scenario/load.ts';
import { runScenario } from '../src/scenario/run.ts';
import { createModelBackend } from '../src/backends/model/index.ts';
import type { CounterRecord, RunResult } from '../src/scenario/records.ts';
import { compareRecords } from './compare_records.ts';

const DIR = join(import.meta.dirname, '..', '..', 'scenarios');
const dir = existsSync(DIR) ? DIR : join(import.meta.dirname, '..', 'scenarios');

const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort();
for (const file of files) {
  test(`golden scenario ${file} holds on the model`, async () => {
    const parsed = await loadScenario(join(dir, file));
    assert.ok(parsed.ok, `scenario ${file} does not parse`);
    const result = await runScenario(parsed.scenario, createModelBackend({ seed: 0, checkCaches: true }));
    const failed = result.expects.filter((e) => !e.ok);
    assert.deepEqual(failed, [], `${file}: expects failed on the model`);
    const kernelFile = join(dir, file.replace(/\.yaml$/, '.kernel.json'));
    if (!existsSync(kernelFile)) return;
    const kernel = JSON.parse(readFileSync(kernelFile, 'utf8')) as RunResult;
    const diffs = compareRecords(kernel.records as CounterRecord[], result.records as CounterRecord[]);
    if (diffs.length > 0) {
      writeFileSync(kernelFile.replace(/\.kernel\.json$/, '.model.actual.json'), `${JSON.stringify(result, null, 2)}\n`);
    }
    assert.deepEqual(diffs, [], `${file}: the model differs from the recorded kernel run`);
  });
}
