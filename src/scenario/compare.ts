/**
 * Comparing two runs of one scenario, counter by counter: the kernel backend's and the
 * model's. Plain functions over the plain records of records.ts, shared by the golden test
 * (recorded kernel runs) and `samepage diff` (both backends live).
 *
 * Records compare every /sys/kernel/mm/ksm file, every process counter and the KSM lines of
 * /proc/vmstat, never time (the kernel's is wall time) and never `ksmplus` (the live kernel
 * has no such interface). The attribution is compared where both records carry it
 * (recordings made before it existed do not).
 */
import type { AttributionRecord } from '../attribution/record.ts';
import type { CallResult, CounterRecord, ExpectResult, RunResult } from './records.ts';

/** One value that differs between two runs of the same scenario. */
export interface RecordDiff {
  /** The record's label, or `(steps)` for what steps returned. */
  readonly label: string;
  /** `ksm/<file>`, `<proc>/<field>`, `(record)`, `steps[i].madvise`... */
  readonly path: string;
  readonly kernel: unknown;
  readonly model: unknown;
}

/** Labels with their occurrence (`label`, `label#2`...), so repeated labels pair in order. */
function keyed(records: readonly CounterRecord[]): Map<string, CounterRecord> {
  const seen = new Map<string, number>();
  const out = new Map<string, CounterRecord>();
  for (const r of records) {
    const n = (seen.get(r.label) ?? 0) + 1;
    seen.set(r.label, n);
    out.set(n === 1 ? r.label : `${r.label}#${n}`, r);
  }
  return out;
}

/** Keys of both objects: `a`'s in order, then those only `b` has. */
function unionKeys(a: object, b: object): string[] {
  const keys = Object.keys(a);
  const have = new Set(keys);
  for (const k of Object.keys(b)) if (!have.has(k)) keys.push(k);
  return keys;
}

/**
 * Compares records label by label (the n-th record of a label with the n-th of the same
 * label): a record, /sys/kernel/mm/ksm file, process or process counter present on one side
 * only is a difference too, shown as `undefined` on the side that lacks it.
 */
export function compareRecords(kernel: readonly CounterRecord[], model: readonly CounterRecord[]): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const ks = keyed(kernel);
  const ms = keyed(model);
  for (const key of unionKeys(Object.fromEntries(ks), Object.fromEntries(ms))) {
    const k = ks.get(key);
    const m = ms.get(key);
    if (k === undefined || m === undefined) {
      diffs.push({
        label: key,
        path: '(record)',
        kernel: k === undefined ? 'missing' : 'present',
        model: m === undefined ? 'missing' : 'present',
      });
      continue;
    }
    diffs.push(...compareRecord(key, k, m));
  }
  return diffs;
}

/** The differences between two records of the same label. */
export function compareRecord(label: string, kernel: CounterRecord, model: CounterRecord): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  for (const file of unionKeys(kernel.ksm, model.ksm)) {
    const kv = kernel.ksm[file];
    const mv = model.ksm[file];
    if (kv !== mv) diffs.push({ label, path: `ksm/${file}`, kernel: kv, model: mv });
  }
  for (const proc of unionKeys(kernel.procs, model.procs)) {
    const kp = kernel.procs[proc] as Readonly<Record<string, unknown>> | undefined;
    const mp = model.procs[proc] as Readonly<Record<string, unknown>> | undefined;
    if (kp === undefined || mp === undefined) {
      diffs.push({
        label,
        path: `${proc}`,
        kernel: kp === undefined ? 'missing' : 'present',
        model: mp === undefined ? 'missing' : 'present',
      });
      continue;
    }
    for (const field of unionKeys(kp, mp)) {
      if (kp[field] !== mp[field]) diffs.push({ label, path: `${proc}/${field}`, kernel: kp[field], model: mp[field] });
    }
  }
  // The KSM lines of /proc/vmstat, where both runs recorded them (recordings made before
  // records had them do not).
  if (kernel.vmstat !== undefined && model.vmstat !== undefined) {
    for (const field of unionKeys(kernel.vmstat, model.vmstat)) {
      const kv = kernel.vmstat[field];
      const mv = model.vmstat[field];
      if (kv !== mv) diffs.push({ label, path: `vmstat/${field}`, kernel: kv, model: mv });
    }
  }
  if (kernel.attribution !== undefined && model.attribution !== undefined)
    diffs.push(...compareAttribution(label, kernel.attribution, model.attribution));
  return diffs;
}

