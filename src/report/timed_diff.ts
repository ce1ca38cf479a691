/**
 * `samepage diff --timed` for people and for scripts: per file, a verdict, the kernel runs
 * (ksmd's wait for a CPU in each, and which were measured again), then a table of the timed
 * counters of every explicit record (pages_scanned, full_scans, pages_to_scan under the
 * advisor: kernel median and runs, model, difference) and every value out of tolerance.
 * full_scans judged by its clock (differential/step_clock.ts) shows, in its own column, how
 * far the model is ahead of the kernel's median (or behind) in reaching the values they
 * show, against the limit. Where the scenario waits in milliseconds, ksmd's CPU over those
 * waits on both sides, shown and not judged, and how the model fares at the kernel's speed
 * (differential/kernel_speed.ts): a line beside the verdict, never instead of it.
 */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { ClockJudgement } from '../differential/step_clock.ts';
import type { TimedAtKernelSpeed, TimedBatches, TimedCpu, TimedDiff } from '../differential/timed.ts';
import type { TimedValue } from '../differential/timed_compare.ts';
import { median } from '../lib/statistics.ts';
import { renderBatches } from './ksmd_batches.ts';

/** Counters shown for every record, whether in tolerance or not. */
const SHOWN = new Set(['ksm/pages_scanned', 'ksm/full_scans', 'ksm/pages_to_scan']);

/** `label`s of the records the scenario asked for (not the per-step ones). */
const explicit = (v: TimedValue): boolean => !v.label.startsWith('after steps[');

