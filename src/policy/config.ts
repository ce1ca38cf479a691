/**
 * The config file of `samepage plus` (for a systemd service, /etc/samepage/plus.yaml):
 *
 *   version: 1
 *   programs: [firefox, python3]      # exact comms, as processes_to_scan
 *   pids: []                          # single processes (their start time is taken at startup)
 *   cgroups: [/system.slice/app.service]
 *   run: true                         # as --run: KSM's run=1 while the daemon runs
 *   keep_marked: false                # as --keep-marked
 *   knobs: { pages_to_scan: 4000, sleep_millisecs: 100 }   # the daemon's (policy/knobs.ts)
 *   ksm: { pages_to_scan: 1000 }     # KSM's, held while the daemon runs, put back after
 *
 * Every key is optional except version. Problems come back all at once, each with its key
 * and line, as the scenario files' do.
 */
import { LineCounter, parseDocument, isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { KNOB_SPECS, knobSpec, parseKnobValue, type PlusKnobName } from './knobs.ts';
import { checkCgroup, checkName } from './selection.ts';

export interface PlusConfig {
  readonly programs: readonly string[];
  readonly pids: readonly number[];
  readonly cgroups: readonly string[];
  readonly run: boolean;
  readonly keepMarked: boolean;
  readonly knobs: Readonly<Partial<Record<PlusKnobName, number>>>;
  readonly ksm: Readonly<Record<string, string>>;
}

export interface ConfigProblem {
  readonly key: string;
  readonly line: number | undefined;
  readonly message: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: PlusConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

const KEYS = ['version', 'programs', 'pids', 'cgroups', 'run', 'keep_marked', 'knobs', 'ksm'];
/** KSM knobs the daemon may hold (run comes from `run`). */
const KSM_KNOBS = new Set(['pages_to_scan', 'sleep_millisecs', 'max_page_sharing', 'smart_scan', 'use_zero_pages']);

export function parsePlusConfig(text: string): ConfigResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const problems: ConfigProblem[] = [];
  const lineOf = (n: Node | null | undefined): number | undefined =>
    n?.range === undefined || n.range === null ? undefined : lc.linePos(n.range[0]).line;
  const bad = (key: string, n: Node | null | undefined, message: string): void => {
    problems.push({ key, line: lineOf(n), message });
  };
  for (const e of doc.errors) problems.push({ key: '', line: lc.linePos(e.pos[0]).line, message: e.message });
  if (problems.length > 0) return { ok: false, problems };
  const root = doc.contents;
  if (!isMap(root)) return { ok: false, problems: [{ key: '', line: 1, message: 'The config must be a mapping' }] };
  const get = (key: string): Node | null | undefined => (root as YAMLMap).get(key, true) as Node | null | undefined;
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '?';
    if (!KEYS.includes(key)) bad(key, item.key as Node, `Unknown key "${key}"; expected one of ${KEYS.join(', ')}`);
  }
  const version = get('version');
  if (!isScalar(version) || version.value !== 1) bad('version', version, 'version must be 1');

  const list = (key: string, check: (v: unknown) => string | undefined): unknown[] => {
    const n = get(key);
    if (n === undefined || n === null) return [];
    if (!isSeq(n)) {
      bad(key, n, `${key} must be a list`);
      return [];
    }
    const out: unknown[] = [];
    n.items.forEach((item, i) => {
      const v = isScalar(item) ? item.value : undefined;
      const why = check(v);
      if (why === undefined) out.push(v);
      else bad(`${key}[${i}]`, item as Node, why);
    });
    return out;
  };
  const programs = list('programs', (v) =>
    typeof v === 'string' ? checkName(v) : 'a program name is text',
  ) as string[];
  const pids = list('pids', (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v > 1 ? undefined : 'a pid is a whole number above 1',
  ) as number[];
  const cgroups = list('cgroups', (v) => (typeof v === 'string' ? checkCgroup(v) : 'a cgroup is a path')) as string[];
  const flag = (key: string): boolean => {
    const n = get(key);
    if (n === undefined || n === null) return false;
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    bad(key, n, `${key} must be true or false`);
    return false;
  };
  const run = flag('run');
  const keepMarked = flag('keep_marked');

  const mapping = (key: string, each: (name: string, v: unknown, n: Node) => void): void => {
    const n = get(key);
    if (n === undefined || n === null) return;
    if (!isMap(n)) {
      bad(key, n, `${key} must be a mapping`);
      return;
    }
    for (const item of n.items) {
      const name = isScalar(item.key) ? String(item.key.value) : '?';
      const value = isScalar(item.value) ? item.value.value : undefined;
      each(name, value, (item.value ?? item.key) as Node);
    }
  };
  const knobs: Partial<Record<PlusKnobName, number>> = {};
  mapping('knobs', (name, v, n) => {
    const spec = knobSpec(name);
    if (spec === undefined || name === 'run') {
      bad(
        `knobs.${name}`,
        n,
        `Unknown knob "${name}"; expected one of ${KNOB_SPECS.filter((k) => k.name !== 'run')
          .map((k) => k.name)
          .join(', ')}`,
      );
    } else if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < spec.min || v > spec.max) {
      bad(`knobs.${name}`, n, `${name} must be a whole number from ${spec.min} to ${spec.max} (${spec.what})`);
    } else {
      knobs[spec.name] = v;
    }
  });
  const ksm: Record<string, string> = {};
  mapping('ksm', (name, v, n) => {
    if (!KSM_KNOBS.has(name))
      bad(
        `ksm.${name}`,
        n,
        `KSM knob "${name}" is not one the daemon holds; expected one of ${[...KSM_KNOBS].join(', ')} (run: use run: true)`,
      );
    else if (typeof v !== 'number' && typeof v !== 'string') bad(`ksm.${name}`, n, `${name} must be a number or text`);
    else ksm[name] = String(v);
  });
  if (run) ksm.run = '1';
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { programs, pids, cgroups, run, keepMarked, knobs, ksm } };
}

