/**
 * The checks of a scenario that depend on the order of steps: every step names a live proc
 * and a region mapped in it (fork copies the regions, exec clears them, munmap removes one),
 * proc names are never reused, ranges lie inside their region, and `node` exists on the
 * machine. They run on every step that names its proc and region, also when the schema
 * found problems elsewhere in the step or the file, so one run lists every problem.
 */
import { describeValue } from './schema.ts';
import type { Step, StepKind } from './types.ts';

type Path = readonly PropertyKey[];

/** What a step refers to; anything unknown (an invalid field) is left out and not checked. */
export interface StepRefs {
  readonly kind: StepKind;
  readonly proc?: string;
  readonly child?: string;
  readonly region?: string;
  /** mmap: the size of the new region. */
  readonly size?: number;
  /** mmap: the NUMA node. */
  readonly node?: number;
  /** A byte range inside the region, and the field that gives its length. */
  readonly range?: { readonly offset: number; readonly size: number | undefined; readonly sizeField: string };
  /** expect: the paths checked. */
  readonly paths?: readonly string[];
}

/** The references of a checked step. */
export function stepRefs(s: Step): StepRefs {
  switch (s.kind) {
    case 'mmap':
      return {
        kind: s.kind,
        proc: s.proc,
        region: s.region,
        size: s.size,
        ...(s.node === undefined ? {} : { node: s.node }),
      };
    case 'fill':
    case 'madvise':
    case 'read':
      return {
        kind: s.kind,
        proc: s.proc,
        region: s.region,
        range: { offset: s.offset, size: s.size, sizeField: 'size' },
      };
    case 'write':
      return {
        kind: s.kind,
        proc: s.proc,
        region: s.region,
        range: { offset: s.offset, size: s.bytes.length, sizeField: 'bytes' },
      };
    case 'munmap':
      return { kind: s.kind, proc: s.proc, region: s.region };
    case 'spawn':
    case 'prctl':
    case 'exec':
    case 'exit':
      return { kind: s.kind, proc: s.proc };
    case 'fork':
      return { kind: s.kind, proc: s.proc, child: s.child };
    case 'expect':
      return { kind: s.kind, paths: s.checks.map((c) => c.path) };
    case 'sysfs':
    case 'wait':
    case 'record':
      return { kind: s.kind };
  }
}

const NAME_FIELDS = ['proc', 'child', 'region'] as const;
/** An expect path of a proc's own files: its ksm_stat fields, ksm_merging_pages, rss_pages. */
const PROC_FILE_PATH = /^\/proc\/([^/]+)\/(?:ksm_stat\/[^/]+|ksm_merging_pages|rss_pages)$/;

/**
 * The names an invalid step still gives (`{ mmap: { proc: a, region: r, size: 5000 } }`
 * still maps r in a), so that later steps are not reported for its sake; undefined when the
 * step's kind cannot be told.
 */
export function rawStepRefs(raw: unknown, kinds: readonly string[]): StepRefs | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const keys = Object.keys(raw);
  const kind = keys[0];
  if (keys.length !== 1 || kind === undefined || !kinds.includes(kind)) return undefined;
  const body = (raw as Record<string, unknown>)[kind];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { kind: kind as StepKind };
  const fields = body as Record<string, unknown>;
  if (kind === 'expect') return { kind, paths: Object.keys(fields) };
  const refs: Record<string, string> = {};
  for (const f of NAME_FIELDS) {
    const v = fields[f];
    if (typeof v === 'string') refs[f] = v;
  }
  return { kind: kind as StepKind, ...refs };
}

export interface CrossProblem {
  readonly path: Path;
  readonly message: string;
}

/**
 * Follows procs and regions through the steps (undefined: a step whose kind is unknown).
 * `numaNodes` undefined skips the node check (the machine section itself is invalid).
 */
