/**
 * The JSON Schema of scenario files, for editors (yaml-language-server, VS Code) and other
 * tools. It is generated from the zod schemas of schema.ts with z.toJSONSchema (the input
 * side, what a file may contain), then annotated here with what zod cannot say in JSON
 * Schema: a description of every step and field (shown on hover and in completions), the
 * writable /sys/kernel/mm/ksm files, the errno names, the text forms of sizes and seeds.
 *
 * Draft-07, since yaml-language-server reads no later draft; `patternErrorMessage` is the
 * keyword VS Code's JSON and YAML services show instead of a bare regular expression. Checks that follow the steps
 * (a proc spawned before it is used, a range inside its region) and the sysfs rules of the
 * `ksm:` values are samepage's alone: an editor accepts some files that `samepage run`
 * refuses, never the other way round. scripts/scenario-schema.mjs (npm run schema) writes
 * schema/scenario.schema.json; test/scenario-schema.test.ts checks that it is current.
 */
import { z } from 'zod';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { errnoNames } from '../lib/errno.ts';
import { TAKES } from './ksm_values.ts';
import { KSM_WRITABLE_FILES } from '../lib/ksm_files.ts';
import { EXPECT_PATH, EXPECT_PATHS_TEXT, fileSchema, SEED_TEXT, SIZE_TEXT, stepSchemas } from './schema.ts';
import type { StepKind } from './types.ts';

type Json = Record<string, unknown>;

/** Where the committed schema lives in the package, for the script, the test and the docs. */
export const SCHEMA_FILE = 'schema/scenario.schema.json';

const PROC = 'The name this file gives the process (letters, digits, _, . and -), as in /proc/<proc>/ paths.';
const REGION = 'A region name of the process: mapped by mmap, inherited by fork, dropped by exec and munmap.';
const PAGE_RANGE_OFFSET = 'Start of the range, in bytes from the region start: a multiple of 4096 (default 0).';
const PAGE_RANGE_SIZE = 'Length of the range: a multiple of 4096 (default: to the end of the region).';
const RETURNS =
  'What the call must return: a number >= 0, or the errno name of a failure (EINVAL). Checked like an expect.';

/** What each step does and what each of its fields means; every field must be here. */
const STEP_DOCS: Readonly<
  Record<StepKind, { readonly what: string; readonly fields: Readonly<Record<string, string>> }>
> = {
  spawn: {
    what: 'Start a process with an empty address space.',
    fields: {
      proc: PROC,
      comm: 'Its program name (/proc/PID/comm, at most 15 bytes kept): what KSM+ and the parser match.',
    },
  },
  mmap: {
    what: 'Map an anonymous region (private unless shared: true). Nothing is touched yet.',
    fields: {
      proc: PROC,
      region: 'The new region name; unique in the process.',
      size: 'Bytes: a number or "64KiB", "2MiB", "1GiB"; a multiple of 4096, above 0.',
      shared: 'MAP_SHARED instead of MAP_PRIVATE: such a mapping is never merged by KSM.',
      node: 'Bind the frames to this NUMA node (below machine.numa_nodes).',
    },
  },
  fill: {
    what: 'Write a pattern over a range of a region (default: all of it); untouched pages fault in.',
    fields: {
      proc: PROC,
      region: REGION,
      pattern: 'The bytes, as a function of the offset from the start of the region (not of the range).',
      offset: PAGE_RANGE_OFFSET,
      size: PAGE_RANGE_SIZE,
    },
  },
  write: {
    what: 'Store these bytes at an offset of a region (copy on write where the page is shared).',
    fields: {
      proc: PROC,
      region: REGION,
      offset: 'Bytes from the region start; any byte offset.',
      bytes: 'Hex digits, two per byte: "2a", "deadbeef".',
    },
  },
  read: {
    what: 'Read a range and check its SHA-256; a mismatch fails like an expect.',
    fields: {
      proc: PROC,
      region: REGION,
      offset: 'Bytes from the region start; any byte offset.',
      size: 'Bytes to read, above 0; any length.',
      sha256: 'The SHA-256 of the bytes read, 64 hex digits.',
    },
  },
  madvise: {
    what: 'Call madvise on a range of a region; its return value is recorded.',
    fields: {
      proc: PROC,
      region: REGION,
      advice: 'MADV_MERGEABLE (register with KSM), MADV_UNMERGEABLE (unmerge, unregister) or MADV_DONTNEED (drop).',
      offset: PAGE_RANGE_OFFSET,
      size: PAGE_RANGE_SIZE,
      returns: RETURNS,
    },
  },
  prctl: {
    what: 'Call prctl in the process; its return value is recorded.',
    fields: {
      proc: PROC,
      option:
        'PR_SET_MEMORY_MERGE (arg 1: merge all the memory, inherited across fork and exec; 0: undo) or PR_GET_MEMORY_MERGE.',
      arg: 'The argument: 0 or 1 for PR_SET_MEMORY_MERGE; for PR_GET_MEMORY_MERGE default 0 (Linux refuses others).',
      returns: RETURNS,
    },
  },
  fork: {
    what: 'Fork: the child shares every page copy-on-write and inherits the region names.',
    fields: { proc: 'The parent.', child: 'The name of the new process; never used before in the file.' },
  },
  exec: {
    what: 'Exec a new program: a fresh, empty address space; MERGE_ANY survives as in Linux.',
    fields: { proc: PROC, comm: 'The new program name.' },
  },
  munmap: { what: 'Unmap a whole region.', fields: { proc: PROC, region: REGION } },
  exit: { what: 'The process exits; its name cannot be used again.', fields: { proc: PROC } },
  sysfs: {
    what: "Write a file under /sys/kernel/mm/ (ksm, ksm+, parser), or of the KSM+ daemon's directory /run/samepage/ksm+/ (the model runs the daemon). Without errno the write must succeed.",
    fields: {
      path: 'ksm/run or /sys/kernel/mm/ksm/run: a file under /sys/kernel/mm/; or /run/samepage/ksm+/<file>.',
      value: 'The text written (a number is written as its decimal text).',
      errno: 'The write must fail with this error (EINVAL, EBUSY, EACCES...), and changes nothing.',
    },
  },
  wait: {
    what: 'Advance time: exactly one of full_scans, ms or batches. The only step that takes time.',
    fields: {
      full_scans: 'Until /sys/kernel/mm/ksm/full_scans has grown by this many.',
      ms: 'This many milliseconds (virtual on the model, wall-clock on the kernel).',
      batches:
        'Until ksmd has run this many batches (ksm_do_scan: up to pages_to_scan pages, ending early where a full scan ends), so steps can come in the middle of a full scan.',
    },
  },
  expect: {
    what: 'Compare counters now: path to a number, a word, or a comparison such as ">= 512" or "!= 0".',
    fields: {},
  },
  record: {
    what: 'Append a record of every counter (ksm, ksm+, every live process) to the output.',
    fields: { label: 'The name of the record in tables, charts and --json.' },
  },
};

