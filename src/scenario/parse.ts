/**
 * Scenario files (../shared/SCENARIO.md) from text to a checked `Scenario`. One YAML parser
 * serves YAML and JSON; schema.ts checks each value; the pass below checks what depends on
 * the order of steps (which procs and regions exist). Every problem is collected with its
 * path and line, so a user fixes a file in one round.
 */
import { LineCounter, isCollection, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { describeValue, scenarioErrorMap, scenarioSchema } from './schema.ts';
import type { Scenario, Step } from './types.ts';

export interface Problem {
  /** Where in the file, e.g. `steps[3].mmap.size`; empty for the file as a whole. */
  readonly path: string;
  /** 1-based line, when the file locates it. */
  readonly line: number | undefined;
  readonly message: string;
}

export type ParseResult = { readonly ok: true; readonly scenario: Scenario } | { readonly ok: false; readonly problems: Problem[] };

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
  if (doc.contents === null) return { ok: false, problems: [{ path: '', line: undefined, message: `Scenario file ${fileName} is empty` }] };

  let data: unknown;
  try {
    data = toPlain(doc.toJS());
  } catch (e) {
    return { ok: false, problems: [{ path: '', line: undefined, message: `Cannot read the YAML document: ${(e as Error).message}` }] };
  }

  const parsed = scenarioSchema.safeParse(data, { error: scenarioErrorMap });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): Problem => {
      // An unknown key is reported at the key itself, where the user has to look.
      const path = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
      return { path: formatPath(path), line: lineOf(doc, path, lineAt), message: issue.message };
    });
    return { ok: false, problems: sortProblems(problems) };
  }

  const stepLines = parsed.data.steps.map((_, i) => lineOf(doc, ['steps', i], lineAt));
  const scenario: Scenario = { ...parsed.data, stepLines };
  const problems = checkSteps(scenario, (path) => lineOf(doc, path, lineAt));
  return problems.length > 0 ? { ok: false, problems: sortProblems(problems) } : { ok: true, scenario };
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
      line = isCollection(pair.value) || pair.value === null ? (keyLine ?? line) : (rangeLine(pair.value, lineAt) ?? keyLine ?? line);
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

/**
 * Checks across steps that are cheap and certain: every step names a live proc and a region
 * mapped in it (fork copies the regions, exec clears them, munmap removes one), proc names are
 * never reused, ranges lie inside their region, and `node` exists on the machine.
 */
function checkSteps(scenario: Scenario, lineOfPath: (path: Path) => number | undefined): Problem[] {
  const problems: Problem[] = [];
  /** Live procs and their regions (name -> size in bytes). */
  const procs = new Map<string, Map<string, number>>();
  const used = new Set<string>();

  scenario.steps.forEach((step, index) => {
    const at = (field: PropertyKey | undefined, message: string): void => {
      const path = field === undefined ? ['steps', index, step.kind] : ['steps', index, step.kind, field];
      problems.push({ path: formatPath(path), line: lineOfPath(path), message });
    };
    const liveProc = (name: string, field = 'proc'): Map<string, number> | undefined => {
      const regions = procs.get(name);
      if (regions === undefined) {
        at(field, used.has(name) ? `Proc "${name}" has already exited` : `Proc "${name}" was never spawned or forked`);
      }
      return regions;
    };
    const newProc = (name: string, field: string, regions: Map<string, number>): void => {
      if (used.has(name)) {
        at(field, procs.has(name) ? `Proc "${name}" already exists` : `Proc name "${name}" was used by a process that exited; choose a new name`);
        return;
      }
      used.add(name);
      procs.set(name, regions);
    };
    const regionSize = (s: { proc: string; region: string }): number | undefined => {
      const regions = liveProc(s.proc);
      const size = regions?.get(s.region);
      if (regions !== undefined && size === undefined) at('region', `Region "${s.region}" is not mapped in proc "${s.proc}"`);
      return size;
    };
    const inRegion = (s: { region: string }, total: number, offset: number, size: number | undefined, sizeField = 'size'): void => {
      if (offset >= total) at('offset', `Offset must lie within region "${s.region}" (${total} bytes), got ${offset}`);
      else if (size !== undefined && offset + size > total) {
        at(sizeField, `Range must end within region "${s.region}" (${total} bytes), got offset ${offset} + size ${size} = ${offset + size}`);
      }
    };

    checkStep(step);

    function checkStep(s: Step): void {
      switch (s.kind) {
        case 'spawn':
          newProc(s.proc, 'proc', new Map());
          return;
        case 'mmap': {
          const regions = liveProc(s.proc);
          if (regions?.has(s.region) === true) at('region', `Region "${s.region}" is already mapped in proc "${s.proc}"`);
          else regions?.set(s.region, s.size);
          if (s.node !== undefined && s.node >= scenario.machine.numaNodes) {
            at('node', `NUMA node must be below machine.numa_nodes (${scenario.machine.numaNodes}), got ${s.node}`);
          }
          return;
        }
        case 'fill':
        case 'madvise':
        case 'read': {
          const total = regionSize(s);
          if (total !== undefined) inRegion(s, total, s.offset, s.size);
          return;
        }
        case 'write': {
          const total = regionSize(s);
          if (total !== undefined) inRegion(s, total, s.offset, s.bytes.length, 'bytes');
          return;
        }
        case 'prctl':
          liveProc(s.proc);
          return;
        case 'fork': {
          const regions = liveProc(s.proc);
          if (regions !== undefined) newProc(s.child, 'child', new Map(regions));
          return;
        }
        case 'exec':
          if (liveProc(s.proc) !== undefined) procs.set(s.proc, new Map());
          return;
        case 'munmap':
          if (regionSize(s) !== undefined) procs.get(s.proc)?.delete(s.region);
          return;
        case 'exit':
          if (liveProc(s.proc) !== undefined) procs.delete(s.proc);
          return;
        case 'expect':
          for (const check of s.checks) {
            const name = /^\/proc\/([^/]+)\//.exec(check.path)?.[1];
            if (name !== undefined && !procs.has(name)) {
              const why = used.has(name) ? 'has already exited' : 'was never spawned or forked';
              at(check.path, `Proc "${name}" of ${describeValue(check.path)} ${why}`);
            }
          }
          return;
        case 'sysfs':
        case 'wait':
        case 'record':
          return;
      }
    }
  });
  return problems;
}
