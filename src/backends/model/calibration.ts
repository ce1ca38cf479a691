/**
 * The calibration the model backend runs with, as `samepage bench --calibrate` measured it
 * on the live machine (docs/cost-model.md): the cost model's constants fitted to ksmd's CPU
 * time (calibration/cost-model.json), and the timer that turns sleeps into wake-ups, HZ and
 * latencies (calibration/timer.json). So virtual ksmd time, cadence and CPU share follow the
 * machine they were measured on. The files are read when a model machine starts, so a new
 * calibration takes effect without a rebuild. SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER name
 * other files; without a file, the values shipped in the source (DEFAULT_COST,
 * DEFAULT_TIMER) are used.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package_root.ts';
import { type MachineInfo, machineInfo } from '../../host/machine.ts';
import {
  COST_KEYS,
  DEFAULT_COST,
  type CostModel,
  type FirstVisitCost,
  NO_FIRST_VISIT,
  NO_RELOAD,
  type PostSleepCost,
} from '../../ksm/cost.ts';
import { DEFAULT_TIMER, type TimerParams } from '../../sim/timer.ts';

/** Where `samepage bench --calibrate` writes, relative to the package root. */
export const CALIBRATION_FILE = 'calibration/cost-model.json';

/** `file` of this package, or the file the environment variable `override` names. */
function packageFile(file: string, override: string | undefined): string {
  return override !== undefined && override !== '' ? override : join(packageRoot(import.meta.dirname), file);
}

