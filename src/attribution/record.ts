/**
 * The attribution as a scenario record carries it (`samepage run --json`): per scenario
 * process, the figures that both backends must agree on (ksmd's CPU time, which is the
 * model's virtual time on one side and the host's on the other, is left out; pids and
 * cgroups are the host's).
 */
import type { Shares } from './apportion.ts';
import type { Attribution, AttributionTotals, MappingState } from './attribute.ts';

export interface ProcAttributionRecord {
  readonly ksm_mappings: number;
  readonly state: MappingState;
  readonly shares: Shares;
  readonly saved_bytes: number;
  readonly profit_bytes: number;
}

export type AttributionTotalsRecord = Pick<
  AttributionTotals,
  | 'ksm_pages'
  | 'counted_mappings'
  | 'unscanned_mappings'
  | 'unseen_mappings'
  | 'attributed_pages'
  | 'residual_pages'
  | 'attributed_profit_bytes'
  | 'naive_profit_bytes'
>;

export interface AttributionRecord {
  readonly procs: Readonly<Record<string, ProcAttributionRecord>>;
  readonly totals: AttributionTotalsRecord;
}

/** The record of `a`, whose i-th process is the scenario's process `names[i]`. */
export function attributionRecord(a: Attribution, names: readonly string[]): AttributionRecord {
  const procs: Record<string, ProcAttributionRecord> = {};
  for (const [i, p] of a.processes.entries()) {
    const name = names[i];
    if (name === undefined) continue;
    procs[name] = {
      ksm_mappings: p.ksm_mappings,
      state: p.state,
      shares: p.shares,
      saved_bytes: p.saved_bytes,
      profit_bytes: p.profit_bytes,
    };
  }
  const t = a.totals;
  return {
    procs,
    totals: {
      ksm_pages: t.ksm_pages,
      counted_mappings: t.counted_mappings,
      unscanned_mappings: t.unscanned_mappings,
      ...(t.unseen_mappings === undefined ? {} : { unseen_mappings: t.unseen_mappings }),
      attributed_pages: t.attributed_pages,
      residual_pages: t.residual_pages,
      attributed_profit_bytes: t.attributed_profit_bytes,
      naive_profit_bytes: t.naive_profit_bytes,
    },
  };
}
