/**
 * When stable_tree_search prunes a chain: stable_node_dup walks every dup (dropping stale
 * ones) only once `stable_node_chains_prune_millisecs` have passed since the chain was
 * created or last pruned (mm/ksm.c: `time_before(jiffies, chain_prune_time +
 * msecs_to_jiffies(ms))` means not yet). The two outcomes are the live kernel's, recorded
 * with the period at 0 and at an hour (traces chain-prune-due and chain-prune-not-due);
 * here the default period of 2000 ms must give one or the other depending on the time that
 * passes between the chain's creation and the search.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelBackend } from '../src/backends/model/index.ts';
import { chainPruneProbe, runProbe } from './kernel-truth/probes.ts';

/** Chains and dups after the searching pass. */
async function afterSearch(idleMs: number): Promise<{ chains: unknown; dups: unknown }> {
  const records = await runProbe(new ModelBackend({ seed: 0 }), chainPruneProbe('prune-2000', '2000', false, idleMs));
  const rec = records.find((r) => r.label === 'after the search');
  assert.ok(rec !== undefined);
  return { chains: rec.ksm.stable_node_chains, dups: rec.ksm.stable_node_dups };
}

test('a chain met by a search within stable_node_chains_prune_millisecs of its creation is not pruned', async () => {
  // Consecutive passes are about sleep_millisecs (20 ms) apart, far below 2000 ms.
  assert.deepEqual(await afterSearch(0), { chains: 1, dups: 1 });
  assert.deepEqual(await afterSearch(1900), { chains: 1, dups: 1 });
});

test('a chain met by a search stable_node_chains_prune_millisecs after its creation is pruned and collapses', async () => {
  assert.deepEqual(await afterSearch(2000), { chains: 0, dups: 0 });
  assert.deepEqual(await afterSearch(60_000), { chains: 0, dups: 0 });
});