function show(v: unknown): string {
  if (v === undefined || v === null) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function off(v: TimedValue): string {
  if (typeof v.kernel !== 'number' || typeof v.model !== 'number') return '';
  if (v.kernel === 0) return v.model === 0 ? '0 %' : 'n/a';
  return `${(((v.model - v.kernel) / Math.abs(v.kernel)) * 100).toFixed(1)} %`;
}

/**
 * ksmd's CPU over the waits in words: `ksmd's CPU over the waits: kernel 24.2
 * ms (runs 24.2 23.9 25.0), model 22.4 ms (-7.4 %)`.
 */
export function cpuWords(cpu: TimedCpu): string {
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  const k = median(cpu.kernelNs);
  const rel = k === 0 ? '' : ` (${(((cpu.modelNs - k) / k) * 100).toFixed(1)} %)`;
  return (
    `ksmd's CPU over the waits: kernel ${ms(k)} ms (runs ${cpu.kernelNs.map(ms).join(' ')}), ` +
    `model ${ms(cpu.modelNs)} ms${rel}`
  );
}

/**
 * A clock judgement in words: `model 68 ms ahead (limit 250)` where the values differ;
 * where they are equal, when the model reached the value against the kernel's median
 * (shown, not judged): `same value, reached 34 ms later`.
 */
export function clockWords(j: ClockJudgement): string {
  const lead = Math.round(j.leadMs);
  if (j.level)
    return lead === 0 ? 'same value' : `same value, reached ${Math.abs(lead)} ms ${lead > 0 ? 'earlier' : 'later'}`;
  const where = lead === 0 ? 'model level' : lead > 0 ? `model ${lead} ms ahead` : `model ${-lead} ms behind`;
  return `${where} (limit ${Math.round(j.limitMs)})`;
}

/**
 * The model at the kernel's speed in words: `at the kernel's speed (the model's CPU costs x
 * 1.476: 5,340 ns of ksmd's CPU a page scanned, kernel 5,341): within 5 %`, or the values
 * it still misses.
 */
export function atKernelSpeedWords(a: TimedAtKernelSpeed, tolerance: number): string {
  const ns = (v: number): string => Math.round(v).toLocaleString('en-US');
  const how =
    `the model's CPU costs x ${a.factor.toFixed(3)}: ${ns(a.modelNsPerPage)} ns of ksmd's CPU a page scanned, ` +
    `kernel ${ns(a.kernelNsPerPage)}` +
    (a.matched ? '' : `, not matched in ${a.rounds} runs`);
  const bad = a.values.filter((v) => !v.ok);
  const said =
    bad.length === 0
      ? `within ${(tolerance * 100).toFixed(0)} %`
      : `${bad.length} value${bad.length === 1 ? '' : 's'} beyond: ` +
        bad.map((v) => `${v.label} ${v.path} ${show(v.model)} against ${show(v.kernel)} (${off(v)})`).join(', ');
  return `at the kernel's speed (${how}): ${said}`;
}

/** One file's timed comparison as text. */
export function renderTimedDiff(file: string, d: TimedDiff, color: boolean): string {
  const c = pc.createColors(color);
  const bad = d.values.filter((v) => !v.ok);
  const tol = `${(d.tolerance.counters * 100).toFixed(0)} % (advisor's pages_to_scan ${(d.tolerance.advisor * 100).toFixed(0)} %)`;
  const verdict =
    d.error !== undefined
      ? c.yellow(`not compared: ${d.error}`)
      : bad.length > 0
        ? c.red(`${bad.length} value${bad.length === 1 ? '' : 's'} beyond ${tol}`)
        : c.green(`within ${tol} of the kernel's median`);
  const lines = [`${c.bold(d.scenario)} (${file}): ${verdict}`];
  for (const [i, r] of d.kernelRuns.entries()) {
    const q = r.clock.queuedNs / 1e6;
    lines.push(
      `  kernel run ${i + 1}: ksmd waited ${q.toFixed(1)} ms for a CPU in ${r.clock.waitedMs.toFixed(0)} ms of waits` +
        (r.clock.othersBusyMs === undefined ? '' : `, other work ${r.clock.othersBusyMs.toFixed(0)} ms of CPU`) +
        (r.disturbed ? c.yellow(' (disturbed: measured again)') : ''),
    );
  }
  if (d.ksmdCpu !== undefined) lines.push(`  ${cpuWords(d.ksmdCpu)}`);
  for (const w of d.warnings) lines.push(`  ${c.yellow('warning')}: ${w}`);
  const rows = d.values.filter((v) => (explicit(v) && SHOWN.has(v.path)) || !v.ok);
  if (rows.length > 0) {
    const table = new Table({
      head: ['record', 'value', 'kernel (median)', 'kernel runs', 'model', 'model - kernel', 'by the clock', ''],
      colAligns: ['left', 'left', 'right', 'right', 'right', 'right', 'left', 'left'],
      style: { head: c.isColorSupported ? ['cyan'] : [], border: c.isColorSupported ? ['grey'] : [] },
    });
    for (const v of rows)
      table.push([
        v.label,
        v.path,
        show(v.kernel),
        v.kernelRuns.map(show).join(' '),
        show(v.model),
        off(v),
        v.clock === undefined ? '' : clockWords(v.clock),
        v.ok ? '' : v.inKernelSpread ? c.yellow('out, within the kernel runs') : c.red('out'),
      ]);
    lines.push(...table.toString().split('\n'));
  }
  if (d.atKernelSpeed !== undefined) lines.push(`  ${atKernelSpeedWords(d.atKernelSpeed, d.tolerance.counters)}`);
  if (d.batches !== undefined) lines.push(...renderBatches(d.batches, c));
  return `${lines.join('\n')}\n`;
}

/** One file of `samepage diff --timed --json`. */
export interface TimedDiffJson {
  readonly file: string;
  readonly scenario: string;
  readonly agrees: boolean;
  readonly tolerance: TimedDiff['tolerance'];
  readonly error?: string;
  readonly kernel_runs: ReadonlyArray<{
    ksmd_queued_ms: number;
    /** The wall time of the run's waits, of milliseconds and of full scans (ksmd runs only in them). */
    timed_wait_ms: number;
    /** The rest of the machine's CPU time over the waits; null where not measured. */
    others_busy_ms: number | null;
    disturbed: boolean;
  }>;
  readonly values: ReadonlyArray<{
    label: string;
    path: string;
    kernel: unknown;
    kernel_runs: readonly unknown[];
    model: unknown;
    tolerance: number;
    ok: boolean;
    /** full_scans judged by its clock: the figures (ms of ksmd time). */
    clock?: ClockJudgement;
  }>;
  readonly warnings?: readonly string[];
  /** ksmd's batches on both sides (--batches), CPU in ns. */
  readonly batches?: TimedBatches;
  /** ksmd's CPU over the waits, ms: each undisturbed kernel run's, and the model's. */
  readonly ksmd_cpu_ms?: { readonly kernel_runs: readonly number[]; readonly model: number };
  /**
   * The model again with its CPU costs x `factor`, at the kernel runs' CPU per page scanned
   * (ns): whether it agrees then, and the values it still misses. Not the verdict.
   */
  readonly at_kernel_speed?: {
    readonly factor: number;
    readonly kernel_ns_per_page: number;
    readonly model_ns_per_page: number;
    readonly matched: boolean;
    readonly agrees: boolean;
    /** It misses, and only values that lie within the kernel runs' own spread. */
    readonly within_kernel_runs: boolean;
    readonly out: ReadonlyArray<{ label: string; path: string; kernel: unknown; model: unknown }>;
  };
}

export function timedDiffJson(file: string, d: TimedDiff): TimedDiffJson {
  return {
    file,
    scenario: d.scenario,
    agrees: d.error === undefined && d.values.every((v) => v.ok),
    tolerance: d.tolerance,
    ...(d.error === undefined ? {} : { error: d.error }),
    kernel_runs: d.kernelRuns.map((r) => ({
      ksmd_queued_ms: Math.round(r.clock.queuedNs / 1e3) / 1e3,
      timed_wait_ms: Math.round(r.clock.waitedMs),
      others_busy_ms: r.clock.othersBusyMs === undefined ? null : Math.round(r.clock.othersBusyMs),
      disturbed: r.disturbed,
    })),
    values: d.values.map((v) => ({
      label: v.label,
      path: v.path,
      kernel: v.kernel ?? null,
      kernel_runs: v.kernelRuns.map((x) => x ?? null),
      model: v.model ?? null,
      tolerance: v.tolerance,
      ok: v.ok,
      ...(v.clock === undefined ? {} : { clock: v.clock }),
    })),
    ...(d.warnings.length === 0 ? {} : { warnings: d.warnings }),
    ...(d.batches === undefined ? {} : { batches: d.batches }),
    ...(d.ksmdCpu === undefined ? {} : { ksmd_cpu_ms: ksmdCpuMs(d.ksmdCpu) }),
    ...(d.atKernelSpeed === undefined ? {} : { at_kernel_speed: atKernelSpeedJson(d.atKernelSpeed) }),
  };
}

export function atKernelSpeedJson(a: TimedAtKernelSpeed): NonNullable<TimedDiffJson['at_kernel_speed']> {
  const out = a.values.filter((v) => !v.ok);
  return {
    factor: Math.round(a.factor * 1e4) / 1e4,
    kernel_ns_per_page: Math.round(a.kernelNsPerPage),
    model_ns_per_page: Math.round(a.modelNsPerPage),
    matched: a.matched,
    agrees: out.length === 0,
    within_kernel_runs: a.withinKernelRuns,
    out: out.map((v) => ({ label: v.label, path: v.path, kernel: v.kernel ?? null, model: v.model ?? null })),
  };
}

/** CPU time in ms to the µs, as `--json` and the timing grid's files keep ksmd's. */
export function cpuMs(ns: number): number {
  return Math.round(ns / 1e3) / 1e3;
}

/** ksmd's CPU of both sides in ms (cpuMs). */
export function ksmdCpuMs(cpu: TimedCpu): NonNullable<TimedDiffJson['ksmd_cpu_ms']> {
  return { kernel_runs: cpu.kernelNs.map(cpuMs), model: cpuMs(cpu.modelNs) };
}