/** One line per problem: `FILE:LINE: key: message`. */
export function formatConfigProblems(file: string, problems: readonly ConfigProblem[]): string {
  return problems
    .map((p) => `${file}${p.line === undefined ? '' : `:${p.line}`}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`)
    .join('\n');
}

/** A daemon's knob written as `knob=value` (`samepage plus --set`), or the problem in words. */
export function parseKnobSetting(text: string): [PlusKnobName, number] | string {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq).trim();
  const spec = eq > 0 ? knobSpec(name) : undefined;
  if (spec === undefined || name === 'run')
    return `Expected knob=value with a knob of the daemon (see --help), got "${text}".`;
  const value = parseKnobValue(spec, text.slice(eq + 1));
  if (value === undefined)
    return `${name} takes a whole number from ${spec.min} to ${spec.max}, got "${text.slice(eq + 1)}".`;
  return [spec.name, value];
}

/** A KSM knob the daemon may hold, written as `knob=value` (`--ksm-set`), or the problem in words. */
export function parseKsmSetting(text: string): [string, string] | string {
  const eq = text.indexOf('=');
  const name = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (eq <= 0 || !KSM_KNOBS.has(name) || !/^\S+$/.test(value))
    return `Expected ${[...KSM_KNOBS].join(', ')} =VALUE, got "${text}" (run: use --run).`;
  return [name, value];
}

/** What the command line adds to a config file (or to none). */
export interface CommandLineChoices {
  readonly names: readonly string[];
  readonly pids: readonly number[];
  readonly cgroups: readonly string[];
  readonly knobs: ReadonlyArray<readonly [PlusKnobName, number]>;
  readonly ksm: ReadonlyArray<readonly [string, string]>;
  readonly run: boolean;
  readonly keepMarked: boolean;
}

/** The config with the command line's choices: selections add up, knobs given on the line win. */
export function withCommandLine(config: PlusConfig | undefined, line: CommandLineChoices): PlusConfig {
  const union = <T>(a: readonly T[] | undefined, b: readonly T[]): T[] => [...new Set([...(a ?? []), ...b])];
  const run = line.run || config?.run === true;
  return {
    programs: union(config?.programs, line.names),
    pids: union(config?.pids, line.pids),
    cgroups: union(config?.cgroups, line.cgroups),
    run,
    keepMarked: line.keepMarked || config?.keepMarked === true,
    knobs: { ...config?.knobs, ...Object.fromEntries(line.knobs) },
    ksm: { ...config?.ksm, ...Object.fromEntries(line.ksm), ...(run ? { run: '1' } : {}) },
  };
}
