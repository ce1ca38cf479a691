/**
 * The calibration the model backend runs with, as `samepage bench --calibrate` measured it
 * on a live machine (docs/cost-model.md): the cost model's constants fitted to ksmd's CPU
 * time (cost-model.json), and the timer that turns sleeps into wake-ups, HZ and latencies
 * (timer.json). So virtual ksmd time, cadence and CPU share follow the machine they were
 * measured on.
 *
 * The two files make a set. The package ships a default set (calibration/) and sets of
 * other hosts (calibration/hosts/NAME/), each naming the machine it was measured on; the
 * model reads the set measured on this machine's CPU model and CPU count, else the default
 * (calibrationSet). SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER name other files. The files are
 * read when a model machine starts, so a new calibration takes effect without a rebuild;
 * without a file, the values shipped in the source (DEFAULT_COST, DEFAULT_TIMER) are used.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package_root.ts';
import { cpuIdentity, type MachineInfo } from '../../host/machine.ts';
import {
  AT_FIRST_SEARCH,
  COST_KEYS,
  DEFAULT_COST,
  type CostModel,
  type FirstVisitCost,
  NO_FIRST_VISIT,
  NO_RELOAD,
  FLAT_RELOAD,
  type ReloadTreeCost,
  type PostSleepCost,
  type SearchPartCost,
} from '../../ksm/cost.ts';
import { DEFAULT_TIMER, type TimerParams } from '../../sim/timer.ts';

/** The default set's cost model, relative to the package root. */
export const CALIBRATION_FILE = 'calibration/cost-model.json';
/** The default set's timer, relative to the package root. */
export const TIMER_FILE = 'calibration/timer.json';
/** Where the sets of other hosts are, one directory each, relative to the package root. */
export const HOSTS_DIR = 'calibration/hosts';

/** What of a machine decides ksmd's speed and wake-ups: a calibration holds for these. */
export type CalibratedOn = Pick<MachineInfo, 'cpu_model' | 'cpus'>;

/** One calibration: its two files, measured together. */
export interface CalibrationSet {
  readonly costPath: string;
  readonly timerPath: string;
  /** The machine the cost model names (undefined: a file without one, or no file). */
  readonly machine: CalibratedOn | undefined;
  /** The host set's directory name; undefined for the default set or files the environment names. */
  readonly host?: string;
}

