/**
 * The model's samples (scenario/samples.ts): taken after every event that changed a charted
 * counter, so the step function they draw is the model's own state at every moment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../scenario/parse.ts';
import type { CounterSample, RunResult } from '../../scenario/records.ts';
import { runScenario } from '../../scenario/run.ts';
import { createModelBackend } from './index.ts';

/** Two processes of 60 pages, a third of them alike across both, merged by ksmd over a few scans. */
function scenario(waits: string) {
  const r = parseScenario(
    'version: 1\nname: s\nksm: { run: 1, pages_to_scan: 25, sleep_millisecs: 20 }\nsteps:\n' +
      '  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 240KiB }\n' +
      '  - fill: { proc: a, region: r, pattern: { page-mod: 20, seed: 1 } }\n' +
      '  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }\n  - fork: { proc: a, child: b }\n' +
      '  - write: { proc: b, region: r, offset: 0, bytes: "ff" }\n' +
      `${waits}  - sysfs: { path: ksm/run, value: "2" }\n  - record: { label: unmerged }\n`,
    's.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.scenario;
}

/** The sampled value at `t`: the last sample at or before it (the counters hold until the next event). */
function valueAt(points: readonly CounterSample[], t: number): CounterSample {
  let found = points[0]!;
  for (const p of points) if (p.time_ms <= t) found = p;
  return found;
}

test('the model samples every change: at any moment its samples say what a record then reads', async () => {
  const sampled = await runScenario(
    scenario('  - wait: { ms: 600 }\n'),
    createModelBackend({ seed: 3, samples: true }),
  );
  const s = sampled.samples;
  assert.ok(s !== undefined && s.every === 'change' && s.bucket_ms === 0);
  // The same run recorded every 10 ms of virtual time: a wait split up changes nothing the model does.
  const steps = Array.from({ length: 60 }, (_, i) => `  - wait: { ms: 10 }\n  - record: { label: t${i} }\n`).join('');
  const recorded: RunResult = await runScenario(scenario(steps), createModelBackend({ seed: 3 }));
  assert.equal(recorded.samples, undefined, 'no samples unless asked for');
  let moved = 0;
  // (At 600 ms the run=2 after the wait unmerges at the same instant: that moment is checked below.)
  for (const r of recorded.records.filter((x) => x.label.startsWith('t') && x.time_ms < 600)) {
    const p = valueAt(s.points, r.time_ms);
    for (const f of [
      'pages_shared',
      'pages_sharing',
      'pages_unshared',
      'pages_volatile',
      'full_scans',
      'general_profit',
    ])
      assert.equal(p.ksm[f], r.ksm[f], `${f} at ${r.time_ms} ms`);
    assert.equal(p.merging.a, r.procs.a?.ksm_merging_pages, `a's merging pages at ${r.time_ms} ms`);
    assert.equal(p.merging.b, r.procs.b?.ksm_merging_pages, `b's merging pages at ${r.time_ms} ms`);
    if (p.ksm.pages_sharing !== 0) moved++;
  }
  assert.ok(moved > 10, 'the comparison covers merged states');
  // Every full scan is in the samples, each counted once more than the one before.
  const scans = [...new Set(s.points.map((p) => p.ksm.full_scans))];
  assert.deepEqual(
    scans,
    Array.from({ length: scans.length }, (_, i) => i),
  );
  assert.ok(scans.length > 4, `${scans.length - 1} full scans sampled`);
  // run=2 after the wait unmerges at one instant: a vertical step between two samples at the same time.
  const i = s.points.findIndex((p) => p.label === 'unmerged');
  const [before, after] = [s.points[i - 1], s.points[i]];
  assert.ok(before !== undefined && after !== undefined && before.time_ms === after.time_ms);
  assert.ok((before.ksm.pages_sharing ?? 0) > 0);
  assert.equal(after.ksm.pages_sharing, 0);
});