/** Two attributions, value by value (shares compared as their JSON text). */
function compareAttribution(label: string, kernel: AttributionRecord, model: AttributionRecord): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const kt = kernel.totals as Readonly<Record<string, unknown>>;
  const mt = model.totals as Readonly<Record<string, unknown>>;
  for (const f of unionKeys(kt, mt))
    if (!same(kt[f], mt[f])) diffs.push({ label, path: `attribution/${f}`, kernel: kt[f], model: mt[f] });
  for (const proc of unionKeys(kernel.procs, model.procs)) {
    const kp = (kernel.procs[proc] ?? {}) as Readonly<Record<string, unknown>>;
    const mp = (model.procs[proc] ?? {}) as Readonly<Record<string, unknown>>;
    for (const f of unionKeys(kp, mp))
      if (!same(kp[f], mp[f])) diffs.push({ label, path: `attribution/${proc}/${f}`, kernel: kp[f], model: mp[f] });
  }
  return diffs;
}

/** What madvise and prctl steps returned, step by step. */
export function compareCalls(kernel: readonly CallResult[], model: readonly CallResult[]): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const ms = new Map(model.map((c) => [c.step, c]));
  const ks = new Map(kernel.map((c) => [c.step, c]));
  for (const step of [...new Set([...ks.keys(), ...ms.keys()])].sort((a, b) => a - b)) {
    const k = ks.get(step);
    const m = ms.get(step);
    if (k?.result !== m?.result) {
      diffs.push({
        label: '(steps)',
        path: `steps[${step}].${k?.call ?? m?.call ?? 'call'}`,
        kernel: k?.result,
        model: m?.result,
      });
    }
  }
  return diffs;
}

/** Whether each check (expect path, read digest, sysfs outcome, wait) held on both sides. */
export function compareExpects(kernel: readonly ExpectResult[], model: readonly ExpectResult[]): RecordDiff[] {
  const diffs: RecordDiff[] = [];
  const key = (e: ExpectResult): string => `${e.step} ${e.path}`;
  const ms = new Map(model.map((e) => [key(e), e]));
  const ks = new Map(kernel.map((e) => [key(e), e]));
  for (const id of [...new Set([...ks.keys(), ...ms.keys()])]) {
    const k = ks.get(id);
    const m = ms.get(id);
    const path = (k ?? m)?.path ?? id;
    const where = path.startsWith('steps[') ? path : `steps[${(k ?? m)?.step ?? '?'}].expect ${path}`;
    // Counters are compared by value; other checks (a wait's reason, a digest) by outcome.
    const counter = path.startsWith('/');
    if (k?.ok !== m?.ok || (counter && k?.actual !== m?.actual)) {
      diffs.push({
        label: '(steps)',
        path: where,
        kernel: k === undefined ? undefined : counter ? k.actual : k.ok ? 'ok' : k.actual,
        model: m === undefined ? undefined : counter ? m.actual : m.ok ? 'ok' : m.actual,
      });
    }
  }
  return diffs;
}

/** Everything two runs of one scenario disagree on: records, step results, checks. */
export function compareRuns(kernel: RunResult, model: RunResult): RecordDiff[] {
  return [
    ...compareRecords(kernel.records, model.records),
    ...compareCalls(kernel.calls ?? [], model.calls ?? []),
    ...compareExpects(kernel.expects, model.expects),
  ];
}