const TOP_DOCS: Readonly<Record<string, string>> = {
  version: 'The format version: 1.',
  name: 'The scenario name, shown in reports and --json.',
  description: 'Free text.',
  machine: 'The model machine (the kernel backend ignores it).',
  ksm: 'Initial /sys/kernel/mm/ksm values, written in this order before the first step; others keep Linux 6.18 defaults.',
  steps: 'The steps, run in order. Each is a mapping with one key, the step kind.',
};

const MACHINE_DOCS: Readonly<Record<string, string>> = {
  ram: 'Model RAM: bytes or "1GiB", a multiple of 4096 (default 1 GiB).',
  numa_nodes: 'Model NUMA nodes; frames are spread round-robin unless an mmap names a node (default 1).',
  mm_forbids_zeropage:
    "Read faults of never-written private pages allocate a page each instead of mapping the shared zero page, as on s390 KVM guests or a kernel booted with pvm_no_zero_page=1 (default false; samepage diff takes the live kernel's).",
};

/** The pattern forms, by their key (`names`: the forms that are one word). */
const PATTERN_DOCS: Readonly<Record<string, string>> = {
  names:
    'zero: every byte 0. byte-cycle: byte i is i mod 256 (every page identical). word-index: 64-bit little-endian word w holds w (every page unique). neg-word-index: word w holds 2^64 - w.',
  byte: 'Every byte is N (0 to 255).',
  random: 'Word w holds splitmix64(SEED + w): random-looking, every page unique.',
  'page-mod': 'Page p, word k holds splitmix64(seed + (p mod N) * 512 + k): pages repeat with period N.',
  text: 'The UTF-8 bytes of the text, repeated from the region start.',
};

/** A JSON Schema regex for text that samepage trims before matching `re` (anchored at both ends). */
function trimmed(re: RegExp): string {
  return `^\\s*(?:${re.source.replace(/^\^/, '').replace(/\$$/, '')})\\s*$`;
}

/** Annotates a size or offset field: its text form, and whole pages where the field wants them. */
function sizeField(node: Json, page: boolean): void {
  node.pattern = trimmed(SIZE_TEXT);
  node.patternErrorMessage = 'A size is a number of bytes or text such as 4096, "64KiB", "2 MiB" or "1.5GiB".';
  node.minimum = 0;
  if (page) node.multipleOf = PAGE_SIZE;
}

const PAGE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  mmap: ['size'],
  fill: ['offset', 'size'],
  madvise: ['offset', 'size'],
};

function seedField(node: Json): void {
  node.pattern = trimmed(SEED_TEXT);
  node.patternErrorMessage = 'A seed is an integer from 0 to 2^64 - 1, in decimal or after 0x.';
  node.minimum = 0;
}

function object(node: unknown, where: string): Json {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    throw new Error(`scenario JSON Schema: ${where} is not an object`);
  }
  return node as Json;
}

