/** The timed judgement on synthetic runs: medians, tolerances, exact knobs, the advisor's own tolerance. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CounterRecord, RunResult } from '../scenario/records.ts';
import { createModelBackend } from '../backends/model/index.ts';
import { KSM_FILES, KSM_WRITABLE_FILES } from '../lib/ksm_files.ts';
import { parseScenario } from '../scenario/parse.ts';
import { runScenario } from '../scenario/run.ts';
import { compareTimed, onlyWithinKernelSpread } from './timed_compare.ts';
import { DEFAULT_TOLERANCE } from './tolerance.ts';
import { defaultTimingCells, timingScenario } from './timing_grid.ts';

function run(backend: string, ksm: Record<string, number | string>): RunResult {
  const rec: CounterRecord = {
    label: '2 s',
    time_ms: 0,
    ksm,
    procs: {
      t: {
        ksm_rmap_items: Number(ksm.pages_scanned ?? 0),
        ksm_zero_pages: 0,
        ksm_merging_pages: 0,
        ksm_process_profit: 0,
        ksm_merge_any: false,
        ksm_mergeable: true,
        rss_pages: 10,
      },
    },
  };
  return { scenario: 's', backend, ok: true, records: [rec], expects: [], calls: [] };
}

const knobs = { advisor_mode: 'none', pages_to_scan: 100, sleep_millisecs: 20 };

const verdict = (k: RunResult[], m: RunResult) =>
  Object.fromEntries(compareTimed(k, m, DEFAULT_TOLERANCE).map((v) => [v.path, v.ok]));

test('compareTimed: pages_scanned within 5 % of the kernel runs median passes, beyond fails', () => {
  const kernels = [8300, 8400, 8100].map((n) => run('kernel', { ...knobs, pages_scanned: n, full_scans: 0 }));
  // median 8300: 8700 is +4.8 %, 8800 is +6.0 %.
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 8700, full_scans: 0 }))['ksm/pages_scanned'],
    true,
  );
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 8800, full_scans: 0 }))['ksm/pages_scanned'],
    false,
  );
  // Counters of where ksmd stands inside its pass are shown, not judged.
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 8800, full_scans: 0 }))['t/ksm_rmap_items'],
    true,
  );
});

test('compareTimed: a kernel 0 must be 0, and small counts such as full_scans must be exact', () => {
  const kernels = [1, 1, 2].map((f) => run('kernel', { ...knobs, pages_scanned: 20880, full_scans: f }));
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 20880, full_scans: 2 }))['ksm/full_scans'],
    false,
  );
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 20880, full_scans: 1 }))['ksm/full_scans'],
    true,
  );
  const zero = [run('kernel', { ...knobs, pages_scanned: 0, full_scans: 0 })];
  assert.equal(verdict(zero, run('model', { ...knobs, pages_scanned: 1, full_scans: 0 }))['ksm/pages_scanned'], false);
});

test('compareTimed: knobs are exact, except pages_to_scan under the scan-time advisor (10 %)', () => {
  const kernels = [run('kernel', { ...knobs, pages_scanned: 100, full_scans: 0 })];
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_to_scan: 101, pages_scanned: 100, full_scans: 0 }))[
      'ksm/pages_to_scan'
    ],
    false,
  );
  const advised = { ...knobs, advisor_mode: 'scan-time', pages_scanned: 100, full_scans: 1 };
  const ak = [run('kernel', { ...advised, pages_to_scan: 1160 })];
  assert.equal(verdict(ak, run('model', { ...advised, pages_to_scan: 1270 }))['ksm/pages_to_scan'], true);
  assert.equal(verdict(ak, run('model', { ...advised, pages_to_scan: 1300 }))['ksm/pages_to_scan'], false);
});

test('compareTimed: a record the kernel runs lack is a failure', () => {
  const kernels = [{ ...run('kernel', knobs), records: [] }];
  const v = compareTimed(kernels, run('model', knobs), DEFAULT_TOLERANCE);
  assert.deepEqual(
    v.map((x) => [x.path, x.ok]),
    [['(record)', false]],
  );
});

test('compareTimed: a value beyond the median tolerance but given by some kernel run is marked as within the spread', () => {
  const kernels = [0, 1, 0].map((f) => run('kernel', { ...knobs, pages_scanned: 20400, full_scans: f }));
  const v = compareTimed(kernels, run('model', { ...knobs, pages_scanned: 20880, full_scans: 1 }), DEFAULT_TOLERANCE);
  const full = v.find((x) => x.path === 'ksm/full_scans');
  assert.deepEqual([full?.ok, full?.inKernelSpread], [false, true]);
  const beyond = compareTimed(
    kernels,
    run('model', { ...knobs, pages_scanned: 20880, full_scans: 2 }),
    DEFAULT_TOLERANCE,
  );
  assert.equal(beyond.find((x) => x.path === 'ksm/full_scans')?.inKernelSpread, false);
});

test('onlyWithinKernelSpread: some value misses, and every miss is a value a kernel run gave', () => {
  const kernels = [0, 1, 0].map((f) => run('kernel', { ...knobs, pages_scanned: 20400, full_scans: f }));
  const judged = (full: number): ReturnType<typeof compareTimed> =>
    compareTimed(kernels, run('model', { ...knobs, pages_scanned: 20880, full_scans: full }), DEFAULT_TOLERANCE);
  assert.equal(onlyWithinKernelSpread(judged(1)), true);
  assert.equal(onlyWithinKernelSpread(judged(2)), false);
  assert.equal(onlyWithinKernelSpread(judged(0)), false, 'nothing misses: not a miss within the spread');
});

test('compareTimed: with traces, full_scans is judged by its clock; after a wait for full scans, by value', () => {
  // 13 on every kernel run at 5 s, 15 on the model, which ended pass 14 68 ms before the
  // record (constructed: a kernel run ends pass 14 at 5,016 ms; step_clock.test.ts).
  const kernels = [0, 1, 2].map(() => run('kernel', { ...knobs, pages_scanned: 142880, full_scans: 13 }));
  const model = run('model', { ...knobs, pages_scanned: 143360, full_scans: 15 });
  const kernelTrace = {
    recordAtMs: [5000],
    fullScans: [
      [0, 0],
      [4400, 13],
      [5016, 14],
    ] as ReadonlyArray<readonly [number, number]>,
  };
  const modelTrace = {
    recordAtMs: [5000],
    fullScans: [
      [0, 0],
      [4316, 13],
      [4932, 14],
      [4988, 15],
    ] as const,
  };
  const timed = compareTimed(kernels, model, DEFAULT_TOLERANCE, {
    kernel: [kernelTrace, kernelTrace, kernelTrace],
    model: modelTrace,
  });
  const full = timed.find((v) => v.path === 'ksm/full_scans');
  assert.deepEqual([full?.ok, full?.clock?.leadMs], [true, 68]);
  // The same values where the record has no place on the clock: 15 against 13 is beyond 5 %.
  const byValue = compareTimed(kernels, model, DEFAULT_TOLERANCE, {
    kernel: [kernelTrace, kernelTrace, kernelTrace].map((t) => ({ ...t, recordAtMs: [undefined] })),
    model: { ...modelTrace, recordAtMs: [undefined] },
  });
  const v = byValue.find((x) => x.path === 'ksm/full_scans');
  assert.deepEqual([v?.ok, v?.clock], [false, undefined]);
});

test('compareTimed: a file or process field one side lacks is a difference, even an unjudged counter', () => {
  const kernels = [run('kernel', { ...knobs, pages_scanned: 100, full_scans: 0, stable_node_dups: 0 })];
  const model = run('model', { ...knobs, pages_scanned: 100, full_scans: 0 });
  const v = verdict(kernels, model);
  assert.equal(v['ksm/stable_node_dups'], false);
  // The same counter on both sides, at different values, is shown but not judged.
  assert.equal(
    verdict(kernels, run('model', { ...knobs, pages_scanned: 100, full_scans: 0, stable_node_dups: 3 }))[
      'ksm/stable_node_dups'
    ],
    true,
  );
  const lost = { ...model, records: model.records.map((r) => ({ ...r, procs: {} })) };
  assert.equal(verdict(kernels, lost)['t/rss_pages'], false);
});

test('compareTimed: every /sys/kernel/mm/ksm file, knobs included, is compared after every step', async () => {
  const parsed = parseScenario(timingScenario(defaultTimingCells()[0]!), 'cell.yaml');
  assert.ok(parsed.ok);
  // Two model runs stand in for the kernel's and the model's: this checks what is compared, not values.
  const a = await runScenario(parsed.scenario, createModelBackend({ seed: 0 }), { recordEveryStep: true });
  const b = await runScenario(parsed.scenario, createModelBackend({ seed: 0 }), { recordEveryStep: true });
  const values = compareTimed([a], b, DEFAULT_TOLERANCE);
  const steps = parsed.scenario.steps.length;
  const afterStep = new Set(values.filter((v) => v.label.startsWith('after steps[')).map((v) => v.label));
  assert.equal(afterStep.size, steps);
  for (const label of afterStep) {
    const files = values.filter((v) => v.label === label && v.path.startsWith('ksm/')).map((v) => v.path.slice(4));
    assert.deepEqual([...files].sort(), [...KSM_FILES], label);
    // Knobs are judged.
    for (const f of KSM_WRITABLE_FILES)
      assert.equal(values.find((v) => v.label === label && v.path === `ksm/${f}`)?.judged, true, `${label} ${f}`);
  }
});