/** The object under `key` of a JSON calibration file; throws a message naming the file. */
function readSection(path: string, what: string, key: string): Record<string, unknown> | undefined {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`Cannot read the ${what} ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const section = (data as Record<string, unknown> | null)?.[key];
  return typeof section === 'object' && section !== null ? (section as Record<string, unknown>) : undefined;
}

/** The calibration file of this package (or of SAMEPAGE_COST_MODEL). */
export function calibrationPath(env: NodeJS.ProcessEnv = process.env): string {
  return packageFile(CALIBRATION_FILE, env.SAMEPAGE_COST_MODEL);
}

/**
 * The constants a calibration file may lack: files written before the deep-step cost
 * existed were fitted with every unstable-tree step at one cost, which is what they mean
 * with no deep-step charge. A file that has one of the two and not the other is refused.
 */
const BEFORE_DEEP_STEPS = { deepStepNs: 0, deepFrom: DEFAULT_COST.deepFrom } as const;

/**
 * The reload after a sleep (cost.ts postSleepNs), which files written before it lack: they
 * were fitted on batches after long sleeps that each carried one reload among thousands of
 * pages, and mean no reload. A file that gives some of the three and not all is refused.
 * The reload's fixed part (postSleepBatchNs, postSleepBatchTauNs) came later still: a file
 * without both has none; one with one of the two is refused.
 */
export const POST_SLEEP_KEYS = ['postSleepPageNs', 'postSleepMaxNs', 'postSleepTauNs'] as const;
export const POST_SLEEP_BATCH_KEYS = ['postSleepBatchNs', 'postSleepBatchTauNs'] as const;
/**
 * The first visits' charges (cost.ts firstVisitNs, postSleepNoTreeNs), which files written
 * before them lack: they mean none. A file with some of the three and not all is refused.
 */
export const FIRST_VISIT_KEYS = ['firstVisitNs', 'postSleepNoTreeNs', 'postSleepNoTreeTauNs'] as const;
const RELOAD_KEYS = [...POST_SLEEP_KEYS, ...POST_SLEEP_BATCH_KEYS, ...FIRST_VISIT_KEYS] as const;
/** The time constants, which divide: above 0. */
const RELOAD_TAU_KEYS = ['postSleepTauNs', 'postSleepBatchTauNs', 'postSleepNoTreeTauNs'] as const;

/** NO_RELOAD's and NO_FIRST_VISIT's values of `keys`: what a file without them means. */
function noReloadOf(keys: readonly (keyof (PostSleepCost & FirstVisitCost))[]): Partial<PostSleepCost> {
  const none = { ...NO_RELOAD, ...NO_FIRST_VISIT };
  return Object.fromEntries(keys.map((k) => [k, none[k]]));
}

/** Deepest `deepFrom` a file may give: deeper than any rb-tree of the model's frames. */
const MAX_DEEP_FROM = 64;

/** The `cost` object of a calibration file, checked; throws a message naming what is wrong. */
export function readCostModel(path: string): CostModel {
  const cost = readSection(path, 'cost model', 'cost');
  const old = cost !== undefined && !('deepStepNs' in cost) && !('deepFrom' in cost);
  const noReload = cost !== undefined && POST_SLEEP_KEYS.every((k) => !(k in cost));
  const noFixed = cost !== undefined && POST_SLEEP_BATCH_KEYS.every((k) => !(k in cost));
  const noFirst = cost !== undefined && FIRST_VISIT_KEYS.every((k) => !(k in cost));
  const given: Record<string, unknown> | undefined =
    cost === undefined
      ? cost
      : {
          ...cost,
          ...(old ? BEFORE_DEEP_STEPS : {}),
          ...(noReload ? noReloadOf(POST_SLEEP_KEYS) : {}),
          ...(noFixed ? noReloadOf(POST_SLEEP_BATCH_KEYS) : {}),
          ...(noFirst ? noReloadOf(FIRST_VISIT_KEYS) : {}),
        };
  const bad: string[] = [...COST_KEYS, ...RELOAD_KEYS].filter(
    (k) => typeof given?.[k] !== 'number' || !Number.isFinite(given[k]) || given[k] < 0,
  );
  const deepFrom = given?.deepFrom;
  if (typeof deepFrom !== 'number' || !Number.isInteger(deepFrom) || deepFrom < 0 || deepFrom > MAX_DEEP_FROM)
    bad.push('deepFrom');
  for (const tau of RELOAD_TAU_KEYS) if (!(typeof given?.[tau] === 'number' && given[tau] > 0)) bad.push(tau);
  if (given === undefined || bad.length > 0) {
    throw new Error(
      `The cost model ${path} has no valid "cost" object: ${[...new Set(bad)].join(', ')} must be non-negative numbers ` +
        `(ns; postSleepTauNs, postSleepBatchTauNs and postSleepNoTreeTauNs above 0; deepFrom a whole number of tree levels, 0 to ${MAX_DEEP_FROM}; a file without ` +
        'both deepStepNs and deepFrom is read as one from before the deep-step cost, with deepStepNs 0, and one ' +
        'without all three post-sleep fields as one from before the reload after a sleep, with no reload; one ' +
        'without both postSleepBatchNs and postSleepBatchTauNs has no fixed part of the reload, and one without ' +
        'all of firstVisitNs, postSleepNoTreeNs and postSleepNoTreeTauNs no first-visit charges)',
    );
  }
  const out: Record<string, number> = { deepFrom: deepFrom as number };
  for (const k of [...COST_KEYS, ...RELOAD_KEYS]) out[k] = given[k] as number;
  return out as unknown as CostModel;
}

/** The calibrated cost model if its file exists, else the one shipped in the source. */
export function calibratedCost(env: NodeJS.ProcessEnv = process.env): CostModel {
  const path = calibrationPath(env);
  return existsSync(path) ? readCostModel(path) : DEFAULT_COST;
}

/** Where `samepage bench --calibrate` writes the timer, relative to the package root. */
export const TIMER_FILE = 'calibration/timer.json';

/** The timer file of this package (or of SAMEPAGE_TIMER). */
export function timerPath(env: NodeJS.ProcessEnv = process.env): string {
  return packageFile(TIMER_FILE, env.SAMEPAGE_TIMER);
}

/** The `timer` object of a timer file, checked; throws a message naming what is wrong. */
export function readTimerParams(path: string): TimerParams {
  const t = readSection(path, 'timer calibration', 'timer');
  const problems: string[] = [];
  const hz = t?.hz;
  if (typeof hz !== 'number' || !Number.isInteger(hz) || hz < 24 || hz > 10_000) {
    problems.push('hz must be a whole number of ticks per second (CONFIG_HZ, 24 to 10000)');
  }
  // Files from before the tick's own latency was traced hold only the kick's, which the
  // model then used for both.
  const tickGiven = t?.timerWakeLatencyNs !== undefined;
  for (const k of [
    'wakeupLatencyNs',
    'workFlushNs',
    ...(tickGiven ? (['timerWakeLatencyNs'] as const) : []),
  ] as const) {
    const v = t?.[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e9) problems.push(`${k} must be 0 to 1e9 ns`);
  }
  const tick = tickGiven ? t?.timerWakeLatencyNs : t?.wakeupLatencyNs;
  if (problems.length > 0)
    throw new Error(`The timer calibration ${path} has no valid "timer" object: ${problems.join('; ')}`);
  return {
    hz: hz as number,
    wakeupLatencyNs: t?.wakeupLatencyNs as number,
    timerWakeLatencyNs: tick as number,
    workFlushNs: t?.workFlushNs as number,
  };
}

/** The calibrated timer if its file exists, else the one shipped in the source. */
export function calibratedTimer(env: NodeJS.ProcessEnv = process.env): TimerParams {
  const path = timerPath(env);
  return existsSync(path) ? readTimerParams(path) : DEFAULT_TIMER;
}

/** What of a machine decides ksmd's speed and wake-ups: a calibration holds for these. */
type CalibratedOn = Pick<MachineInfo, 'cpu_model' | 'cpus'>;

function describe(m: CalibratedOn): string {
  return `${m.cpu_model} (${m.cpus} CPUs)`;
}

/**
 * Why the cost model in use (calibrationPath) is not `live`'s (default: this machine's), or
 * undefined where it is or cannot say (no file, or a file without its machine: the constants shipped in the source).
 * A calibration measures one host's ksmd: on another CPU its constants are that host's
 * (on 2026-12-04 an AMD EPYC guest's ksmd used 1.15 to 1.84 times the CPU per page of the
 * Intel Xeon guest's of the calibration shipped, workload by workload; docs/cost-model.md,
 * "Another host").
 */
export function foreignCalibration(
  live: CalibratedOn = machineInfo(),
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const path = calibrationPath(env);
  if (!existsSync(path)) return undefined;
  const m = readSection(path, 'cost model', 'machine');
  if (typeof m?.cpu_model !== 'string' || typeof m.cpus !== 'number') return undefined;
  const on: CalibratedOn = { cpu_model: m.cpu_model, cpus: m.cpus };
  if (on.cpu_model === live.cpu_model && on.cpus === live.cpus) return undefined;
  return (
    `the model's cost model (${path}) was calibrated on ${describe(on)}, this machine is ${describe(live)}: ` +
    "the model's clock (ksmd's CPU per page, hence its pages a second and CPU share) is the other machine's; " +
    '`sudo samepage bench --calibrate` measures this one'
  );
}