export function crossCheck(steps: Iterable<StepRefs | undefined>, numaNodes: number | undefined): CrossProblem[] {
  const problems: CrossProblem[] = [];
  /** Live procs and their regions (name -> size in bytes, undefined when not known). */
  const procs = new Map<string, Map<string, number | undefined>>();
  const used = new Set<string>();

  const visit = (s: StepRefs, index: number): void => {
    const at = (field: PropertyKey | undefined, message: string): void => {
      problems.push({
        path: field === undefined ? ['steps', index, s.kind] : ['steps', index, s.kind, field],
        message,
      });
    };
    const liveProc = (name: string | undefined, field = 'proc'): Map<string, number | undefined> | undefined => {
      if (name === undefined) return undefined;
      const regions = procs.get(name);
      if (regions === undefined) {
        at(field, used.has(name) ? `Proc "${name}" has already exited` : `Proc "${name}" was never spawned or forked`);
      }
      return regions;
    };
    const newProc = (name: string | undefined, field: string, regions: Map<string, number | undefined>): void => {
      if (name === undefined) return;
      if (used.has(name)) {
        at(
          field,
          procs.has(name)
            ? `Proc "${name}" already exists`
            : `Proc name "${name}" was used by a process that exited; choose a new name`,
        );
        return;
      }
      used.add(name);
      procs.set(name, regions);
    };
    /** The region's regions map when the region is mapped in a live proc. */
    const mapped = (): Map<string, number | undefined> | undefined => {
      const regions = liveProc(s.proc);
      if (regions === undefined || s.region === undefined) return undefined;
      if (!regions.has(s.region)) {
        at('region', `Region "${s.region}" is not mapped in proc "${s.proc}"`);
        return undefined;
      }
      return regions;
    };

    switch (s.kind) {
      case 'spawn':
        newProc(s.proc, 'proc', new Map());
        return;
      case 'mmap': {
        const regions = liveProc(s.proc);
        if (regions !== undefined && s.region !== undefined) {
          if (regions.has(s.region)) at('region', `Region "${s.region}" is already mapped in proc "${s.proc}"`);
          else regions.set(s.region, s.size);
        }
        if (s.node !== undefined && numaNodes !== undefined && s.node >= numaNodes) {
          at('node', `NUMA node must be below machine.numa_nodes (${numaNodes}), got ${s.node}`);
        }
        return;
      }
      case 'fill':
      case 'madvise':
      case 'read':
      case 'write': {
        const total = s.region === undefined ? undefined : mapped()?.get(s.region);
        const r = s.range;
        if (total === undefined || r === undefined) return;
        if (r.offset >= total)
          at('offset', `Offset must lie within region "${s.region}" (${total} bytes), got ${r.offset}`);
        else if (r.size !== undefined && r.offset + r.size > total) {
          at(
            r.sizeField,
            `Range must end within region "${s.region}" (${total} bytes), got offset ${r.offset} + size ${r.size} = ${r.offset + r.size}`,
          );
        }
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
        if (liveProc(s.proc) !== undefined && s.proc !== undefined) procs.set(s.proc, new Map());
        return;
      case 'munmap':
        if (mapped() !== undefined && s.region !== undefined) procs.get(s.proc ?? '')?.delete(s.region);
        return;
      case 'exit':
        if (liveProc(s.proc) !== undefined && s.proc !== undefined) procs.delete(s.proc);
        return;
      case 'expect':
        for (const path of s.paths ?? []) {
          // Only a proc's own files name a proc: /proc/vmstat/<field> is the machine's, and a
          // path that is neither was reported by the schema already.
          const name = PROC_FILE_PATH.exec(path)?.[1];
          if (name !== undefined && !procs.has(name)) {
            const why = used.has(name) ? 'has already exited' : 'was never spawned or forked';
            at(path, `Proc "${name}" of ${describeValue(path)} ${why}`);
          }
        }
        return;
      case 'sysfs':
      case 'wait':
      case 'record':
        return;
    }
  };
  let index = 0;
  for (const s of steps) {
    if (s !== undefined) visit(s, index);
    index++;
  }
  return problems;
}
