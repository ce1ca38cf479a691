/**
 * Golden scenarios: every file in scenarios/ runs on the model and every `expect` must hold
 * (the expects are the kernel selftests' own assertions or figures measured on Linux).
 *
 * - Where the live kernel's output was recorded (`<name>.kernel.json`, the `--json` of
 *   `samepage run FILE --backend kernel`), every counter of every record and every
 *   madvise/prctl return value must equal the kernel's.
 * - Where the kernel cannot run the scenario (more NUMA nodes than the machine, KSM+), the
 *   reviewed model output `<name>.model.json` is the expected output, time aside: a
 *   regression check, since the truth there is only in the expects.
 *
 * A mismatch writes the actual output as `<name>.model.actual.json` beside it (ignored by
 * git) for review. `SAMEPAGE_UPDATE_GOLDEN=1` accepts the differences: it rewrites each
 * `.model.json` from the model, and re-records each `.kernel.json` from the live kernel
 * (never from the model), failing where the kernel backend cannot run here; the model must
 * then agree with the new recording. Review the diff before committing it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKernelBackend, PAST_BATCH, PAST_BOUNDARY } from '../src/backends/kernel/index.ts';
import { holdKernelTestLock, kernelSkipReason } from '../src/backends/kernel/testing.ts';
import { createModelBackend } from '../src/backends/model/index.ts';
import { formatJson } from '../src/report/json.ts';
import { compareCalls, compareExpects, compareRecords, type RecordDiff } from '../src/scenario/compare.ts';
import { loadScenario } from '../src/scenario/load.ts';
import type { RunResult } from '../src/scenario/records.ts';
import { runScenario } from '../src/scenario/run.ts';
import type { Scenario } from '../src/scenario/types.ts';

const DIR = join(import.meta.dirname, '..', '..', 'scenarios');
const dir = existsSync(DIR) ? DIR : join(import.meta.dirname, '..', 'scenarios');
const UPDATE = process.env.SAMEPAGE_UPDATE_GOLDEN === '1';

/** The run as `samepage run --json` prints it, with a final newline. */
const jsonText = (r: RunResult): string => `${formatJson(r)}\n`;

/** A fresh recording of the scenario on the live kernel, or a failure saying why not. */
async function recordKernel(scenario: Scenario, file: string): Promise<RunResult> {
  const why = kernelSkipReason();
  if (why !== undefined) assert.fail(`${file}: cannot re-record from the live kernel: ${why}`);
  let warnings: string[] = [];
  let result: RunResult;
  // On a loaded machine ksmd can finish a pass (or run a batch) more before the backend holds
  // it (it warns: the counters are past the boundary); such a run is no recording.
  for (let attempt = 1; ; attempt++) {
    warnings = [];
    result = await runScenario(
      scenario,
      createKernelBackend({ lockWaitMs: 600_000, onWarning: (m) => warnings.push(m) }),
    );
    if (!warnings.some((w) => w.startsWith(PAST_BOUNDARY) || w.startsWith(PAST_BATCH))) break;
    if (attempt === 3)
      assert.fail(`${file}: ksmd overshot a full-scan boundary in 3 kernel runs: ${warnings.join('; ')}`);
  }
  const failed = result.expects.filter((e) => !e.ok);
  assert.deepEqual(
    failed,
    [],
    `${file}: expects failed on the live kernel, not recorded${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`,
  );
  return result;
}

/** Every difference between two runs that a golden file pins down. */
function differences(expected: RunResult, actual: RunResult): RecordDiff[] {
  return [
    ...compareRecords(expected.records, actual.records),
    ...compareCalls(expected.calls ?? [], actual.calls ?? []),
  ];
}

// Re-recording makes processes KSM users: serialise with the other live-kernel test files.
if (UPDATE && kernelSkipReason(true) === undefined) after(await holdKernelTestLock());

const files = readdirSync(dir, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml'))
  .sort();
for (const file of files) {
  test(`golden scenario ${file} holds on the model`, async () => {
    const parsed = await loadScenario(join(dir, file));
    assert.ok(parsed.ok, `scenario ${file} does not parse`);
    const result = await runScenario(parsed.scenario, createModelBackend({ seed: 0, checkCaches: true }));
    const failed = result.expects.filter((e) => !e.ok);
    assert.deepEqual(failed, [], `${file}: expects failed on the model`);

    const base = join(dir, file.replace(/\.yaml$/, ''));
    const kernelFile = `${base}.kernel.json`;
    const modelFile = `${base}.model.json`;
    const actualFile = `${base}.model.actual.json`;
    rmSync(actualFile, { force: true });
    if (existsSync(kernelFile)) {
      if (UPDATE) writeFileSync(kernelFile, jsonText(await recordKernel(parsed.scenario, file)));
      const kernel = JSON.parse(readFileSync(kernelFile, 'utf8')) as RunResult;
      const diffs = differences(kernel, result);
      if (diffs.length > 0) writeFileSync(actualFile, jsonText(result));
      assert.deepEqual(
        diffs,
        [],
        `${file}: the model differs from the recorded kernel run (model output in ${actualFile})`,
      );
      return;
    }
    if (UPDATE) writeFileSync(modelFile, jsonText(result));
    assert.ok(
      existsSync(modelFile),
      `${file}: no kernel recording and no ${modelFile}; create it with SAMEPAGE_UPDATE_GOLDEN=1 and review it`,
    );
    const golden = JSON.parse(readFileSync(modelFile, 'utf8')) as RunResult;
    // As against the kernel, time is not compared: it follows the cost model, which is
    // calibrated separately; a counter that depends on it still shows.
    const diffs = [...differences(golden, result), ...compareExpects(golden.expects, result.expects)];
    if (diffs.length === 0) return;
    writeFileSync(actualFile, jsonText(result));
    assert.fail(
      `${file}: the model's output changed (now in ${actualFile}); accept it with SAMEPAGE_UPDATE_GOLDEN=1 after review.\n` +
        JSON.stringify(diffs.slice(0, 20), null, 1),
    );
  });
}
