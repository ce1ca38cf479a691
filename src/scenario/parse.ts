/**
 * Scenario files (docs/scenario-format.md) from text to a checked `Scenario`. One YAML parser
 * serves YAML and JSON; schema.ts checks each value, cross_check.ts what depends on the
 * order of steps (which procs and regions exist), ksm_values.ts the initial sysfs values.
 * Every problem is collected with its path and line, so a user fixes a file in one round.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  Document,
  LineCounter,
  YAMLParseError,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Pair,
  type YAMLError,
  type YAMLMap,
} from 'yaml';
import type { z } from 'zod';
import { formatBytes } from '../lib/sizes.ts';
import { MAX_NUMA_NODES } from '../system.ts';
import { crossCheck, rawStepRefs, stepRefs, type StepRefs } from './cross_check.ts';
import { checkKsmValues } from './ksm_values.ts';
import { isKsmWritableFile } from '../lib/ksm_files.ts';
import { scenarioErrorMap, scenarioSchema, STEP_KINDS, stepSchema } from './schema.ts';
import { findSteps, type StepsLayout } from './split.ts';
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

/** Scenario files up to this size are parsed as one YAML document (about 40 MB of memory). */
export const WHOLE_PARSE_BYTES = 256 * 1024;
/**
 * What a larger file may hold outside its steps, and in one step: each is parsed as one
 * YAML document, whose syntax tree costs up to about 150 times its text.
 */
export const MAX_PIECE_BYTES = 4 * 1024 * 1024;
/** Problems listed at most; the rest are counted in a last line. */
export const MAX_PROBLEMS = 200;

export interface ParseOptions {
  /**
   * `auto` (the default): a file up to WHOLE_PARSE_BYTES is parsed whole, a larger one a
   * chunk of steps at a time (split.ts). Tests force either to check they agree.
   */
  readonly mode?: 'auto' | 'whole' | 'chunked';
  /** Text per chunk of steps (tests make it small). */
  readonly chunkBytes?: number;
}

/** Parses and checks a scenario file's text; `fileName` only words the message of an empty file. */
export function parseScenario(text: string, fileName: string, opts: ParseOptions = {}): ParseResult {
  const mode = opts.mode ?? 'auto';
  if (mode === 'whole' || (mode === 'auto' && text.length <= WHOLE_PARSE_BYTES)) return parseWhole(text, fileName);
  const layout = findSteps(text, opts.chunkBytes);
  if (layout === undefined) {
    if (mode === 'chunked') return parseWhole(text, fileName);
    return fail(
      `Scenario file ${fileName} is larger than ${formatBytes(WHOLE_PARSE_BYTES)}, so samepage reads its steps a few at a time, ` +
        'which needs them as a top-level "steps:" list with one "- step" item per step at one indentation, or as a JSON ' +
        `"steps": [...] array; this file's steps are neither`,
    );
  }
  const chunked = parseChunked(text, fileName, layout);
  // A forced chunked parse of a small file falls back where the cut was not confirmed.
  if (chunked === undefined) {
    return mode === 'chunked'
      ? parseWhole(text, fileName)
      : fail(
          `Scenario file ${fileName}: its steps could not be read a few at a time (the "steps:" list is not where it ` +
            'seems to be); write them as a top-level "steps:" list or a JSON "steps": [...] array',
        );
  }
  return chunked;
}

function fail(message: string): ParseResult {
  return { ok: false, problems: [{ path: '', line: undefined, message }] };
}

/**
 * One step written as its YAML one-liner (`spawn: { proc: o1, comm: okular }`), checked by
 * the schema alone: which procs and regions exist is for the backend that runs it to say.
 * `samepage shell` parses each step line once with it, so a script costs time linear in
 * its length.
 */
