/**
 * The differential method: a scenario runs on the live kernel and then on the model, and
 * every counter on which they disagree is a difference. The kernel is the reference: with
 * `pages_to_scan` covering every mergeable page, each batch of ksmd is one full scan and the
 * counters at full-scan boundaries are exact, so the model must match them exactly
 * (scenario/exact.ts says which scenarios are exact here): every file of /sys/kernel/mm/ksm,
 * knobs included, and every process's counters, after every step. Scenarios that wait in
 * milliseconds with ksmd running are compared within a tolerance instead (timed.ts).
 *
 * A merge on the live kernel can still fail for one pass for reasons no scenario controls (a
 * folio lock another task holds, a transient extra reference, on which mm/ksm.c's
 * try_to_merge_one_page and write_protect_page give up for the pass; the kernel backend holds
 * ksmd on one CPU against the commonest, per-CPU LRU batches), or ksmd can run a pass past a
 * boundary on a busy machine. diffAttempts measures a file
 * that disagrees again, up to N kernel runs in all: it agrees when one run agrees exactly,
 * and the runs that did not are kept. A model error disagrees on every run.
 *
 * `samepage diff` (cli/diff.ts) and the differential suite (test/differential.test.ts) run
 * it; report/diff.ts shows its results.
 */
import { createKernelBackend } from '../backends/kernel/index.ts';
import { createModelBackend } from '../backends/model/index.ts';
import { findKsmUsers } from '../host/ksm_stat.ts';
import { liveNumaNodes } from '../host/machine.ts';
import { compareRuns, type RecordDiff } from '../scenario/compare.ts';
import { whyNotExact } from '../scenario/exact.ts';
import type { RunResult } from '../scenario/records.ts';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';

/** How long a diff waits for another samepage kernel run to release KSM: 10 minutes. */
export const DIFF_LOCK_WAIT_MS = 600_000;

export interface DiffOptions {
  /** Seed of the model backend; default 0. */
  readonly seed?: number;
  /** How long to wait for another samepage kernel run; default DIFF_LOCK_WAIT_MS. */
  readonly lockWaitMs?: number;
  /** Notes of the kernel backend (a wait overshot its boundary...); collected regardless. */
  readonly onWarning?: (message: string) => void;
}

/** How a warning that other processes used KSM right after the kernel run begins. */
export const INTERFERENCE = 'Other processes used KSM when the kernel run ended';

/** One scenario run on both backends. */
export interface ScenarioDiff {
  readonly scenario: string;
  readonly differences: readonly RecordDiff[];
  readonly kernelOk: boolean;
  readonly modelOk: boolean;
  /** Why a run stopped early, when it did. */
  readonly kernelError?: string;
  readonly modelError?: string;
  /** The kernel backend's warnings during the run. */
  readonly warnings: readonly string[];
  readonly kernel: RunResult;
  readonly model: RunResult;
  /** Under --attempts: the earlier runs of this scenario, each of which disagreed. */
  readonly earlier?: readonly ScenarioDiff[];
}

/** Whether the two runs agree: no value differs and neither run stopped early. */
export function agrees(d: ScenarioDiff): boolean {
  return d.differences.length === 0 && d.kernelError === undefined && d.modelError === undefined;
}

/**
 * Up to `attempts` runs of `runner`, stopping at the first that agrees: that run (or the
 * last), with the disagreeing runs before it as `earlier`.
 */
export async function diffAttempts(
  runner: DiffRunner,
  scenario: Scenario,
  attempts: number,
  opts: DiffOptions = {},
): Promise<ScenarioDiff> {
  const earlier: ScenarioDiff[] = [];
  for (;;) {
    const d = await runner(scenario, opts);
    if (agrees(d) || earlier.length + 1 >= attempts) return earlier.length === 0 ? d : { ...d, earlier };
    earlier.push(d);
  }
}

/**
 * Runs `scenario` on the kernel backend, then on the model, and compares them. Throws the
 * kernel backend's BackendUnavailable when it cannot run here.
 */
export async function diffScenario(scenario: Scenario, opts: DiffOptions = {}): Promise<ScenarioDiff> {
  const warnings: string[] = [];
  const inexact = whyNotExact(scenario, liveNumaNodes() ?? 1);
  if (inexact !== undefined) {
    warnings.push(`The scenario's figures are not exact under the contract (${inexact}), so differences are expected`);
  }
  const kernelBackend = diffKernelBackend(opts, warnings);
  // Every KSM file, knobs included, and every process after every step, on both sides.
  const kernel = await runScenario(scenario, kernelBackend, { recordEveryStep: true });
  // The backend refuses to start beside other KSM users, but one that appears during the run
  // puts its own pages into the global counters; say so when one is there afterwards.
  const others = findKsmUsers(new Set([process.pid]));
  if (others.length > 0) {
    warnings.push(
      `${INTERFERENCE}: ${others.map((u) => `${u.pid} ${u.comm}`).join(', ')}; the kernel's global counters may include their pages`,
    );
  }
  // The one input the model cannot know: ksmd's CPU time before the run, which the
  // scan-time advisor's first step reads.
  const ksmdRuntimeNs = kernelBackend.ksmdClock().runtimeAtStartNs;
  const model = await runScenario(
    scenario,
    createModelBackend({
      seed: opts.seed ?? 0,
      ...(ksmdRuntimeNs === undefined ? {} : { ksmdRuntimeNs }),
      ...liveReadFaults(kernelBackend.mmForbidsZeropage()),
    }),
    { recordEveryStep: true },
  );
  return scenarioDiffOf(kernel, model, warnings);
}

/**
 * The model of a comparison faults as the live kernel does: where the scenario leaves
 * machine.mm_forbids_zeropage out, it takes the kernel's (`live`, undefined where no agent
 * could tell). Where the scenario names the other, the kernel backend has said so.
 */
export function liveReadFaults(live: boolean | undefined): { mmForbidsZeropage?: boolean } {
  return live === undefined ? {} : { mmForbidsZeropage: live };
}

/**
 * A kernel backend for a comparison: its warnings go to `warnings` and to opts.onWarning;
 * `traceScans` for a timed one (scenario/scan_trace.ts).
 */
export function diffKernelBackend(
  opts: Pick<DiffOptions, 'lockWaitMs' | 'onWarning'>,
  warnings: string[],
  traceScans = false,
): ReturnType<typeof createKernelBackend> {
  return createKernelBackend({
    lockWaitMs: opts.lockWaitMs ?? DIFF_LOCK_WAIT_MS,
    traceScans,
    onWarning: (message) => {
      warnings.push(message);
      opts.onWarning?.(message);
    },
  });
}

/** Two finished runs of one scenario, compared. */
export function scenarioDiffOf(kernel: RunResult, model: RunResult, warnings: readonly string[]): ScenarioDiff {
  return {
    scenario: kernel.scenario,
    differences: compareRuns(kernel, model),
    kernelOk: kernel.ok,
    modelOk: model.ok,
    warnings,
    kernel,
    model,
    ...(kernel.error === undefined ? {} : { kernelError: kernel.error }),
    ...(model.error === undefined ? {} : { modelError: model.error }),
  };
}

/** How a scenario is run on both backends; diffScenario by default, tests pass their own. */
export type DiffRunner = (scenario: Scenario, opts: DiffOptions) => Promise<ScenarioDiff>;