/** Sets each property's description from `docs`; a property without one is a generator error. */
function describeProperties(node: Json, docs: Readonly<Record<string, string>>, where: string): void {
  for (const [name, prop] of Object.entries(object(node.properties ?? {}, `${where}.properties`))) {
    const text = docs[name];
    if (text === undefined) throw new Error(`scenario JSON Schema: ${where}.${name} has no description`);
    object(prop, `${where}.${name}`).description = text;
  }
}

function annotateStep(kind: StepKind, node: Json): void {
  const docs = STEP_DOCS[kind];
  node.description = docs.what;
  describeProperties(node, docs.fields, kind);
  const props = object(node.properties ?? {}, kind) as Record<string, Json>;
  for (const field of ['size', 'offset']) {
    if (props[field] !== undefined) sizeField(props[field], PAGE_FIELDS[kind]?.includes(field) === true);
  }
  if (props.returns !== undefined) {
    props.returns = {
      description: props.returns.description,
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', enum: errnoNames() },
      ],
    };
  }
  if (props.errno !== undefined) props.errno.enum = errnoNames();
  if (kind === 'sysfs' && props.path !== undefined) {
    props.path.examples = [
      'ksm/run',
      'ksm/pages_to_scan',
      'ksm+/processes_to_scan',
      'parser/processes_to_scan',
      '/run/samepage/ksm+/processes_to_scan',
    ];
  }
  if (kind === 'wait') node.oneOf = [{ required: ['full_scans'] }, { required: ['ms'] }, { required: ['batches'] }];
  if (kind === 'expect') {
    node.minProperties = 1;
    node.propertyNames = {
      pattern: EXPECT_PATH.source,
      patternErrorMessage: `An expect path is ${EXPECT_PATHS_TEXT}.`,
    };
    object(node.additionalProperties, 'expect values').description =
      'A number, a word (yes, no, scan-time...), or an operator (==, !=, <, <=, >, >=) and a number, as text.';
    node.examples = [{ '/sys/kernel/mm/ksm/pages_sharing': '>= 100', '/proc/a/ksm_stat/ksm_merge_any': 'yes' }];
  }
  if (kind === 'fill' && props.pattern !== undefined) annotatePattern(props.pattern);
}

function annotatePattern(pattern: Json): void {
  const forms = pattern.anyOf;
  if (!Array.isArray(forms)) throw new Error('scenario JSON Schema: fill.pattern has no forms');
  for (const form of forms) {
    const f = object(form, 'a fill.pattern form');
    const p = (f.properties ?? {}) as Record<string, Json>;
    const key = f.enum !== undefined ? 'names' : Object.keys(p)[0];
    const doc = key === undefined ? undefined : PATTERN_DOCS[key];
    if (doc === undefined) throw new Error(`scenario JSON Schema: pattern form ${key} has no description`);
    f.description = doc;
    for (const seed of ['random', 'seed']) if (p[seed] !== undefined) seedField(p[seed]);
  }
}

/** The `ksm:` section: one property per writable file, with what it takes. */
function ksmSection(description: string): Json {
  return {
    type: 'object',
    description,
    properties: Object.fromEntries(
      KSM_WRITABLE_FILES.map((file) => [
        file,
        { type: ['string', 'number'], description: `/sys/kernel/mm/ksm/${file}: ${TAKES[file] ?? 'see the kernel'}.` },
      ]),
    ),
    additionalProperties: false,
  };
}

/** The JSON Schema of scenario files, version 1, as an object. */
export function scenarioJsonSchema(): Json {
  // A step as editors see it: one mapping whose properties are the step kinds, exactly one
  // present. (samepage's own stepSchema checks the same in two stages for its messages.)
  const kinds = Object.entries(stepSchemas).map(([kind, s]) => [kind, s.optional()]);
  const step = z.strictObject(Object.fromEntries(kinds) as Record<string, z.ZodOptional<z.ZodType>>);
  const root = object(z.toJSONSchema(fileSchema(step), { io: 'input', target: 'draft-07' }), 'root');

  const schema: Json = {
    $schema: root.$schema,
    title: 'samepage scenario file, version 1',
    description:
      'A workload for samepage run, diff, compare and stats: processes, their memory, what they write, what the operator writes into /sys/kernel/mm, and what the counters must show. Reference: docs/scenario-format.md of the samepage package.',
    ...root,
  };
  describeProperties(schema, TOP_DOCS, 'file');
  const props = schema.properties as Record<string, Json>;
  const machine = object(props.machine, 'machine');
  describeProperties(machine, MACHINE_DOCS, 'machine');
  sizeField(object(object(machine.properties, 'machine').ram, 'machine.ram'), true);
  props.ksm = ksmSection(String(props.ksm?.description));

  const steps = object(props.steps, 'steps');
  const item = object(steps.items, 'steps.items');
  item.minProperties = 1;
  item.maxProperties = 1;
  item.description = 'One step: a mapping with exactly one key, the step kind.';
  for (const [kind, node] of Object.entries(object(item.properties, 'steps.items.properties'))) {
    annotateStep(kind as StepKind, object(node, kind));
  }
  return schema;
}

/** The schema file's text: two-space JSON and a final newline, so that diffs stay readable. */
export function renderScenarioJsonSchema(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}