/** A host set's directory name for `m`: its CPU model in lower case, words joined by "-", and its CPUs. */
export function hostSetName(m: CalibratedOn): string {
  const model = m.cpu_model
    .toLowerCase()
    .replace(/\((r|tm)\)/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `${model || 'cpu'}-${m.cpus}cpu`;
}

function sameMachine(a: CalibratedOn | undefined, b: CalibratedOn): boolean {
  return a !== undefined && a.cpu_model === b.cpu_model && a.cpus === b.cpus;
}

/** The machine a cost-model file names, or undefined (no file, none named, or unreadable). */
function machineOf(path: string): CalibratedOn | undefined {
  if (!existsSync(path)) return undefined;
  let m: unknown;
  try {
    m = (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> | null)?.machine;
  } catch {
    return undefined; // readCostModel names the damage when the set is read
  }
  const o = m as Record<string, unknown> | undefined;
  return typeof o?.cpu_model === 'string' && typeof o.cpus === 'number'
    ? { cpu_model: o.cpu_model, cpus: o.cpus }
    : undefined;
}

/** The host set `host` of the package at `root` (its files need not exist yet). */
function hostSet(root: string, host: string): CalibrationSet {
  const costPath = join(root, HOSTS_DIR, host, 'cost-model.json');
  return { costPath, timerPath: join(root, HOSTS_DIR, host, 'timer.json'), machine: machineOf(costPath), host };
}

/** The host sets the package holds, in name order. */
export function hostSets(root = packageRoot(import.meta.dirname)): CalibrationSet[] {
  const dir = join(root, HOSTS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((host) => hostSet(root, host));
}

/**
 * `base` with the files SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER name in place of its own
 * (an empty variable names none); `base` itself where they name neither.
 */
function withEnvFiles(base: CalibrationSet, env: NodeJS.ProcessEnv): CalibrationSet {
  const cost = env.SAMEPAGE_COST_MODEL || undefined;
  const timer = env.SAMEPAGE_TIMER || undefined;
  if (cost === undefined && timer === undefined) return base;
  const costPath = cost ?? base.costPath;
  return { costPath, timerPath: timer ?? base.timerPath, machine: machineOf(costPath) };
}

/**
 * The set the model reads on `live` (default: this machine): the host set measured on its CPU
 * model and CPU count, else the default set; SAMEPAGE_COST_MODEL and SAMEPAGE_TIMER replace
 * either file. `live` null takes the default set whatever the machine (tests of the
 * shipped default).
 */
export function calibrationSet(
  env: NodeJS.ProcessEnv = process.env,
  live: CalibratedOn | null = cpuIdentity(),
  root = packageRoot(import.meta.dirname),
): CalibrationSet {
  const costDefault = join(root, CALIBRATION_FILE);
  const own = live === null ? undefined : hostSets(root).find((s) => sameMachine(s.machine, live));
  const base = own ?? { costPath: costDefault, timerPath: join(root, TIMER_FILE), machine: machineOf(costDefault) };
  return withEnvFiles(base, env);
}

/**
 * Where `samepage bench --calibrate` writes on `live`: each file the environment names, else
 * that file of this machine's set: the set the model reads here where it was measured on
 * this machine, else a new host set named by hostSetName. Never another machine's set.
 */
export function calibrationTarget(
  env: NodeJS.ProcessEnv = process.env,
  live: CalibratedOn = cpuIdentity(),
  root = packageRoot(import.meta.dirname),
): CalibrationSet {
  const inUse = calibrationSet({}, live, root);
  const own = sameMachine(inUse.machine, live) ? inUse : { ...hostSet(root, hostSetName(live)), machine: live };
  return withEnvFiles(own, env);
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

/** The cost-model file the model reads (calibrationSet; `live` null: the default set's). */
export function calibrationPath(
  env: NodeJS.ProcessEnv = process.env,
  live: CalibratedOn | null = cpuIdentity(),
): string {
  return calibrationSet(env, live).costPath;
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
/**
 * How the reload follows the trees' size (cost.ts reloadTreeShare), which files written
 * before it lack: their reload was fitted as the same on trees of any size, and means that
 * (FLAT_RELOAD). A file with one of the two and not the other is refused.
 */
export const POST_SLEEP_TREE_KEYS = ['postSleepTreeExp', 'postSleepTreeNodes'] as const;
/**
 * The part of the tree reload paid per search (cost.ts searchReloadShare), which files
 * written before it lack: they mean all of it at the first search (AT_FIRST_SEARCH).
 */
export const POST_SLEEP_SEARCH_KEYS = ['postSleepSearchPart'] as const;
const RELOAD_KEYS = [
  ...POST_SLEEP_KEYS,
  ...POST_SLEEP_BATCH_KEYS,
  ...POST_SLEEP_TREE_KEYS,
  ...POST_SLEEP_SEARCH_KEYS,
  ...FIRST_VISIT_KEYS,
] as const;
/** The time constants and the trees' size, which divide: above 0. */
const RELOAD_POSITIVE_KEYS = [
  'postSleepTauNs',
  'postSleepBatchTauNs',
  'postSleepNoTreeTauNs',
  'postSleepTreeNodes',
] as const;

/** NO_RELOAD's, FLAT_RELOAD's, AT_FIRST_SEARCH's and NO_FIRST_VISIT's values of `keys`: what a file without them means. */
function noReloadOf(
  keys: readonly (keyof (PostSleepCost & ReloadTreeCost & SearchPartCost & FirstVisitCost))[],
): Partial<PostSleepCost & ReloadTreeCost & SearchPartCost> {
  const none = { ...NO_RELOAD, ...FLAT_RELOAD, ...AT_FIRST_SEARCH, ...NO_FIRST_VISIT };
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
  const flat = cost !== undefined && POST_SLEEP_TREE_KEYS.every((k) => !(k in cost));
  const atFirst = cost !== undefined && POST_SLEEP_SEARCH_KEYS.every((k) => !(k in cost));
  const given: Record<string, unknown> | undefined =
    cost === undefined
      ? cost
      : {
          ...cost,
          ...(old ? BEFORE_DEEP_STEPS : {}),
          ...(noReload ? noReloadOf(POST_SLEEP_KEYS) : {}),
          ...(noFixed ? noReloadOf(POST_SLEEP_BATCH_KEYS) : {}),
          ...(noFirst ? noReloadOf(FIRST_VISIT_KEYS) : {}),
          ...(flat ? noReloadOf(POST_SLEEP_TREE_KEYS) : {}),
          ...(atFirst ? noReloadOf(POST_SLEEP_SEARCH_KEYS) : {}),
        };
  const bad: string[] = [...COST_KEYS, ...RELOAD_KEYS].filter(
    (k) => typeof given?.[k] !== 'number' || !Number.isFinite(given[k]) || given[k] < 0,
  );
  const deepFrom = given?.deepFrom;
  if (typeof deepFrom !== 'number' || !Number.isInteger(deepFrom) || deepFrom < 0 || deepFrom > MAX_DEEP_FROM)
    bad.push('deepFrom');
  for (const tau of RELOAD_POSITIVE_KEYS) if (!(typeof given?.[tau] === 'number' && given[tau] > 0)) bad.push(tau);
  const part = given?.postSleepSearchPart;
  if (typeof part === 'number' && part > 1) bad.push('postSleepSearchPart');
  if (given === undefined || bad.length > 0) {
    throw new Error(
      `The cost model ${path} has no valid "cost" object: ${[...new Set(bad)].join(', ')} must be non-negative numbers ` +
        `(ns; postSleepTauNs, postSleepBatchTauNs, postSleepNoTreeTauNs and postSleepTreeNodes above 0; postSleepTreeExp a plain number; postSleepSearchPart a fraction, 0 to 1; deepFrom a whole number of tree levels, 0 to ${MAX_DEEP_FROM}; a file without ` +
        'both deepStepNs and deepFrom is read as one from before the deep-step cost, with deepStepNs 0, and one ' +
        'without all three post-sleep fields as one from before the reload after a sleep, with no reload; one ' +
        'without both postSleepBatchNs and postSleepBatchTauNs has no fixed part of the reload, and one without ' +
        'all of firstVisitNs, postSleepNoTreeNs and postSleepNoTreeTauNs no first-visit charges; one without both ' +
        "postSleepTreeExp and postSleepTreeNodes a reload that does not follow the trees' size, and one without " +
        'postSleepSearchPart a tree reload paid whole at the first search)',
    );
  }
  const out: Record<string, number> = { deepFrom: deepFrom as number };
  for (const k of [...COST_KEYS, ...RELOAD_KEYS]) out[k] = given[k] as number;
  return out as unknown as CostModel;
}

/** The cost model of `set` (default: the one the model reads here) if its file exists, else the one shipped in the source. */
export function calibratedCost(set: CalibrationSet = calibrationSet()): CostModel {
  return existsSync(set.costPath) ? readCostModel(set.costPath) : DEFAULT_COST;
}

/** The timer file the model reads (calibrationSet; `live` null: the default set's). */
export function timerPath(env: NodeJS.ProcessEnv = process.env, live: CalibratedOn | null = cpuIdentity()): string {
  return calibrationSet(env, live).timerPath;
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

/** The timer of `set` (default: the one the model reads here) if its file exists, else the one shipped in the source. */
export function calibratedTimer(set: CalibrationSet = calibrationSet()): TimerParams {
  return existsSync(set.timerPath) ? readTimerParams(set.timerPath) : DEFAULT_TIMER;
}

function describe(m: CalibratedOn): string {
  return `${m.cpu_model} (${m.cpus} CPUs)`;
}

/** What a result says of the calibration its times came from (predict's --json `calibration`). */
export interface CalibrationUsed {
  /** The host set's name; absent for the default set or files the environment named. */
  readonly host?: string;
  readonly cost_model: string;
  readonly timer: string;
  /** The CPU the cost model was measured on, where it says. */
  readonly measured_on?: string;
}

export function calibrationUsed(set: CalibrationSet = calibrationSet()): CalibrationUsed {
  return {
    ...(set.host === undefined ? {} : { host: set.host }),
    cost_model: set.costPath,
    timer: set.timerPath,
    ...(set.machine === undefined ? {} : { measured_on: describe(set.machine) }),
  };
}

/** One line for people: which calibration the model's times come from. */
export function describeCalibrationUsed(c: CalibrationUsed): string {
  const what = c.host === undefined ? `the calibration ${c.cost_model}` : `the calibration set ${c.host}`;
  return `Times and CPU come from ${what}${c.measured_on === undefined ? '' : `, measured on ${c.measured_on}`}.`;
}

/**
 * Why the cost model in use (calibrationPath) is not `live`'s (default: this machine's), or
 * undefined where it is or cannot say (no file, or a file without its machine: the constants shipped in the source).
 * A calibration measures one host's ksmd: on another CPU its constants are that host's
 * (on 2026-12-04 an AMD EPYC guest's ksmd used 1.15 to 1.84 times the CPU per page of the
 * Intel Xeon guest's of the calibration shipped, workload by workload; docs/cost-model-journal.md,
 * "Another host").
 */
export function foreignCalibration(
  live: CalibratedOn = cpuIdentity(),
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const set = calibrationSet(env, live);
  if (set.machine === undefined || sameMachine(set.machine, live)) return undefined;
  return (
    `the model's cost model (${set.costPath}) was calibrated on ${describe(set.machine)}, this machine is ${describe(live)}: ` +
    "the model's clock (ksmd's CPU per page, hence its pages a second and CPU share) is the other machine's; " +
    '`sudo samepage bench --calibrate` measures this one'
  );
}
