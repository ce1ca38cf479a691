/**
 * The live kernel as the reference: every shipped scenario (scenarios/ and its
 * subdirectories) whose figures are exact under the contract here (src/scenario/exact.ts
 * says why one is not: KSM+, NUMA nodes the machine lacks, timed waits with ksmd running), and random
 * scenarios of src/scenario/generate.ts for fixed seeds, run on the kernel backend and on
 * the model; every counter of every record (and every madvise/prctl result and check) must
 * be equal. A disagreement is measured again on the kernel (KERNEL_ATTEMPTS says why); the
 * test passes only on a kernel run that agrees exactly, and reports the runs that did not.
 *
 * Skips, saying why, where the kernel backend cannot run: not root, KSM not writable, the
 * agent not built, or other processes using KSM. `SAMEPAGE_DIFF_SEEDS=N` sets the number of
 * generated scenarios (default 200, about 45 s on a 2-CPU VM with Linux 6.18.44),
 * `SAMEPAGE_DIFF_EXEC_SEEDS=N` those of the exec family (default 50),
 * `SAMEPAGE_DIFF_BATCH_SEEDS=N` those of the batch family, whose steps come in the middle
 * of full scans (default 50), `SAMEPAGE_DIFF_EXEC_BATCH_SEEDS=N` those of both at once
 * (default 25), `SAMEPAGE_DIFF_LARGE_SEEDS=N` and `SAMEPAGE_DIFF_LARGE_BATCH_SEEDS=N` those
 * of the large family, whose regions are up to 1,024 pages, alone and with batches (default
 * 10 each), and `SAMEPAGE_DIFF_FIRST_SEED=K` the first seed of all six (default 0), to
 * search further seeds.
 *
 * A failure prints the differences and the scenario text: save it, then reduce it to a
 * minimal file in scenarios-diff/ (`samepage diff FILE` shows the same table;
 * `node scripts/reduce-diff.mjs FILE` removes the steps it does not need).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { differentialSkipReason } from '../src/backends/kernel/testing.ts';
import { agrees, diffAttempts, diffScenario } from '../src/differential/diff.ts';
import { renderDiff } from '../src/report/diff.ts';
import { liveNumaNodes } from '../src/host/machine.ts';
import { whyNotExact } from '../src/scenario/exact.ts';
import { generatedName, generateScenario } from '../src/scenario/generate.ts';
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
/** Of the exec family (processes also exec), searched beside the default one. */
const DEFAULT_EXEC_SEEDS = 50;
/** Of the batch family (small batches, waits for batches: steps in the middle of scans). */
const DEFAULT_BATCH_SEEDS = 50;
/** Of both at once: processes exec in the middle of a full scan too. */
const DEFAULT_EXEC_BATCH_SEEDS = 25;
/** Of the large family (unstable trees of hundreds of nodes and more), alone and with batches. */
const DEFAULT_LARGE_SEEDS = 10;
const DEFAULT_LARGE_BATCH_SEEDS = 10;

/** A whole number from the environment variable `name`, or `dflt` when it is unset. */
function envCount(name: string, dflt: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return dflt;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${text}"`);
  return n;
}

const skip = await differentialSkipReason();
if (skip !== undefined) {
  const message = `differential tests (kernel vs model) skipped: ${skip}`;
  process.stdout.write(`${message}\n`);
  test('differential: kernel vs model', { skip: message }, () => undefined);
}

/**
 * Kernel runs of one scenario at most: the first, and more when it disagrees. Seeds 17 (once,
 * in CI) and 1009 (5-6 runs in 20) disagreed by one page that the kernel merged a scan later
 * than the model, while ksmd moved between CPUs; the kernel backend now holds ksmd on one
 * CPU (src/host/ksmd_affinity.ts); with ksmd on one CPU 1009 agreed in 160 runs. What is
 * left (a busy folio, ksmd past a boundary on a loaded machine) passes on a later run, and
 * the earlier ones are reported; a model error disagrees on every run.
 */
const KERNEL_ATTEMPTS = 3;

async function assertAgree(t: TestContext, scenario: Scenario, source: string, text?: string): Promise<void> {
  const d = await diffAttempts(diffScenario, scenario, KERNEL_ATTEMPTS, { onWarning: () => undefined });
  const report = renderDiff(source, d, false);
  if (agrees(d)) {
    // Passed on a later kernel run: say what the earlier runs showed, so a trend is seen.
    if (d.earlier !== undefined) t.diagnostic(report);
    return;
  }
  assert.fail(`${report}${text === undefined ? '' : `\nScenario (${source}):\n${text}`}`);
}

if (skip === undefined) {
  const nodes = liveNumaNodes() ?? 1;
  for (const dir of DIRS) {
    const path = rootDir(dir);
    for (const file of readdirSync(path, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      const loaded = await loadScenario(join(path, file));
      const why = loaded.ok ? whyNotExact(loaded.scenario, nodes) : undefined;
      test(
        `differential: ${dir}/${file} agrees on kernel and model`,
        why === undefined ? {} : { skip: `not exact under the contract: ${why}` },
        async (t) => {
          assert.ok(loaded.ok, `${dir}/${file} does not parse`);
          await assertAgree(t, loaded.scenario, `${dir}/${file}`);
        },
      );
    }
  }

  const first = envCount('SAMEPAGE_DIFF_FIRST_SEED', 0);
  const families = [
    {
      label: 'generated scenario',
      count: envCount('SAMEPAGE_DIFF_SEEDS', DEFAULT_SEEDS),
      options: {},
    },
    {
      label: 'generated exec scenario',
      count: envCount('SAMEPAGE_DIFF_EXEC_SEEDS', DEFAULT_EXEC_SEEDS),
      options: { exec: true },
    },
    {
      label: 'generated batch scenario',
      count: envCount('SAMEPAGE_DIFF_BATCH_SEEDS', DEFAULT_BATCH_SEEDS),
      options: { batches: true },
    },
    {
      label: 'generated exec batch scenario',
      count: envCount('SAMEPAGE_DIFF_EXEC_BATCH_SEEDS', DEFAULT_EXEC_BATCH_SEEDS),
      options: { exec: true, batches: true },
    },
    {
      label: 'generated large scenario',
      count: envCount('SAMEPAGE_DIFF_LARGE_SEEDS', DEFAULT_LARGE_SEEDS),
      options: { large: true },
    },
    {
      label: 'generated large batch scenario',
      count: envCount('SAMEPAGE_DIFF_LARGE_BATCH_SEEDS', DEFAULT_LARGE_BATCH_SEEDS),
      options: { large: true, batches: true },
    },
  ];
  for (const { label, count, options } of families) {
    for (let seed = first; seed < first + count; seed++) {
      test(`differential: ${label} seed ${seed} agrees on kernel and model`, async (t) => {
        const text = generateScenario(seed, options);
        const file = `${generatedName(seed, options)}.yaml`;
        const parsed = parseScenario(text, file);
        assert.ok(parsed.ok, `${label} ${seed} does not parse`);
        await assertAgree(t, parsed.scenario, file, text);
      });
    }
  }
}
