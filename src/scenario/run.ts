/**
 * Runs a checked scenario against a backend, step by step, and collects what the contract
 * reports (docs/scenario-format.md): records, and a result for every check. Checks are the
 * paths of `expect` steps, the digest of `read` steps and the outcome of `sysfs` writes; a
 * failed check does not stop the run, while a wait that can never finish or a step the
 * backend refuses (StepError) does. The backend is stopped whatever happens.
 */
import { StepError } from './backend.ts';
import type { Backend } from './backend.ts';
import { describeReturn, errnoNumber } from '../lib/errno.ts';
import { expectationHolds, normalizeActual } from './expect.ts';
import type { CallResult, CounterRecord, ExpectResult, RunResult, Samples } from './records.ts';
import type { Scenario, Step, StepKind, WaitUnit } from './types.ts';

/** Progress of a run, for a progress bar: each step as it starts, and each wait's span. */
export type RunProgress =
  | { readonly kind: 'step'; readonly index: number; readonly total: number; readonly step: StepKind }
  | {
      readonly kind: 'wait';
      readonly done: number;
      readonly target: number;
      readonly unit: WaitUnit;
      /** Virtual (model) or elapsed (kernel) milliseconds the wait has taken so far. */
      readonly elapsedMs: number;
    };

export interface RunOptions {
  /** Told each step and a wait's progress; a promise it returns is awaited (see Backend.wait). */
  readonly onProgress?: (event: RunProgress) => Promise<void> | void;
  /** Awaited at the start of each step, before it runs (a test pauses a run here). */
  readonly beforeStep?: (index: number, step: Step) => Promise<void>;
  /**
   * Also record every file of /sys/kernel/mm/ksm (knobs included) and every process after
   * each step, labelled `after steps[i] KIND` (the differential method compares them all).
   */
  readonly recordEveryStep?: boolean;
}

/** The label of the record recordEveryStep takes after step `index`. */
export function stepRecordLabel(index: number, step: Step): string {
  return `after steps[${index}] ${step.kind}`;
}

/** What one step asks of the run: go on, or stop with a reason. */
export type StepOutcome = { readonly stop: false } | { readonly stop: true; readonly reason: string };

const GO_ON: StepOutcome = { stop: false };

/**
 * Executes every step in order. Resolves to the run's result, `ok` when every check held and
 * nothing stopped the run. Errors other than StepError (a broken invariant, an unusable
 * backend) propagate after the backend is stopped.
 */
export async function runScenario(scenario: Scenario, backend: Backend, opts: RunOptions = {}): Promise<RunResult> {
  const records: CounterRecord[] = [];
  const expects: ExpectResult[] = [];
  const calls: CallResult[] = [];
  let error: string | undefined;
  let samples: Samples | undefined;
  /** The step being run; -1 while the backend starts (and writes the `ksm:` values). */
  let current = -1;
  const where = (index: number): string => {
    const step = scenario.steps[index];
    if (step === undefined) return 'start';
    const line = scenario.stepLines[index];
    return `steps[${index}].${step.kind}${line === undefined ? '' : ` (line ${line})`}`;
  };

  try {
    await backend.start(scenario);
    for (const [index, step] of scenario.steps.entries()) {
      current = index;
      await opts.onProgress?.({ kind: 'step', index, total: scenario.steps.length, step: step.kind });
      await opts.beforeStep?.(index, step);
      const outcome = await runStep(step, index, backend, { records, expects, calls }, opts);
      if (outcome.stop) {
        error = `${where(index)}: ${outcome.reason}`;
        break;
      }
      if (opts.recordEveryStep === true) records.push(await backend.record(stepRecordLabel(index, step)));
    }
  } catch (e) {
    if (!(e instanceof StepError)) throw e;
    // A refused step is reported like a failed check, so it shows in --json and tables too.
    const path = current < 0 ? 'start' : `steps[${current}].${scenario.steps[current]?.kind ?? 'step'}`;
    expects.push({ step: current, path, expected: 'success', actual: e.message, ok: false });
    error = `${where(current)}: ${e.message}`;
  } finally {
    // The closing sample shows the steps after the last wait; the kernel's processes go at stop.
    samples = await backend.samples?.();
    await backend.stop();
  }

  const ok = error === undefined && expects.every((e) => e.ok);
  const result: RunResult = {
    scenario: scenario.name,
    backend: backend.name,
    ok,
    records,
    expects,
    calls,
    ...(samples === undefined ? {} : { samples }),
  };
  return error === undefined ? result : { ...result, error };
}

