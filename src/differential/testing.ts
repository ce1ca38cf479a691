/** Synthetic runs for tests of the differential method and of what shows its results. */
import type { RunResult } from '../scenario/records.ts';

/** A finished run of scenario "two" by `backend`: one record "merged" with these counters. */
export function syntheticRun(backend: string, pagesSharing: number, over: Partial<RunResult> = {}): RunResult {
  return {
    scenario: 'two',
    backend,
    ok: true,
    records: [{ label: 'merged', time_ms: 0, ksm: { pages_shared: 1, pages_sharing: pagesSharing }, procs: {} }],
    expects: [],
    calls: [],
    ...over,
  };
}
