/**
 * A scenario run on the backend the user named (`samepage run` and `demo`): the model on
 * virtual time, or the live kernel (root). For an HTML report the backend samples the
 * counters for charts as the run goes, and on the model the duplicate pages the processes
 * hold at the end are counted.
 */
import type { RunResult } from '../scenario/records.ts';
import { type RunOptions, runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/types.ts';
import type { StatisticsResult } from '../stats/duplicate_statistics.ts';
import { createKernelBackend } from './kernel/index.ts';
import { createModelBackend } from './model/index.ts';
import { liveTaskStatistics } from './model/statistics.ts';

export const BACKEND_NAMES = ['model', 'kernel'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface RunOnOptions extends RunOptions {
  readonly seed: number;
  /** Sample the counters for charts, and count the model's duplicate pages at the end. */
  readonly report: boolean;
  /** Told what the kernel backend could not do as asked (it carries on). */
  readonly onWarning: (message: string) => void;
}

/** Runs `scenario` on `backend`; the kernel backend's BackendUnavailable says why it cannot run here. */
export async function runOn(
  backend: BackendName,
  scenario: Scenario,
  opts: RunOnOptions,
): Promise<{ result: RunResult; statistics?: StatisticsResult }> {
  const { seed, report, onWarning, ...run } = opts;
  if (backend === 'kernel')
    return { result: await runScenario(scenario, createKernelBackend({ onWarning, samples: report }), run) };
  const model = createModelBackend({ seed, samples: report });
  const result = await runScenario(scenario, model, run);
  return report ? { result, statistics: liveTaskStatistics(model).result({}) } : { result };
}
