import type { CounterRecord } from '../src/scenario/records.ts';

/** One counter that differs between two runs of the same scenario. */
export interface RecordDiff {
  readonly label: string;
  readonly path: string;
  readonly kernel: unknown;
  readonly model: unknown;
}

/**
 * Compares records label by label: every /sys/kernel/mm/ksm file and every process
 * counter must be equal. Time is not compared (the kernel's is wall time).
 */
export function compareRecords(kernel: readonly CounterRecord[], model: readonly CounterRecord[]): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const byLabel = new Map(model.map((r) => [r.label, r]));
  for (const k of kernel) {
    const m = byLabel.get(k.label);
    if (m === undefined) {
      diffs.push({ label: k.label, path: '(record)', kernel: 'present', model: 'missing' });
      continue;
    }
    for (const [file, v] of Object.entries(k.ksm)) {
      if (m.ksm[file] !== v) diffs.push({ label: k.label, path: `ksm/${file}`, kernel: v, model: m.ksm[file] });
    }
    for (const [proc, counters] of Object.entries(k.procs)) {
      const mp = m.procs[proc];
      for (const [field, v] of Object.entries(counters)) {
        const mv = mp === undefined ? undefined : (mp as unknown as Record<string, unknown>)[field];
        if (mv !== v) diffs.push({ label: k.label, path: `${proc}/${field}`, kernel: v, model: mv });
      }
    }
  }
  return diffs;
}