export function parseStep(text: string): { ok: true; step: Step } | { ok: false; problems: string[] } {
  const doc = parseYaml(text);
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
 * Integers as bigints, so 64-bit seeds and counters keep every digit (see toPlain); warnings
 * (a mapping used as a key) not printed by the parser: the schema reports what is wrong.
 */
const YAML_OPTIONS = { intAsBigInt: true, prettyErrors: false, logLevel: 'error', uniqueKeys: false } as const;

/**
 * Parses YAML with YAML_OPTIONS. The parser's own check of duplicate keys compares each key
 * with every earlier one of its mapping, quadratic in its size (40,000 keys took 14 s): it is
 * off, and done here with a set per mapping, with the parser's message and position.
 */
function parseYaml(text: string, lineCounter?: LineCounter): Document {
  const doc = parseDocument(text, lineCounter === undefined ? YAML_OPTIONS : { ...YAML_OPTIONS, lineCounter });
  if (doc.errors.length > 0) return doc;
  try {
    visit(doc, {
      Map(_key, map) {
        const seen = new Set<unknown>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const v = pair.key.value;
          // The parser compares with ===: NaN never equals itself.
          if (typeof v === 'number' && Number.isNaN(v)) continue;
          if (seen.has(v)) {
            doc.errors.push(
              new YAMLParseError(
                pair.key.range === undefined || pair.key.range === null
                  ? [0, 0]
                  : [pair.key.range[0], pair.key.range[1]],
                'DUPLICATE_KEY',
                'Map keys must be unique',
              ),
            );
          }
          seen.add(v);
        }
      },
    });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    doc.errors.push(new YAMLParseError([0, 0], 'IMPOSSIBLE', 'Maximum call stack size exceeded'));
  }
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
  return doc;
}

/** Where in the file a path of the data is, as a 1-based line. */
type Locate = (path: Path) => number | undefined;

/** The whole text as one YAML document. */
function parseWhole(text: string, fileName: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseYaml(text, lineCounter);
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: capProblems(doc.errors.map((e) => ({ path: '', line: lineAt(e.pos[0]), message: yamlMessage(e) }))),
    };
  }
  if (doc.contents === null)
    return { ok: false, problems: [{ path: '', line: undefined, message: `Scenario file ${fileName} is empty` }] };
  const data = plainData(doc);
  if (!data.ok) return fail(data.message);
  const where = locator(doc, lineAt);
  const rawSteps =
    isRecord(data.value) && Array.isArray(data.value.steps) ? (data.value.steps as unknown[]) : undefined;
  const checker = new StepChecker((i, sub) => where(['steps', i, ...sub]));
  rawSteps?.forEach((raw, i) => {
    checker.add(raw, i, where(['steps', i]));
  });
  return finish(data.value, rawSteps !== undefined, where, checker);
}

/**
 * The text a chunk of steps at a time: the rest of the file (everything but the steps) as
 * one document, then each chunk; undefined when the rest or a chunk does not hold what the
 * scan found (the cut was wrong: the whole document must be parsed instead).
 */
function parseChunked(text: string, fileName: string, layout: StepsLayout): ParseResult | undefined {
  const lines = new LineStarts(text);
  const cut = layout.cutEnd - layout.cutStart;
  const restText = text.slice(0, layout.cutStart) + text.slice(layout.cutEnd);
  if (restText.length > MAX_PIECE_BYTES) {
    return fail(
      `Scenario file ${fileName} holds ${formatBytes(restText.length)} outside its steps; samepage reads at most ${formatBytes(MAX_PIECE_BYTES)} there`,
    );
  }
  // Offsets of the rest past the cut are the file's offsets less the cut.
  const restLine = (offset: number): number => lines.lineOf(offset < layout.cutStart ? offset : offset + cut);
  const rest = parseYaml(restText);
  const problems: Problem[] = rest.errors.map((e) => ({ path: '', line: restLine(e.pos[0]), message: yamlMessage(e) }));
  const restData = problems.length === 0 ? plainData(rest) : undefined;
  if (restData !== undefined && !restData.ok) return fail(restData.message);
  const top = restData?.value;
  // The rest must hold the steps key with nothing in it, or the cut was not where the steps are.
  const emptySteps = layout.style === 'block' ? null : [];
  if (top !== undefined && (!isRecord(top) || !isDeepStrictEqual(top.steps, emptySteps))) return undefined;

  const chunks = new ChunkDocs(text, layout, lines);
  const checker = new StepChecker((i, sub) => chunks.lineOfStep(i, sub));
  let index = 0;
  /** YAML errors past the first MAX_PROBLEMS, counted. */
  let yamlUnlisted = 0;
  for (let c = 0; c < layout.counts.length; c++) {
    const chunk = chunks.parse(c);
    if (chunk.errors.length > 0) {
      for (const e of chunk.errors) {
        if (problems.length < MAX_PROBLEMS)
          problems.push({ path: '', line: chunk.line(e.pos[0]), message: yamlMessage(e) });
        else yamlUnlisted++;
      }
    } else {
      const items = chunk.items();
      if (items === undefined) return undefined;
      const data = plainData(chunk.doc);
      if (!data.ok) return fail(data.message);
      (data.value as unknown[]).forEach((raw, k) => {
        const at = items[k]?.range?.[0];
        checker.add(raw, index + k, at === undefined ? undefined : chunk.line(at), (sub) => chunk.lineOf(k, sub));
      });
    }
    index += layout.counts[c]!;
  }
  if (problems.length > 0 || top === undefined)
    return { ok: false, problems: capProblems(sortProblems(problems), yamlUnlisted) };
  const where = locator(rest, restLine);
  return finish(top, true, where, checker);
}

