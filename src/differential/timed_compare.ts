/**
 * A timed comparison's judgement (timed.ts runs the scenario; this compares the runs): the
 * model's run against the undisturbed kernel runs, record by record (every step's, as in
 * diff.ts).
 *
 * What is compared:
 *   - the knobs of /sys/kernel/mm/ksm exactly, except pages_to_scan while the scan-time
 *     advisor owns it, which must come within `advisor` (its trajectory);
 *   - pages_scanned within `counters` of the kernel's median, |model - kernel| <=
 *     tolerance * |kernel| (a kernel value of 0 must be 0);
 *   - full_scans by its clock (step_clock.ts): at a record taken t into ksmd's time, neither
 *     side may be more than `counters` * t ahead of the other in reaching a value, by the
 *     traces of full_scans both backends keep (scenario/scan_trace.ts); a record after a
 *     wait for full scans, where the sides meet on an event and not at a time, by value as
 *     pages_scanned is (which makes small counts exact until 1/tolerance);
 *   - madvise and prctl results exactly.
 * A file, process or field that one run shows and another lacks is a difference, as in
 * diff.ts. The other counters (the page counters, rmap_items, each process's) are shown
 * beside the kernel's but not judged: they count where ksmd stands inside its current pass, so a
 * difference of a few batches in pages_scanned (within the tolerance) can be a large share
 * of them (4,100 against 4,500 pages into a pass, while pages_scanned was 24,580 against
 * 24,980).
 */
import { KSM_WRITABLE_FILES } from '../lib/ksm_files.ts';
import { lowerMedian } from '../lib/statistics.ts';
import { compareCalls } from '../scenario/compare.ts';
import type { CounterRecord, RunResult } from '../scenario/records.ts';
import type { ScanTrace } from '../scenario/scan_trace.ts';
import { type ClockJudgement, judgeByClock } from './step_clock.ts';
import { type Tolerance, within } from './tolerance.ts';

/** One compared value of one record. */
export interface TimedValue {
  readonly label: string;
  /** `ksm/<file>` or `<proc>/<field>`. */
  readonly path: string;
  /** The kernel's median, and each undisturbed run's value. */
  readonly kernel: number | string | boolean | undefined;
  readonly kernelRuns: ReadonlyArray<number | string | boolean | undefined>;
  readonly model: number | string | boolean | undefined;
  /** The relative tolerance applied; 0 for an exact comparison. */
  readonly tolerance: number;
  /** Whether the value is judged (a knob, pages_scanned, full_scans); the others are shown only. */
  readonly judged: boolean;
  /** Within the tolerance, or not judged. */
  readonly ok: boolean;
  /**
   * The model's value is one some undisturbed kernel run gave (between their smallest and
   * largest): where the kernel's own runs disagree, as full_scans does when a record falls a
   * few batches from the end of a pass (0, 1, 0), the median cannot judge the model.
   */
  readonly inKernelSpread: boolean;
  /** full_scans judged by its clock (step_clock.ts): the figures; `ok` is its verdict. */
  readonly clock?: ClockJudgement;
}

/** Whether `m` lies between the smallest and the largest of the numeric runs (false without any). */
export function inSpread(runs: readonly unknown[], m: unknown): boolean {
  const nums = runs.filter((v): v is number => typeof v === 'number');
  return typeof m === 'number' && nums.length > 0 && m >= Math.min(...nums) && m <= Math.max(...nums);
}

/**
 * Some value is beyond its tolerance, and every such value lies within the kernel runs' own
 * spread (see inKernelSpread): the verdict's values, or those of the model at the kernel's speed.
 */
export function onlyWithinKernelSpread(values: readonly TimedValue[]): boolean {
  const bad = values.filter((v) => !v.ok);
  return bad.length > 0 && bad.every((v) => v.inKernelSpread);
}

/** The traces of full_scans of the runs compared (the kernel's in the order of their runs). */
export interface TimedTraces {
  readonly kernel: ReadonlyArray<ScanTrace | undefined>;
  readonly model: ScanTrace | undefined;
}

/** The middle of the numbers (the lower middle for an even count); else the first value. */
function medianValue(
  values: ReadonlyArray<number | string | boolean | undefined>,
): number | string | boolean | undefined {
  const nums = values.filter((v): v is number => typeof v === 'number');
  if (nums.length !== values.length || nums.length === 0) return values[0];
  return lowerMedian(nums);
}

const KNOBS = new Set<string>(KSM_WRITABLE_FILES);
/** The timed counters the tolerance judges (the knobs are judged exactly). */
const TIMED = new Set(['pages_scanned', 'full_scans']);

/**
 * A file or field that some run has and another lacks: a difference whatever its kind (a
 * counter the model does not show, a process one side lost), as in the exact comparison.
 */
function oneSided(runs: ReadonlyArray<unknown>, model: unknown): boolean {
  const present = [...runs, model].map((v) => v !== undefined);
  return present.includes(true) && present.includes(false);
}

