/**
 * The attribution's identity on the model, over random scenarios (src/scenario/generate.ts:
 * forks, exits, CoW writes, MADV_UNMERGEABLE, prctl, chains at small max_page_sharing,
 * use_zero_pages): at every record where ksmd has caught up with the page tables (every
 * mapping of a KSM page has its rmap_item on the page's stable node, none is stale:
 * src/ksm/lag.ts), the credited pages add up to pages_sharing + ksm_zero_pages exactly, the
 * bytes to that many pages, the profits to general_profit, and the naive sum of
 * ksm_process_profit exceeds them by one page per KSM page (pages_shared), whenever
 * anything is merged. Records follow waits of whole full scans, and still ksmd can lag
 * there (a page shared since fork merged in place through one of its mappings): those
 * records are counted, not checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createModelBackend } from '../src/backends/model/index.ts';
import { attribute } from '../src/attribution/attribute.ts';
import { sharesFraction } from '../src/attribution/apportion.ts';
import { modelObservation } from '../src/backends/model/attribution.ts';
import { ksmLag } from '../src/ksm/lag.ts';
import { generateScenario } from '../src/scenario/generate.ts';
import { parseScenario } from '../src/scenario/parse.ts';
import { runScenario } from '../src/scenario/run.ts';
import type { Step } from '../src/scenario/types.ts';

const num = (v: number | string | undefined): number => (typeof v === 'number' ? v : Number.NaN);

/** Whether ksmd has caught up with the page tables on the model machine of `backend`. */
function caughtUp(backend: ReturnType<typeof createModelBackend>): boolean {
  const lag = ksmLag(backend.system().ksm);
  return lag.unattached === 0 && lag.stale === 0;
}

test('attribution identity: at every full-scan boundary of random scenarios, Σ credited = pages_sharing + ksm_zero_pages', async (t) => {
  const seen = { records: 0, lagging: 0, merged: 0, chains: 0, zero: 0, multi: 0, forks: 0 };
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (seed) => {
      const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
      assert.ok(parsed.ok);
      const backend = createModelBackend({ seed: 0 });
      // Check the exact fractions too, at each record, straight from the model.
      const exact: string[] = [];
      const settled: boolean[] = [];
      const result = await runScenario(parsed.scenario, backend, {
        beforeStep: async (_i: number, step: Step) => {
          if (step.kind !== 'record') return;
          settled.push(caughtUp(backend));
          const sys = backend.system();
          const a = attribute(modelObservation(sys, sys.mmgr.liveTasks()));
          let num = 0n;
          let den = 1n;
          for (const p of a.processes) {
            const f = sharesFraction(p.shares);
            num = num * f.den + f.num * den + BigInt(p.ksm_zero_pages) * den * f.den;
            den *= f.den;
          }
          exact.push(`${num % den === 0n ? num / den : `${num}/${den}`}`);
        },
      });
      if (parsed.scenario.steps.some((s) => s.kind === 'fork')) seen.forks++;
      for (const [i, r] of result.records.entries()) {
        const a = r.attribution;
        assert.ok(a !== undefined, 'a model record carries the attribution');
        const sharing = num(r.ksm.pages_sharing);
        const zero = num(r.ksm.ksm_zero_pages);
        const shared = num(r.ksm.pages_shared);
        const where = `seed ${seed}, record ${i} (${r.label})`;
        if (!settled[i]) {
          seen.lagging++;
          continue;
        }
        assert.equal(a.totals.residual_pages, 0, `${where}: residual`);
        assert.equal(a.totals.attributed_pages, sharing + zero, where);
        assert.equal(exact[i], String(sharing + zero), `${where}: the exact sum of fractions`);
        const procs = Object.values(a.procs);
        assert.equal(
          procs.reduce((t, p) => t + p.saved_bytes, 0),
          (sharing + zero) * 4096,
          `${where}: bytes`,
        );
        assert.equal(
          procs.reduce((t, p) => t + p.profit_bytes, 0),
          num(r.ksm.general_profit),
          `${where}: profit`,
        );
        assert.equal(a.totals.attributed_profit_bytes, num(r.ksm.general_profit), where);
        assert.equal(a.totals.naive_profit_bytes - a.totals.attributed_profit_bytes, shared * 4096, `${where}: naive`);
        seen.records++;
        if (shared > 0) seen.merged++;
        if (num(r.ksm.stable_node_chains) > 0) seen.chains++;
        if (zero > 0) seen.zero++;
        if (procs.some((p) => p.shares.some(([n]) => n > 2))) seen.multi++;
      }
    }),
    { seed: 4242, numRuns: 120 },
  );
  t.diagnostic(`reached: ${JSON.stringify(seen)}`);
  // Not vacuous: the runs merged pages, built chains, merged zero pages and shared pages 3+
  // ways, and ksmd had caught up at nearly every record.
  assert.ok(seen.records > 100 && seen.lagging * 20 <= seen.records, JSON.stringify(seen));
  assert.ok(
    seen.merged > 30 && seen.chains > 3 && seen.zero > 3 && seen.multi > 10 && seen.forks > 10,
    JSON.stringify(seen),
  );
});

// Found by running the property above with other seeds (2026-12-04): on these generated
// scenarios the identity failed after forks, by 1 to 23 pages. The cause, seen on the live
// kernel too (test/fixtures/attribution/cow-merged-in-place.yaml): a page a parent shares
// with its child since fork becomes a KSM page in place through one of its mappings after
// ksmd visited (or smart_scan skipped) another, and that mapping gets its rmap_item only at
// its next visit. So the identity holds only where ksmd has caught up, and these records
// are exactly where it has not.
test('attribution identity on generated scenarios 464553, 671140 and 746842: it fails only where ksmd lags', async () => {
  const lagging: string[] = [];
  for (const seed of [464553, 671140, 746842]) {
    const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
    assert.ok(parsed.ok);
    const backend = createModelBackend({ seed: 0 });
    const settled: boolean[] = [];
    const result = await runScenario(parsed.scenario, backend, {
      beforeStep: async (_i: number, step: Step) => {
        if (step.kind === 'record') settled.push(caughtUp(backend));
      },
    });
    for (const [i, r] of result.records.entries()) {
      const a = r.attribution!;
      const where = `seed ${seed}, ${r.label}`;
      if (settled[i]) {
        assert.equal(a.totals.residual_pages, 0, `${where}: residual`);
        continue;
      }
      lagging.push(where);
      // Unattached mappings are counted by n but not by pages_sharing: credits exceed it,
      // and a process shows more mappings than rmap_items on stable nodes.
      assert.ok(a.totals.residual_pages < 0, `${where}: residual ${a.totals.residual_pages}`);
      assert.ok(
        Object.values(a.procs).some((p) => p.state === 'partial'),
        where,
      );
    }
  }
  assert.deepEqual(lagging, ['seed 464553, r2', 'seed 671140, r3', 'seed 746842, r3']);
});