export interface Collected {
  readonly records: CounterRecord[];
  readonly expects: ExpectResult[];
  readonly calls: CallResult[];
}

/**
 * Keeps a call's return value and, when the step says what it `returns`, checks it: a
 * number as is, an errno name against -errno (an alias matches its canonical name).
 */
function recordCall(out: Collected, call: CallResult, returns: number | string | undefined): void {
  out.calls.push(call);
  if (returns === undefined) return;
  const ok =
    typeof returns === 'number' ? call.result === returns : call.result < 0 && -call.result === errnoNumber(returns);
  const actual = call.result >= 0 ? call.result : describeReturn(call.result);
  out.expects.push({ step: call.step, path: `steps[${call.step}].${call.call}`, expected: returns, actual, ok });
}

/** Runs one step against a backend (used by runScenario, and by the shell one line at a time). */
export async function runStep(
  step: Step,
  index: number,
  backend: Backend,
  out: Collected,
  opts: RunOptions,
): Promise<StepOutcome> {
  switch (step.kind) {
    case 'spawn':
      await backend.spawn(step.proc, step.comm);
      return GO_ON;
    case 'mmap':
      await backend.mmap(step.proc, step.region, step.size, step.shared, step.node);
      return GO_ON;
    case 'fill':
      await backend.fill(step.proc, step.region, step.pattern, step.offset, step.size);
      return GO_ON;
    case 'write':
      await backend.write(step.proc, step.region, step.offset, step.bytes);
      return GO_ON;
    case 'read': {
      // The backend hashes what it read; comparing digests keeps both backends byte-exact.
      const digest = (await backend.readSha256(step.proc, step.region, step.offset, step.size)).toLowerCase();
      out.expects.push({
        step: index,
        path: `steps[${index}].read.sha256`,
        expected: step.sha256,
        actual: digest,
        ok: digest === step.sha256,
      });
      return GO_ON;
    }
    case 'madvise': {
      const result = await backend.madvise(step.proc, step.region, step.advice, step.offset, step.size);
      recordCall(out, { step: index, call: 'madvise', proc: step.proc, result }, step.returns);
      return GO_ON;
    }
    case 'prctl': {
      const result = await backend.prctl(step.proc, step.option, step.arg);
      recordCall(out, { step: index, call: 'prctl', proc: step.proc, result }, step.returns);
      return GO_ON;
    }
    case 'fork':
      await backend.fork(step.proc, step.child);
      return GO_ON;
    case 'exec':
      await backend.exec(step.proc, step.comm);
      return GO_ON;
    case 'munmap':
      await backend.munmap(step.proc, step.region);
      return GO_ON;
    case 'exit':
      await backend.exit(step.proc);
      return GO_ON;
    case 'sysfs': {
      const result = await backend.sysfsWrite(step.path, step.value);
      const actual = describeReturn(result);
      const path = `steps[${index}].sysfs`;
      if (step.errno !== undefined) {
        // Compared by number, so an alias (EWOULDBLOCK) matches its canonical name (EAGAIN).
        const ok = result < 0 && -result === errnoNumber(step.errno);
        out.expects.push({ step: index, path, expected: step.errno, actual, ok });
      } else if (result < 0) {
        // A write expected to succeed is only reported when it did not.
        out.expects.push({ step: index, path, expected: 'success', actual, ok: false });
      }
      return GO_ON;
    }
    case 'wait': {
      const { unit, count: target } = step;
      const progress = opts.onProgress;
      await progress?.({ kind: 'wait', done: 0, target, unit, elapsedMs: 0 });
      const reason = await backend.wait(
        unit,
        target,
        progress === undefined ? undefined : (p) => progress({ kind: 'wait', target, unit, ...p }),
      );
      if (reason !== undefined) {
        out.expects.push({
          step: index,
          path: `steps[${index}].wait`,
          expected: `${unit}: ${target}`,
          actual: reason,
          ok: false,
        });
        return { stop: true, reason };
      }
      return GO_ON;
    }
    case 'expect':
      for (const check of step.checks) {
        const raw = await backend.readPath(check.path);
        const ok = expectationHolds(check.expected, raw);
        out.expects.push({ step: index, path: check.path, expected: check.expected, actual: normalizeActual(raw), ok });
      }
      return GO_ON;
    case 'record':
      out.records.push(await backend.record(step.label));
      return GO_ON;
  }
}