/** The line starts of a text, for offset -> line without a LineCounter over the whole file. */
class LineStarts {
  readonly #starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.#starts.push(i + 1);
  }

  /** The 1-based line of `offset`. */
  lineOf(offset: number): number {
    return lastAtMost(this.#starts, offset) + 1;
  }
}

/** The index of the last element of the sorted `list` that is at most `value` (0 if none). */
function lastAtMost(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (list[mid]! <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A chunk of steps parsed as a YAML sequence of its own. */
interface ParsedChunk {
  readonly doc: Document;
  readonly errors: readonly YAMLError[];
  /** The file's line of an offset in the chunk's text. */
  line(offset: number): number;
  /** The sequence's items, or undefined when they are not the steps the scan counted. */
  items(): ReadonlyArray<{ readonly range?: readonly number[] | null }> | undefined;
  /** The line of `sub` inside item `k`. */
  lineOf(k: number, sub: Path): number | undefined;
}

/** Parses the chunks of a layout; the last one is kept, for locating problems found later. */
class ChunkDocs {
  readonly #text: string;
  readonly #layout: StepsLayout;
  readonly #lines: LineStarts;
  /** First step index of each chunk. */
  readonly #firsts: number[] = [];
  #cached: { index: number; chunk: ParsedChunk } | undefined;

  constructor(text: string, layout: StepsLayout, lines: LineStarts) {
    this.#text = text;
    this.#layout = layout;
    this.#lines = lines;
    let n = 0;
    for (const count of layout.counts) {
      this.#firsts.push(n);
      n += count;
    }
  }

  parse(c: number): ParsedChunk {
    if (this.#cached?.index === c) return this.#cached.chunk;
    const from = this.#layout.bounds[c]!;
    const to = this.#layout.bounds[c + 1]!;
    const count = this.#layout.counts[c]!;
    const flow = this.#layout.style === 'flow';
    // A flow chunk is its items between commas: bracketed, it is a sequence of its own.
    const source = flow ? `[${this.#text.slice(from, to)}]` : this.#text.slice(from, to);
    const base = flow ? from - 1 : from;
    const line = (offset: number): number => this.#lines.lineOf(base + offset);
    // One step alone larger than a piece: its syntax tree could cost gigabytes.
    const doc = source.length > MAX_PIECE_BYTES ? undefined : parseYaml(source);
    const tooLarge = new YAMLParseError(
      [0, 1],
      'RESOURCE_EXHAUSTION',
      `This step holds ${formatBytes(source.length)} of text; samepage reads at most ${formatBytes(MAX_PIECE_BYTES)} in one step`,
    );
    const locate = doc === undefined ? undefined : locator(doc, line);
    const chunk: ParsedChunk = {
      doc: doc ?? new Document(),
      errors: doc === undefined ? [tooLarge] : doc.errors,
      line,
      items: () => {
        const seq = doc?.contents;
        return isSeq(seq) && seq.items.length === count ? (seq.items as Array<{ range?: number[] | null }>) : undefined;
      },
      lineOf: (k, sub) => locate?.([k, ...sub]),
    };
    this.#cached = { index: c, chunk };
    return chunk;
  }

  /** The line of `sub` inside step `i` (its chunk parsed again if need be). */
  lineOfStep(i: number, sub: Path): number | undefined {
    const c = lastAtMost(this.#firsts, i);
    return this.parse(c).lineOf(i - this.#firsts[c]!, sub);
  }
}

const DEEP =
  'The YAML nests too deeply for samepage to read (a scenario needs about five levels: steps, a step, its fields, a pattern)';

/** A YAML error's message, with the parser's stack overflow said in words. */
function yamlMessage(e: YAMLError): string {
  return /Maximum call stack size exceeded/.test(e.message) ? DEEP : e.message;
}

/** The document as plain data (see toPlain), or why it cannot be had. */
function plainData(doc: Document): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: toPlain(doc.toJS()) };
  } catch (e) {
    const message = (e as Error).message;
    if (e instanceof RangeError && /call stack/.test(message)) return { ok: false, message: DEEP };
    if (/Excessive alias count/.test(message)) {
      return {
        ok: false,
        message:
          'The YAML expands its aliases more than the 100 times samepage follows (a resource exhaustion attack?); write the values out',
      };
    }
    return { ok: false, message: `Cannot read the YAML document: ${message}` };
  }
}

/**
 * Checks steps one at a time as they are read: their schema problems (with lines), the
 * steps themselves, and what the cross-step check needs of the invalid ones.
 */
class StepChecker {
  /** Checked steps, undefined where a step is invalid. */
  readonly steps: Array<Step | undefined> = [];
  readonly stepLines: Array<number | undefined> = [];
  /** What the invalid steps still refer to. */
  readonly invalid = new Map<number, StepRefs | undefined>();
  /**
   * The first MAX_PROBLEMS problems of the steps, in the file's order; `problemCount` counts
   * them all. Only the first can be listed (capProblems), and locating each costs a search.
   */
  readonly problems: Problem[] = [];
  problemCount = 0;
  /** The line of a path inside step i, for problems found once every step is read. */
  readonly lineOfStep: (i: number, sub: Path) => number | undefined;

  constructor(lineOfStep: (i: number, sub: Path) => number | undefined) {
    this.lineOfStep = lineOfStep;
  }

  /** Step `i` from the file; `lineOf` locates a path inside it, when cheaper than lineOfStep. */
  add(raw: unknown, i: number, line: number | undefined, lineOf?: (sub: Path) => number | undefined): void {
    const parsed = stepSchema.safeParse(raw, { error: scenarioErrorMap });
    this.stepLines.push(line);
    if (parsed.success) {
      this.steps.push(parsed.data);
      return;
    }
    this.steps.push(undefined);
    this.invalid.set(i, rawStepRefs(raw, STEP_KINDS));
    const locate = lineOf ?? ((sub: Path) => this.lineOfStep(i, sub));
    for (const issue of parsed.error.issues) {
      if (this.problemCount++ >= MAX_PROBLEMS) continue;
      const sub = issuePath(issue);
      this.problems.push({ path: formatPath(['steps', i, ...sub]), line: locate(sub), message: issue.message });
    }
  }

  /** Each step's references, for the cross-step check. */
  *refs(): Generator<StepRefs | undefined> {
    for (const [i, step] of this.steps.entries()) yield step === undefined ? this.invalid.get(i) : stepRefs(step);
  }
}

/** An issue's path; an unknown key is reported at the key itself, where the user has to look. */
function issuePath(issue: z.core.$ZodIssue): Path {
  return issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined
    ? [...issue.path, issue.keys[0]]
    : issue.path;
}

/** Top-level fields zod checks before `steps`, so problems on one line keep the order of a whole-file check. */
const BEFORE_STEPS = new Set(['version', 'name', 'description', 'machine', 'ksm']);

/**
 * The file checked: its top level (`data`, whose steps the checker read when `hasSteps`),
 * the steps' problems, then what depends on the order of steps and the sysfs values.
 */
function finish(data: unknown, hasSteps: boolean, where: Locate, checker: StepChecker): ParseResult {
  const top = hasSteps && isRecord(data) ? { ...data, steps: [] } : data;
  const parsed = scenarioSchema.safeParse(top, { error: scenarioErrorMap });
  const topProblems = (parsed.success ? [] : parsed.error.issues).map((issue) => {
    const path = issuePath(issue);
    const problem: Problem = { path: formatPath(path), line: where(path), message: issue.message };
    return { problem, before: issue.code !== 'unrecognized_keys' && BEFORE_STEPS.has(String(path[0])) };
  });
  const problems: Problem[] = [
    ...topProblems.filter((p) => p.before).map((p) => p.problem),
    ...checker.problems,
    ...topProblems.filter((p) => !p.before).map((p) => p.problem),
  ];
  // What can be checked across steps and in sysfs is checked even when the schema failed,
  // on the parts it accepted, so one run lists every problem of the file.
  const usable = parsed.success
    ? { ksm: parsed.data.ksm, numaNodes: parsed.data.machine.numaNodes as number | undefined }
    : usableParts(data);
  const stepWhere = (path: Path): number | undefined =>
    path[0] === 'steps' && typeof path[1] === 'number' ? checker.lineOfStep(path[1], path.slice(2)) : where(path);
  // Cross-step problems come in the order of the steps, so only the first MAX_PROBLEMS can
  // be listed: only those are located.
  const cross = crossCheck(checker.refs(), usable.numaNodes);
  for (const p of cross.slice(0, MAX_PROBLEMS))
    problems.push({ path: formatPath(p.path), line: stepWhere(p.path), message: p.message });
  for (const p of checkKsmValues(usable.ksm, usable.numaNodes ?? 1))
    problems.push({ path: formatPath(['ksm', p.file]), line: where(['ksm', p.file]), message: p.message });
  const unlisted = checker.problemCount - checker.problems.length + cross.length - Math.min(cross.length, MAX_PROBLEMS);
  if (!parsed.success || problems.length > 0)
    return { ok: false, problems: capProblems(sortProblems(problems), unlisted) };
  return { ok: true, scenario: { ...parsed.data, steps: checker.steps as Step[], stepLines: checker.stepLines } };
}

/** At most MAX_PROBLEMS, then one line that counts the rest (and `unlisted` others never located). */
function capProblems(problems: Problem[], unlisted = 0): Problem[] {
  if (problems.length <= MAX_PROBLEMS && unlisted === 0) return problems;
  const more = Math.max(0, problems.length - MAX_PROBLEMS) + unlisted;
  return [
    ...problems.slice(0, MAX_PROBLEMS),
    { path: '', line: undefined, message: `... and ${more} more problem${more === 1 ? '' : 's'}` },
  ];
}

/**
 * The parts of a file the schema rejected that can still be checked: the `ksm` values of
 * known files, and the NUMA node count when it is valid.
 */
function usableParts(data: unknown): { ksm: Array<[string, string]>; numaNodes: number | undefined } {
  const file = isRecord(data) ? data : {};
  const ksm = isRecord(file.ksm)
    ? Object.entries(file.ksm).flatMap(
        ([k, v]): Array<[string, string]> =>
          isKsmWritableFile(k) && (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))
            ? [[k, String(v)]]
            : [],
      )
    : [];
  const machine = isRecord(file.machine) ? file.machine : {};
  const nodes = machine.numa_nodes ?? 1;
  return {
    ksm,
    numaNodes:
      Number.isSafeInteger(nodes) && (nodes as number) >= 1 && (nodes as number) <= MAX_NUMA_NODES
        ? (nodes as number)
        : undefined,
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
 * Locates paths of `doc`: the line of the node at a path, or of its nearest ancestor when the
 * path names something missing. A key whose value is a block mapping or list is located at
 * the key, not at the first line inside it.
 */
function locator(doc: Document, lineAt: (offset: number) => number): Locate {
  /** The pairs of large mappings by key (the first of a repeated key, as a search finds it). */
  const byKey = new WeakMap<object, Map<string, Pair>>();
  const pairOf = (map: YAMLMap, key: string): Pair | undefined => {
    const keyOf = (p: Pair): string => (isScalar(p.key) ? String(p.key.value) : String(p.key));
    // A mapping of a few keys is searched; a large one (an expect of 20,000 paths) indexed.
    if (map.items.length < 32) return map.items.find((p) => keyOf(p) === key);
    let index = byKey.get(map);
    if (index === undefined) {
      index = new Map();
      for (const p of map.items) if (!index.has(keyOf(p))) index.set(keyOf(p), p);
      byKey.set(map, index);
    }
    return index.get(key);
  };
  return (path) => {
    let node: unknown = doc.contents;
    let line = rangeLine(node, lineAt);
    for (const key of path) {
      if (isMap(node)) {
        const pair = pairOf(node, String(key));
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
  };
}

function rangeLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  if (node === null || typeof node !== 'object' || !('range' in node)) return undefined;
  const range = (node as { range?: readonly number[] | null }).range;
  return range?.[0] === undefined ? undefined : lineAt(range[0]);
}

function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}
