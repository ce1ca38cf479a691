/**
 * Scenario files (docs/scenario-format.md) from text to a checked `Scenario`. One YAML parser
 * serves YAML and JSON; schema.ts checks each value, cross_check.ts what depends on the
 * order of steps (which procs and regions exist), ksm_values.ts the initial sysfs values.
 * Every problem is collected with its path and line, so a user fixes a file in one round.
 */
import { LineCounter, isCollection, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { crossCheck, rawStepRefs, stepRefs, type StepRefs } from './cross_check.ts';
import { checkKsmValues } from './ksm_values.ts';
import { isKsmWritableFile } from '../lib/ksm_files.ts';
import { scenarioErrorMap, scenarioSchema, STEP_KINDS, stepSchema } from './schema.ts';
import type { Scenario, Step } from './types.ts';

export interface Problem {
  /** Where in the file, e.g. `steps[3].mmap.size`; empty for the file as a whole. */
  readonly path: string;
  /** 1-based line, when the file locates it. */
  readonly line: number | undefined;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly scenario: Scenario }
  | { readonly ok: false; readonly problems: Problem[] };

type Path = readonly PropertyKey[];

/** Parses and checks a scenario file's text; `fileName` only words the message of an empty file. */
export function parseScenario(text: string, fileName: string): ParseResult {
  const lineCounter = new LineCounter();
  // Integers as bigints, so 64-bit seeds and counters keep every digit (see toPlain).
  const doc = parseDocument(text, { lineCounter, intAsBigInt: true, prettyErrors: false });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    return { ok: false, problems: doc.errors.map((e) => ({ path: '', line: lineAt(e.pos[0]), message: e.message })) };
  }
  if (doc.contents === null)
    return { ok: false, problems: [{ path: '', line: undefined, message: `Scenario file ${fileName} is empty` }] };

  let data: unknown;
  try {
    data = toPlain(doc.toJS());
  } catch (e) {
    return {
      ok: false,
      problems: [{ path: '', line: undefined, message: `Cannot read the YAML document: ${(e as Error).message}` }],
    };
  }

  const parsed = scenarioSchema.safeParse(data, { error: scenarioErrorMap });
  const where = (path: Path): Pick<Problem, 'path' | 'line'> => ({
    path: formatPath(path),
    line: lineOf(doc, path, lineAt),
  });
  const problems: Problem[] = parsed.success
    ? []
    : parsed.error.issues.map((issue): Problem => {
        // An unknown key is reported at the key itself, where the user has to look.
        const path =
          issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
            ? [...issue.path, issue.keys[0]]
            : issue.path;
        return { ...where(path), message: issue.message };
      });
  // What can be checked across steps and in sysfs is checked even when the schema failed,
  // on the parts it accepted, so one run lists every problem of the file.
  const usable = parsed.success
    ? {
        steps: parsed.data.steps.map(stepRefs),
        ksm: parsed.data.ksm,
        numaNodes: parsed.data.machine.numaNodes as number | undefined,
      }
    : usableParts(data);
  for (const p of crossCheck(usable.steps, usable.numaNodes)) problems.push({ ...where(p.path), message: p.message });
  for (const p of checkKsmValues(usable.ksm, usable.numaNodes ?? 1))
    problems.push({ ...where(['ksm', p.file]), message: p.message });
  if (!parsed.success || problems.length > 0) return { ok: false, problems: sortProblems(problems) };

  const stepLines = parsed.data.steps.map((_, i) => lineOf(doc, ['steps', i], lineAt));
  return { ok: true, scenario: { ...parsed.data, stepLines } };
}

/**
 * One step written as its YAML one-liner (`spawn: { proc: o1, comm: okular }`), checked by
 * the schema alone: which procs and regions exist is for the backend that runs it to say.
 * `samepage shell` parses each step line once with it, so a script costs time linear in
 * its length.
 */
export function parseStep(text: string): { ok: true; step: Step } | { ok: false; problems: string[] } {
  const doc = parseDocument(text, { intAsBigInt: true, prettyErrors: false });
  if (doc.errors.length > 0) return { ok: false, problems: doc.errors.map((e) => e.message) };
  let data: unknown;
  try {
    data = toPlain(doc.toJS());
  } catch (e) {
    return { ok: false, problems: [`Cannot read the YAML: ${(e as Error).message}`] };
  }
  const parsed = stepSchema.safeParse(data, { error: scenarioErrorMap });
  if (parsed.success) return { ok: true, step: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((i) => (i.path.length > 0 ? `${formatPath(i.path)}: ${i.message}` : i.message)),
  };
}

/**
 * The parts of a file the schema rejected that can still be checked: the steps (fully
 * where a step is valid, by the names it gives where not), the `ksm` values of known
 * files, and the NUMA node count when it is valid.
 */
function usableParts(data: unknown): {
  steps: Array<StepRefs | undefined>;
  ksm: Array<[string, string]>;
  numaNodes: number | undefined;
} {
  const file = isRecord(data) ? data : {};
  const steps = Array.isArray(file.steps)
    ? file.steps.map((raw: unknown) => {
        const step = stepSchema.safeParse(raw);
        return step.success ? stepRefs(step.data) : rawStepRefs(raw, STEP_KINDS);
      })
    : [];
  const ksm = isRecord(file.ksm)
    ? Object.entries(file.ksm).flatMap(
        ([k, v]): Array<[string, string]> =>
          isKsmWritableFile(k) && (typeof v === 'string' || typeof v === 'number') ? [[k, String(v)]] : [],
      )
    : [];
  const machine = isRecord(file.machine) ? file.machine : {};
  const nodes = machine.numa_nodes ?? 1;
  return {
    steps,
    ksm,
    numaNodes: Number.isSafeInteger(nodes) && (nodes as number) >= 1 ? (nodes as number) : undefined,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** One line per problem: `scenario.yaml: steps[3].mmap.size (line 14): Size must be ...`. */
export function formatProblems(fileName: string, problems: readonly Problem[]): string {
  return problems
    .map((p) => {
      const where = p.path === '' ? fileName : `${fileName}: ${p.path}`;
      return `${where}${p.line === undefined ? '' : ` (line ${p.line})`}: ${p.message}`;
    })
    .join('\n');
}

/** `['steps', 3, 'mmap', 'size']` -> `steps[3].mmap.size`; keys such as paths are quoted. */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * Integers come from the YAML parser as bigints; those a double holds exactly become numbers,
 * larger ones their decimal text, which the schema reads exactly where it matters (seeds,
 * sysfs values, expected counters) and rejects with a message elsewhere.
 */
function toPlain(value: unknown): unknown {
  if (typeof value === 'bigint') {
    const safe = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(value) : value.toString();
  }
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toPlain(v)]));
  }
  return value;
}

/**
 * The line of the node at `path`, or of its nearest ancestor when the path names something
 * missing. A key whose value is a block mapping or list is located at the key, not at the
 * first line inside it.
 */
function lineOf(doc: Document, path: Path, lineAt: (offset: number) => number): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, lineAt);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key));
      if (pair === undefined) break;
      const keyLine = rangeLine(pair.key, lineAt);
      line =
        isCollection(pair.value) || pair.value === null
          ? (keyLine ?? line)
          : (rangeLine(pair.value, lineAt) ?? keyLine ?? line);
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (node === undefined) break;
      line = rangeLine(node, lineAt) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0] === undefined ? undefined : lineAt(range[0]);
}

function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}
