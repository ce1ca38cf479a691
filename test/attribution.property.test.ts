/**
 * The attribution's identity on the model, over random scenarios (src/scenario/generate.ts:
 * forks, exits, CoW writes, MADV_UNMERGEABLE, prctl, chains at small max_page_sharing,
 * use_zero_pages): at every record, which follows a wait of whole full scans, the credited
 * pages add up to pages_sharing + ksm_zero_pages exactly, the bytes to that many pages, the
 * profits to general_profit, and the naive sum of ksm_process_profit exceeds them by one
 * page per KSM page (pages_shared), whenever anything is merged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createModelBackend } from '../src/backends/model/index.ts';
import { attribute } from '../src/attribution/attribute.ts';
import { sharesFraction } from '../src/attribution/apportion.ts';
import { modelObservation } from '../src/backends/model/attribution.ts';
import { generateScenario } from '../src/scenario/generate.ts';
import { parseScenario } from '../src/scenario/parse.ts';
import { runScenario } from '../src/scenario/run.ts';
import type { Step } from '../src/scenario/types.ts';

const num = (v: number | string | undefined): number => (typeof v === 'number' ? v : Number.NaN);

test('attribution identity: at every full-scan boundary of random scenarios, Σ credited = pages_sharing + ksm_zero_pages', async (t) => {
  const seen = { records: 0, merged: 0, chains: 0, zero: 0, multi: 0, forks: 0 };
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1_000_000 }), async (seed) => {
      const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
      assert.ok(parsed.ok);
      const backend = createModelBackend({ seed: 0 });
      // Check the exact fractions too, at each record, straight from the model.
      const exact: string[] = [];
      const result = await runScenario(parsed.scenario, backend, {
        beforeStep: async (_i: number, step: Step) => {
          if (step.kind !== 'record') return;
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
  // Not vacuous: the runs merged pages, built chains, merged zero pages and shared pages 3+ ways.
  assert.ok(seen.records > 100, JSON.stringify(seen));
  assert.ok(
    seen.merged > 30 && seen.chains > 3 && seen.zero > 3 && seen.multi > 10 && seen.forks > 10,
    JSON.stringify(seen),
  );
});

// Found by running the property above with other seeds (2026-12-04): on these generated
// scenarios the model's processes are credited 1 to 23 pages more than pages_sharing at a
// record after forks. Not yet explained: the model's rmap_items of a forked child, or the
// attribution's rule for a child not yet scanned (attribute.ts), is wrong there.
test('attribution identity on generated scenarios 464553, 671140 and 746842', {
  todo: 'credits exceed pages_sharing by 1-23 pages after forks; not yet explained',
}, async () => {
  for (const seed of [464553, 671140, 746842]) {
    const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
    assert.ok(parsed.ok);
    const result = await runScenario(parsed.scenario, createModelBackend({ seed: 0 }));
    for (const r of result.records) {
      assert.equal(r.attribution?.totals.residual_pages, 0, `seed ${seed}, ${r.label}: residual`);
    }
  }
});
