/**
 * The duplicate-page statistics (the thesis's parser module) of the processes a scenario
 * leaves running on the model: `samepage stats FILE.yaml`, and `samepage run --report`'s
 * histogram.
 */
import { kernelComm, selectComms } from '../../lib/comm.ts';
import type { RunResult } from '../../scenario/records.ts';
import { runScenario } from '../../scenario/run.ts';
import type { Scenario } from '../../scenario/types.ts';
import { DuplicateStatistics } from '../../stats/duplicate_statistics.ts';
import { modelTaskPages } from '../../sysfs/parser_sysfs.ts';
import { createModelBackend, type ModelBackend } from './index.ts';

/**
 * Counts the live tasks of a model backend (those of the comms `procs` names, cut as the
 * kernel cuts a comm, when given); `warn` hears of a named comm no task has.
 */
export function liveTaskStatistics(
  backend: ModelBackend,
  procs?: readonly string[],
  warn: (message: string) => void = () => undefined,
): DuplicateStatistics {
  const mmgr = backend.system().mmgr;
  let tasks = mmgr.liveTasks();
  if (procs !== undefined) {
    const wanted = selectComms(
      procs,
      tasks.map((t) => t.comm),
      'the scenario at its end',
      warn,
    );
    tasks = tasks.filter((t) => wanted.has(kernelComm(t.comm)));
  }
  const stats = new DuplicateStatistics();
  stats.addAll(modelTaskPages(mmgr, tasks));
  return stats;
}

/** Runs `scenario` on the model, then counts what its processes (or those of `procs`) hold. */
export async function scenarioStatistics(
  scenario: Scenario,
  opts: { readonly seed: number; readonly procs?: readonly string[] | undefined; readonly samples?: boolean },
  warn: (message: string) => void,
): Promise<{ stats: DuplicateStatistics; run: RunResult }> {
  const backend = createModelBackend({ seed: opts.seed, samples: opts.samples === true });
  const run = await runScenario(scenario, backend, {});
  if (run.error !== undefined) warn(`the scenario stopped early: ${run.error}; counting what it left`);
  return { stats: liveTaskStatistics(backend, opts.procs, warn), run };
}
