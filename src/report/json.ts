/**
 * The `--json` output of docs/scenario-format.md: one object, the same bytes for the same run.
 * Keys are written in the contract's order, and /sys/kernel/mm/ksm files and process names
 * sorted, so that runs on both backends diff cleanly whatever order a backend produced them in.
 */
import type { CounterRecord, ExpectResult, ProcRecord, RunResult } from '../scenario/records.ts';

/**
 * JSON.stringify replacer for bigints, which JSON.stringify rejects. A bigint within the
 * exact range of a double becomes a number; a larger one becomes its decimal string, since
 * Node 20 cannot write a raw number literal and rounding would change a counter.
 */
export function bigintReplacer(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  const asNumber = Number(value);
  return Number.isSafeInteger(asNumber) ? asNumber : value.toString();
}

/** The run as JSON text, indented by `indent` spaces (0: one line), without a trailing newline. */
export function formatJson(result: RunResult, indent = 2): string {
  return JSON.stringify(canonical(result), bigintReplacer, indent);
}

/** The run rebuilt with keys in the contract's order. */
export function canonical(result: RunResult): RunResult {
  return {
    scenario: result.scenario,
    backend: result.backend,
    ok: result.ok,
    records: result.records.map(canonicalRecord),
    expects: result.expects.map(canonicalExpect),
    // What madvise and prctl returned: an addition to the contract's keys, after them.
    ...(result.calls === undefined
      ? {}
      : { calls: result.calls.map((c) => ({ step: c.step, call: c.call, proc: c.proc, result: c.result })) }),
    // Why the run stopped before its last step, when it did: an addition, after the others.
    ...(result.error === undefined ? {} : { error: result.error }),
  };
}

function canonicalRecord(r: CounterRecord): CounterRecord {
  const procs: Record<string, ProcRecord> = {};
  for (const name of Object.keys(r.procs).sort()) {
    const p = r.procs[name];
    if (p === undefined) continue;
    procs[name] = {
      ksm_rmap_items: p.ksm_rmap_items,
      ksm_zero_pages: p.ksm_zero_pages,
      ksm_merging_pages: p.ksm_merging_pages,
      ksm_process_profit: p.ksm_process_profit,
      ksm_merge_any: p.ksm_merge_any,
      ksm_mergeable: p.ksm_mergeable,
      rss_pages: p.rss_pages,
    };
  }
  const base = { label: r.label, time_ms: r.time_ms, ksm: sortKeys(r.ksm), procs };
  const a = r.attribution;
  return {
    ...base,
    ...(r.ksmplus === undefined ? {} : { ksmplus: sortKeys(r.ksmplus) }),
    ...(r.vmstat === undefined ? {} : { vmstat: sortKeys(r.vmstat) }),
    ...(r.plus === undefined ? {} : { plus: sortKeys(r.plus) }),
    // Who saves what: an addition to the contract's keys, after them (docs/attribution.md).
    ...(a === undefined ? {} : { attribution: { procs: sortKeys(a.procs), totals: a.totals } }),
  };
}

function canonicalExpect(e: ExpectResult): ExpectResult {
  return { step: e.step, path: e.path, expected: e.expected, actual: e.actual, ok: e.ok };
}

function sortKeys<V>(o: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(o).sort()) out[key] = o[key] as V;
  return out;
}
