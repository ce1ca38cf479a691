/**
 * The live kernel as the reference: every shipped scenario (scenarios/ and its
 * subdirectories) whose figures are exact under the contract here (src/scenario/exact.ts
 * says why one is not: KSM+, NUMA nodes the machine lacks, timed waits with ksmd running), and random
 * scenarios of src/scenario/generate.ts for fixed seeds, run on the kernel backend and on
 * the model; every counter of every record (and every madvise/prctl result and check) must
 * be equal.
 *
 * Skips, saying why, where the kernel backend cannot run: not root, KSM not writable, the
 * agent not built, or other processes using KSM. `SAMEPAGE_DIFF_SEEDS=N` sets the number of
 * generated scenarios (default 200, about 45 s on a 2-CPU VM with Linux 6.18.44).
 *
 * A failure prints the differences and the scenario text: save it, then reduce it to a
 * minimal file in scenarios-diff/ (`samepage diff FILE` shows the same table).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PAST_BOUNDARY } from '../src/backends/kernel/index.ts';
import { holdKernelTestLock, kernelSkipReason, kernelSkipReasonAfterWait } from '../src/backends/kernel/testing.ts';
import { diffScenario, INTERFERENCE, liveNumaNodes, renderDiff } from '../src/cli/diff.ts';
import { whyNotExact } from '../src/scenario/exact.ts';
import { generateScenario } from '../src/scenario/generate.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { parseScenario } from '../src/scenario/parse.ts';
import type { Scenario } from '../src/scenario/types.ts';

/** `name` at the repository root, from dist/test or from test. */
function rootDir(name: string): string {
  const fromDist = join(import.meta.dirname, '..', '..', name);
  return existsSync(fromDist) ? fromDist : join(import.meta.dirname, '..', name);
}
/** Shipped scenarios, and the minimal reproductions of disagreements found so far. */
const DIRS = ['scenarios', 'scenarios-diff'];
const DEFAULT_SEEDS = 200;

function seedCount(): number {
  const text = process.env['SAMEPAGE_DIFF_SEEDS'];
  if (text === undefined || text === '') return DEFAULT_SEEDS;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`SAMEPAGE_DIFF_SEEDS must be a whole number, got "${text}"`);
  return n;
}

/**
 * Why the differential suite cannot run here, or undefined. Other KSM users may be another
 * samepage run about to finish (its agents), so they get a minute to go away first.
 */
async function skipReason(): Promise<string | undefined> {
  const machine = kernelSkipReason(true);
  if (machine !== undefined) return machine;
  // Held for the whole file (released when this process exits): other kernel test files
  // compare sysfs before and after their runs, which a diff in between would upset.
  const release = await holdKernelTestLock();
  process.on('exit', release);
  return kernelSkipReasonAfterWait();
}

const skip = await skipReason();
if (skip !== undefined) {
  const message = `differential tests (kernel vs model) skipped: ${skip}`;
  process.stdout.write(`${message}\n`);
  test('differential: kernel vs model', { skip: message }, () => undefined);
}

async function assertAgree(scenario: Scenario, source: string, text?: string): Promise<void> {
  const agree = (x: Awaited<ReturnType<typeof diffScenario>>): boolean =>
    x.differences.length === 0 && x.kernelError === undefined && x.modelError === undefined;
  let d = await diffScenario(scenario, { onWarning: () => undefined });
  // The kernel run missed what the contract makes exact, and said so: a process enabled KSM
  // during it (the global counters include its pages), or ksmd ran past a wait's full-scan
  // boundary before it was held (a loaded machine). Measure again; the model is not at fault.
  const missed = (w: string): boolean => w.startsWith(INTERFERENCE) || w.startsWith(PAST_BOUNDARY);
  for (let retry = 0; retry < 2 && !agree(d) && d.warnings.some(missed); retry++) {
    d = await diffScenario(scenario, { onWarning: () => undefined });
  }
  if (agree(d)) return;
  const report = renderDiff(source, d, false);
  assert.fail(`${report}${text === undefined ? '' : `\nScenario (${source}):\n${text}`}`);
}

if (skip === undefined) {
  const nodes = liveNumaNodes() ?? 1;
  for (const dir of DIRS) {
    const path = rootDir(dir);
    for (const file of readdirSync(path, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort()) {
      const loaded = await loadScenario(join(path, file));
      const why = loaded.ok ? whyNotExact(loaded.scenario, nodes) : undefined;
      test(`differential: ${dir}/${file} agrees on kernel and model`, why === undefined ? {} : { skip: `not exact under the contract: ${why}` }, async () => {
        assert.ok(loaded.ok, `${dir}/${file} does not parse`);
        await assertAgree(loaded.scenario, `${dir}/${file}`);
      });
    }
  }

  for (let seed = 0; seed < seedCount(); seed++) {
    test(`differential: generated scenario seed ${seed} agrees on kernel and model`, async () => {
      const text = generateScenario(seed);
      const parsed = parseScenario(text, `generated-${seed}.yaml`);
      assert.ok(parsed.ok, `generated scenario ${seed} does not parse`);
      await assertAgree(parsed.scenario, `generated-${seed}.yaml`, text);
    });
  }
}