/**
 * full_scans of record `index` judged by its clock, where every run traced it and the record
 * has a place on ksmd's clock on each (no wait for full scans before it); else undefined.
 */
function clockOf(
  traces: TimedTraces | undefined,
  index: number,
  kernel: unknown,
  model: unknown,
  tol: number,
): ClockJudgement | undefined {
  if (traces === undefined || typeof kernel !== 'number' || typeof model !== 'number') return undefined;
  const atMs = traces.model?.recordAtMs[index];
  const kernels = traces.kernel.filter((k): k is ScanTrace => k?.recordAtMs[index] !== undefined);
  if (traces.model === undefined || atMs === undefined || kernels.length !== traces.kernel.length || atMs <= 0)
    return undefined;
  return judgeByClock(kernels, traces.model, atMs, kernel, model, tol);
}

/** The values of one record, judged against the kernel runs' records of the same position. */
function compareTimedRecord(
  model: CounterRecord,
  kernels: readonly CounterRecord[],
  tol: Tolerance,
  out: TimedValue[],
  clockAt: (kernel: unknown, model: unknown) => ClockJudgement | undefined,
): void {
  const label = model.label;
  const advisorOn = kernels[0]?.ksm.advisor_mode === 'scan-time';
  const files = new Set([...Object.keys(model.ksm), ...kernels.flatMap((k) => Object.keys(k.ksm))]);
  for (const file of files) {
    const runs = kernels.map((k) => k.ksm[file]);
    const kernel = medianValue(runs);
    const m = model.ksm[file];
    const lopsided = oneSided(runs, m);
    const judged = KNOBS.has(file) || TIMED.has(file) || lopsided;
    const tolerance = file === 'pages_to_scan' && advisorOn ? tol.advisor : KNOBS.has(file) ? 0 : tol.counters;
    const clock = file === 'full_scans' ? clockAt(kernel, m) : undefined;
    const ok = !judged
      ? true
      : lopsided
        ? false
        : clock !== undefined
          ? clock.ok
          : typeof kernel === 'number' && typeof m === 'number' && tolerance > 0
            ? within(kernel, m, tolerance)
            : kernel === m;
    const inKernelSpread = inSpread(runs, m);
    out.push({
      label,
      path: `ksm/${file}`,
      kernel,
      kernelRuns: runs,
      model: m,
      tolerance,
      judged,
      ok,
      inKernelSpread,
      ...(clock === undefined ? {} : { clock }),
    });
  }
  const procs = new Set([...Object.keys(model.procs), ...kernels.flatMap((k) => Object.keys(k.procs))]);
  for (const proc of procs) {
    const fields = new Set([
      ...Object.keys(model.procs[proc] ?? {}),
      ...kernels.flatMap((k) => Object.keys(k.procs[proc] ?? {})),
    ]);
    for (const field of fields) {
      const pick = (r: CounterRecord): number | boolean | undefined =>
        (r.procs[proc] as Readonly<Record<string, number | boolean>> | undefined)?.[field];
      const runs = kernels.map(pick);
      const kernel = medianValue(runs);
      const m = pick(model);
      // Which VMAs are mergeable, and which mm merges any, do not depend on time.
      const lopsided = oneSided(runs, m);
      const judged = typeof kernel === 'boolean' || lopsided;
      const ok = !judged || (kernel === m && !lopsided);
      const inKernelSpread = inSpread(runs, m);
      out.push({
        label,
        path: `${proc}/${field}`,
        kernel,
        kernelRuns: runs,
        model: m,
        tolerance: 0,
        judged,
        ok,
        inKernelSpread,
      });
    }
  }
}

/**
 * Compares the model's run with the undisturbed kernel runs, value by value; full_scans by
 * its clock where `traces` (the same runs', in the same order) place the record on it.
 */
export function compareTimed(
  kernels: readonly RunResult[],
  model: RunResult,
  tol: Tolerance,
  traces?: TimedTraces,
): TimedValue[] {
  const out: TimedValue[] = [];
  for (const [i, rec] of model.records.entries()) {
    const ks = kernels.map((k) => k.records[i]).filter((r): r is CounterRecord => r?.label === rec.label);
    if (ks.length !== kernels.length) {
      out.push({
        label: rec.label,
        path: '(record)',
        kernel: 'missing',
        kernelRuns: [],
        model: 'present',
        tolerance: 0,
        judged: true,
        ok: false,
        inKernelSpread: false,
      });
      continue;
    }
    compareTimedRecord(rec, ks, tol, out, (k, m) => clockOf(traces, i, k, m, tol.counters));
  }
  for (const k of kernels) {
    for (const d of compareCalls(k.calls ?? [], model.calls ?? [])) {
      out.push({
        label: d.label,
        path: d.path,
        kernel: d.kernel as number,
        kernelRuns: [],
        model: d.model as number,
        tolerance: 0,
        judged: true,
        ok: false,
        inKernelSpread: false,
      });
    }
  }
  return out;
}
