import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../scenario/parse.ts';
import { runScenario } from '../../scenario/run.ts';
import type { RunProgress } from '../../scenario/run.ts';
import type { Scenario } from '../../scenario/types.ts';
import { WAKEUP_NS } from '../../ksm/cost.ts';
import { createModelBackend } from './index.ts';

function scenario(waits: string, ksm = 'ksm: { run: 1, pages_to_scan: 10, sleep_millisecs: 20 }'): Scenario {
  const r = parseScenario(
    `version: 1\nname: w\n${ksm}\nsteps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 40KiB }\n` +
      `  - fill: { proc: a, region: r, pattern: { page-mod: 3, seed: 1 } }\n  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }\n` +
      `${waits}  - record: { label: end }\n`,
    'w.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.scenario;
}

test('a wait run in slices for its progress gives the same run as one run at once', async () => {
  const s = scenario('  - wait: { full_scans: 300 }\n  - record: { label: scanned }\n  - wait: { ms: 100000 }\n');
  const plain = await runScenario(s, createModelBackend({ seed: 0 }));
  const events: RunProgress[] = [];
  const sliced = await runScenario(s, createModelBackend({ seed: 0 }), {
    onProgress: (e) => {
      if (e.kind === 'wait') events.push(e);
    },
  });
  assert.deepEqual(sliced, plain);
  const scans = events.filter((e) => e.kind === 'wait' && e.unit === 'full_scans');
  const ms = events.filter((e) => e.kind === 'wait' && e.unit === 'ms');
  assert.ok(scans.length > 10 && ms.length > 10, `${scans.length} and ${ms.length} words of progress`);
  // Progress only grows, in scans and in virtual time, and stays within the wait.
  for (const list of [scans, ms]) {
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      assert.ok(a.kind === 'wait' && b.kind === 'wait' && b.done >= a.done && b.elapsedMs >= a.elapsedMs);
      assert.ok(b.done <= b.target);
    }
  }
});

test('a wait of full scans that would take the clock past 2^53 ns is refused before it starts, with why', async () => {
  const r = await runScenario(scenario('  - wait: { full_scans: 1000000000 }\n'), createModelBackend({ seed: 0 }));
  assert.equal(r.ok, false);
  assert.equal(
    r.error,
    'steps[4].wait (line 9): 1000000000 full scans take at least 231 days 11 h of virtual time (ksmd ends at most one ' +
      "full scan per batch and sleeps sleep_millisecs=20 ms between batches), past the 104 days 5 h the model's clock counts exactly",
  );
  assert.deepEqual(r.records, []);
});

test('waits that together pass the end of the clock stop at the one that would cross it', async () => {
  const r = await runScenario(
    scenario('  - wait: { ms: 9000000000 }\n  - wait: { ms: 9000000000 }\n', 'ksm: { run: 0 }'),
    createModelBackend({ seed: 0 }),
  );
  assert.equal(r.ok, false);
  assert.match(
    r.error ?? '',
    /^steps\[5\]\.wait \(line 10\): waiting 9000000000 ms would take virtual time to 208 days 8 h, past the 104 days 5 h the model's clock counts exactly$/,
  );
});

test('a wait of full scans while ksmd cannot scan says why at once', async () => {
  const r = await runScenario(
    scenario('  - wait: { full_scans: 1 }\n', 'ksm: { run: 0 }'),
    createModelBackend({ seed: 0 }),
  );
  assert.match(r.error ?? '', /ksmd is not running \(run=0\)$/);
});

test("ksmdRanNs: ksmd's CPU over every wait, of milliseconds and of full scans, as the kernel backend counts it", async () => {
  const b = createModelBackend({ seed: 0 });
  await runScenario(scenario('  - wait: { full_scans: 2 }\n'), b);
  assert.ok(b.system().ksm.cpuNs > 0);
  assert.equal(b.ksmdRanNs(), b.system().ksm.cpuNs);
  const t = createModelBackend({ seed: 0 });
  await runScenario(scenario('  - wait: { ms: 300 }\n  - record: { label: a }\n  - wait: { full_scans: 1 }\n'), t);
  // ksmd runs only inside waits on the model, so every ns of its CPU was in these two.
  assert.ok(t.system().ksm.cpuNs > 0);
  assert.equal(t.ksmdRanNs(), t.system().ksm.cpuNs);
});

test('costScale: every CPU time of the cost model doubled, the wake-ups and the cadence kept', async () => {
  // 10 pages a batch every 20 ms: ksmd's CPU is microseconds a batch, so both runs wake as
  // often and scan the same pages. Every cost-model charge doubles; the wake-up's fixed cost
  // (WAKEUP_NS, not the cost model's) does not, so 2 x one - two is that cost once a batch.
  const s = scenario('  - wait: { ms: 1000 }\n');
  const one = createModelBackend({ seed: 0 });
  const two = createModelBackend({ seed: 0, costScale: 2 });
  const [a, b] = [await runScenario(s, one), await runScenario(s, two)];
  assert.equal(b.records.at(-1)?.ksm.pages_scanned, a.records.at(-1)?.ksm.pages_scanned);
  const wakeups = (2 * one.ksmdRanNs() - two.ksmdRanNs()) / WAKEUP_NS;
  assert.ok(Math.abs(wakeups - Math.round(wakeups)) < 1e-6, String(wakeups));
  // At most one batch per 20 ms sleep in 1 s, and some.
  assert.ok(wakeups >= 40 && wakeups <= 50, String(wakeups));
});

test('a wait of batches stops ksmd after each: pages_to_scan pages a batch, and a batch ends where a full scan ends', async () => {
  // ksm_do_scan scans up to pages_to_scan pages and returns at once when
  // scan_get_next_rmap_item completes a full scan: 10 pages at 3 a batch are batches of
  // 3, 3, 3 and 1, the fourth ending the scan (the kernel backend's test checks the same on Linux).
  const r = await runScenario(
    scenario(
      '  - wait: { batches: 1 }\n  - record: { label: b1 }\n  - wait: { batches: 2 }\n  - record: { label: b3 }\n' +
        '  - wait: { batches: 1 }\n  - record: { label: b4 }\n  - wait: { batches: 1 }\n',
      'ksm: { run: 1, pages_to_scan: 3, sleep_millisecs: 20 }',
    ),
    createModelBackend({ seed: 0 }),
  );
  assert.equal(r.ok, true, r.error);
  const at = (label: string): [number, number] => {
    const rec = r.records.find((x) => x.label === label)!;
    return [Number(rec.ksm.pages_scanned), Number(rec.ksm.full_scans)];
  };
  assert.deepEqual(
    [at('b1'), at('b3'), at('b4'), at('end')],
    [
      [3, 0],
      [9, 0],
      [10, 1],
      [13, 1],
    ],
  );
});

test('a wait of batches while ksmd cannot scan says why at once', async () => {
  const r = await runScenario(
    scenario('  - wait: { batches: 2 }\n', 'ksm: { run: 0 }'),
    createModelBackend({ seed: 0 }),
  );
  assert.match(r.error ?? '', /ksmd is not running \(run=0\)$/);
});
