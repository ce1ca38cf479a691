/**
 * The zod schema of scenario files, version 1 (docs/scenario-format.md). It checks one value
 * at a time and maps the file onto the types of types.ts; checks that need the history of
 * steps (which procs and regions exist) live in parse.ts, and json_schema.ts derives the
 * JSON Schema that editors use from it. Messages name the thing and show
 * the value, since they reach the user with a path and a line.
 */
import { z } from 'zod';
import { formatDuration } from '../lib/duration.ts';
import {
  isKsmFile,
  isKsmStatField,
  isKsmWritableFile,
  KSM_FILES,
  KSM_STAT_FIELDS,
  KSM_WRITABLE_FILES,
} from '../lib/ksm_files.ts';
import { isKsmPlusFile, KSMPLUS_FILES } from '../lib/ksmplus_files.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { errnoNames } from '../lib/errno.ts';
import { MAX_NUMA_NODES, MAX_RAM_BYTES, MAX_VIRTUAL_NS } from '../system.ts';
import { KSM_VMSTAT_FIELDS } from '../sysfs/proc_vmstat.ts';
import { parseExpectation } from './expect.ts';
import { PLUS_PREFIX, SYS_MM } from './paths.ts';
import { isPlusFile, isPlusWritableFile, PLUS_DIR, PLUS_FILE_NAMES, PLUS_LIST_FILES } from '../lib/plus_files.ts';
import type { Advice, ExpectCheck, Machine, Pattern, PrctlOption, Scenario, Step } from './types.ts';

const GIB = 1024 * 1024 * 1024;
/** The longest wait: the model's clock is exact to MAX_VIRTUAL_NS. */
export const MAX_WAIT_MS = Math.floor(MAX_VIRTUAL_NS / 1e6);
/** An integer too large for a double to hold exactly, as parse.ts passes it on (its decimal text). */
const UNSAFE_INTEGER = /^-?\d+$/;

/** Whether `v` is the decimal text of an integer past 2^53 - 1 either way (see parse.ts's toPlain). */
function isUnsafeInteger(v: unknown): v is string {
  return typeof v === 'string' && UNSAFE_INTEGER.test(v) && !Number.isSafeInteger(Number(v));
}

function waitTooLong(got: string): string {
  return `Milliseconds must be at most ${MAX_WAIT_MS} (${formatDuration(MAX_VIRTUAL_NS)}: the model's clock counts nanoseconds exactly up to 2^53), got ${got}`;
}
/** A size as text: a whole or decimal number, optionally with a binary unit (trimmed first). */
export const SIZE_TEXT = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB)?$/;
const UNIT: Readonly<Record<string, number>> = { KiB: 1024, MiB: 1024 * 1024, GiB: GIB };
const PROC_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const SYSFS_PART = /^[A-Za-z0-9_.+-]+$/;
/**
 * What an expect step may check; groups: ksm dir, its file, proc, ksm_stat field, other proc
 * file, a KSM line of /proc/vmstat, a file of the KSM+ daemon's directory.
 */
export const EXPECT_PATH = new RegExp(
  '^(?:\\/sys\\/kernel\\/mm\\/(ksm\\+?)\\/([^/]+)|\\/proc\\/([^/]+)\\/(?:ksm_stat\\/([^/]+)|(ksm_merging_pages|rss_pages))' +
    `|\\/proc\\/vmstat\\/(${KSM_VMSTAT_FIELDS.join('|')})` +
    '|\\/run\\/samepage\\/ksm\\+\\/([^/]+))$',
);
/** The expect paths, for messages. */
export const EXPECT_PATHS_TEXT =
  '/sys/kernel/mm/ksm/<file>, /sys/kernel/mm/ksm+/<file>, /run/samepage/ksm+/<file>, /proc/<proc>/ksm_stat/<field>, ' +
  `/proc/<proc>/ksm_merging_pages, /proc/<proc>/rss_pages or /proc/vmstat/<${KSM_VMSTAT_FIELDS.join('|')}>`;
const TWO_TO_64 = 1n << 64n;

/** Characters of a text value a message shows. */
const SHOWN_CHARS = 60;

/** YAML's .inf, -.inf and .nan: numbers that no field takes. */
function notFinite(value: unknown): boolean {
  return typeof value === 'number' && !Number.isFinite(value);
}

/** A value as messages show it: strings quoted (a long one cut), containers by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    // A long text is shown by its start and its length, so that a message stays a line.
    return value.length <= SHOWN_CHARS
      ? JSON.stringify(value)
      : `${JSON.stringify(value.slice(0, SHOWN_CHARS))}... (${value.length} characters)`;
  }
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // YAML's spellings: what the file says, not JavaScript's Infinity.
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? '.nan (not a number)' : value > 0 ? '.inf (infinity)' : '-.inf (minus infinity)';
  return String(value);
}

const LABELS: Readonly<Record<string, string>> = {
  'page-mod': 'Page-mod period',
  numa_nodes: 'NUMA node count',
  mm_forbids_zeropage: 'mm_forbids_zeropage',
  ms: 'Milliseconds',
  node: 'NUMA node',
};

/** Capitalised name of the last path key, for generic messages: `numa_nodes` -> `Numa nodes`. */
function label(path: readonly PropertyKey[]): string {
  const key = path.at(-1);
  if (typeof key !== 'string') return typeof key === 'number' ? 'Item' : 'Scenario';
  const known = LABELS[key];
  if (known !== undefined) return known;
  const words = key.replace(/[_-]/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const EXPECTED_TYPE: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

/**
 * Messages for issues the schema does not word itself (missing fields, wrong types, bounds);
 * passed to safeParse so every problem reads the same way.
 */
export const scenarioErrorMap: z.core.$ZodErrorMap = (issue) => {
  const name = label(issue.path ?? []);
  const got = describeValue(issue.input);
  // .inf and .nan are numbers to YAML: whatever the field takes (a number, a size, a
  // comparison), the one thing to say is that they are not finite.
  if (notFinite(issue.input)) return `${name} must be a finite number, got ${got}`;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${name} is required`;
      if ((issue.expected === 'number' || issue.expected === 'int') && isUnsafeInteger(issue.input)) {
        if (issue.path?.at(-1) === 'ms' && !issue.input.startsWith('-')) return waitTooLong(issue.input);
        return issue.input.startsWith('-')
          ? `${name} must be at least ${Number.MIN_SAFE_INTEGER} (-(2^53 - 1)), got ${issue.input}`
          : `${name} must be at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1), got ${issue.input}`;
      }
      return `${name} must be ${EXPECTED_TYPE[issue.expected] ?? issue.expected}, got ${got}`;
    case 'too_small':
      if (issue.origin === 'string') return `${name} must not be empty`;
      return `${name} must be at least ${issue.minimum}, got ${got}`;
    case 'too_big':
      return `${name} must be at most ${issue.maximum}, got ${got}`;
    case 'invalid_value':
      return `${name} must be one of ${issue.values.map((v) => String(v)).join(', ')}, got ${got}`;
    case 'unrecognized_keys':
      return `Unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return undefined;
  }
};

/** A strict mapping whose unknown-key message lists the fields it does take. */
function strict<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `Unknown ${what} ${issue.keys.map((k) => `"${k}"`).join(', ')}; expected ${fields}`
        : undefined,
  });
}

/** Parses `4096`, `"64KiB"`, `"1.5 GiB"` into bytes, or says why not. */
export function parseSize(value: number | string): { ok: true; bytes: number } | { ok: false; message: string } {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else {
    const m = SIZE_TEXT.exec(value.trim());
    if (m === null)
      return {
        ok: false,
        message: `must be a number of bytes or a string like "64KiB", "2MiB", "1GiB", got ${describeValue(value)}`,
      };
    bytes = Number(m[1]) * (m[2] === undefined ? 1 : (UNIT[m[2]] ?? 1));
  }
  if (bytes > Number.MAX_SAFE_INTEGER) {
    // An integer past 2^53 reaches here as its decimal text (see parse.ts): shown as the number it is.
    const shown = isUnsafeInteger(value) ? value : describeValue(value);
    return { ok: false, message: `must be at most ${Number.MAX_SAFE_INTEGER} bytes (2^53 - 1), got ${shown}` };
  }
  if (!Number.isInteger(bytes) || bytes < 0)
    return { ok: false, message: `must be a whole, non-negative number of bytes, got ${describeValue(value)}` };
  return { ok: true, bytes };
}

/**
 * A size or offset field. `page`: a multiple of the page size (what the contract requires of
 * sizes); without it any byte count, as for `write` and `read` offsets.
 */
function bytes(what: string, opts: { page: boolean; positive: boolean }) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const parsed = parseSize(value);
    const shown = describeValue(value);
    let message: string | undefined;
    if (!parsed.ok) message = `${what} ${parsed.message}`;
    else if (opts.positive && parsed.bytes === 0) message = `${what} must be greater than 0, got ${shown}`;
    else if (opts.page && parsed.bytes % PAGE_SIZE !== 0) {
      message = `${what} must be a multiple of the page size (${PAGE_SIZE}), got ${shown}`;
    }
    if (message !== undefined || !parsed.ok) {
      ctx.issues.push({ code: 'custom', message: message ?? `${what} is invalid`, input: value });
      return z.NEVER;
    }
    return parsed.bytes;
  });
}

function int(min: number) {
  return z.number().int().min(min);
}

const proc = z.string().regex(PROC_NAME, {
  error: (i) =>
    `Proc name must be letters, digits, "_", "." or "-" (it appears in /proc/<proc>/ paths), got ${describeValue(i.input)}`,
});
const region = z.string().min(1);
const comm = z.string().min(1);
/** Values written to sysfs: text as is, numbers as their decimal text. */
const sysfsValue = z
  .union([z.string(), z.number()], {
    error: (i) =>
      notFinite(i.input)
        ? `Value must be a finite number, got ${describeValue(i.input)}`
        : `Value must be a string or a number, got ${describeValue(i.input)}`,
  })
  .transform((v) => String(v));

/** A seed as text (trimmed first): decimal, or hexadecimal after 0x. */
export const SEED_TEXT = /^(?:\d+|0x[0-9a-fA-F]+)$/;

/** A 64-bit seed from a YAML integer (exact, see parse.ts) or a decimal or 0x string. */
function parseSeed(value: number | string): bigint | undefined {
  const text = String(value).trim();
  const n = SEED_TEXT.test(text) ? BigInt(text) : undefined;
  return n !== undefined && n < TWO_TO_64 ? n : undefined;
}

/** Checked here, converted by the pattern's transform: a pipe inside the union would hide its message. */
const seed = z.union([z.number(), z.string()]).check((ctx) => {
  if (parseSeed(ctx.value) === undefined) {
    ctx.issues.push({
      code: 'custom',
      message: `Seed must be an integer from 0 to 2^64 - 1, got ${describeValue(ctx.value)}`,
      input: ctx.value,
      continue: true,
    });
  }
});

/**
 * `schema` whose problems do not abort: a union reports the one option that did not abort
 * with that option's own message. `{byte: .nan}` and `{byte: 1.5}` fail z.number's type
 * check, which aborts, and were reported as "Pattern must be ..., got a mapping".
 */
function continuing<T>(schema: z.ZodType<T>): z.ZodType<T> {
  const field = z.unknown().check((ctx) => {
    const parsed = schema.safeParse(ctx.value);
    if (parsed.success) return;
    // Without a message: the error map words it at its full path, as for any other field.
    // A missing field still aborts, so that an option the mapping's keys do not name is
    // never the one reported.
    for (const { message: _, ...issue } of parsed.error.issues)
      ctx.issues.push({ ...issue, input: ctx.value, continue: ctx.value !== undefined } as z.core.$ZodRawIssue);
  });
  // The JSON Schema for editors is the field's own (an integer in range), not "anything".
  return field.meta(fieldJsonSchema(schema)) as unknown as z.ZodType<T>;
}

/** `schema` as a JSON Schema fragment, without the document's own `$schema`. */
function fieldJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...fragment } = z.toJSONSchema(schema, { io: 'input', target: 'draft-07' });
  return fragment;
}

const PATTERN_FORMS =
  'zero, byte-cycle, word-index, neg-word-index, {byte: N}, {random: SEED}, {page-mod: N, seed: SEED} or {text: "..."}';

/**
 * Fill patterns. The options stay untransformed inside the union: zod only reports the
 * nearest option's own problem (`{byte: 300}` -> "at most 255") when no option is a pipe.
 */
export const patternSchema = z
  .union(
    [
      z.enum(['zero', 'byte-cycle', 'word-index', 'neg-word-index']),
      strict({ byte: continuing(int(0).max(255)) }, 'pattern field'),
      strict({ random: seed }, 'pattern field'),
      strict({ 'page-mod': continuing(int(1)), seed }, 'pattern field'),
      strict({ text: z.string().min(1) }, 'pattern field'),
    ],
    {
      error: (i) =>
        i.code === 'invalid_union' ? `Pattern must be ${PATTERN_FORMS}, got ${describeValue(i.input)}` : undefined,
    },
  )
  .transform((p): Pattern => {
    if (typeof p === 'string') return { kind: p };
    if ('byte' in p) return { kind: 'byte', byte: p.byte };
    if ('random' in p) return { kind: 'random', seed: parseSeed(p.random) ?? 0n };
    if ('page-mod' in p) return { kind: 'page-mod', period: p['page-mod'], seed: parseSeed(p.seed) ?? 0n };
    return { kind: 'text', text: p.text };
  });

const hexBytes = z.string().transform((text, ctx) => {
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) {
    ctx.issues.push({
      code: 'custom',
      message: `Bytes must be a non-empty hex string with an even number of digits, got ${describeValue(text)}`,
      input: text,
    });
    return z.NEVER;
  }
  // A copy into a plain Uint8Array: Buffer's hex decoder, without a string per byte.
  return new Uint8Array(Buffer.from(text, 'hex'));
});

const sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, { error: (i) => `SHA-256 must be 64 hex digits, got ${describeValue(i.input)}` })
  .transform((s) => s.toLowerCase());

const advice = z.enum(['MADV_MERGEABLE', 'MADV_UNMERGEABLE', 'MADV_DONTNEED']);
const prctlOption = z.enum(['PR_SET_MEMORY_MERGE', 'PR_GET_MEMORY_MERGE']);
const errnoName = z.string().refine((s) => errnoNames().includes(s), {
  error: (i) => `Errno must be a Linux error name such as EBUSY or EINVAL, got ${describeValue(i.input)}`,
});
/** What a madvise or prctl step must return: a value >= 0, or the errno name of a failure. */
const returns = z.union([z.number(), z.string()]).check((ctx) => {
  const v = ctx.value;
  if (typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : errnoNames().includes(v)) return;
  ctx.issues.push({
    code: 'custom',
    message: `Returns must be a whole number >= 0 or a Linux error name such as EINVAL, got ${describeValue(v)}`,
    input: v,
  });
});
/** `returns` on the step only when the file gives it. */
function withReturns<T extends object>(step: T, r: number | string | undefined): T {
  return r === undefined ? step : { ...step, returns: r };
}

/**
 * `ksm/run` or `/sys/kernel/mm/ksm/run` -> `ksm/run`; a file of the KSM+ daemon's directory
 * (`/run/samepage/ksm+/run`) stays whole; nothing else.
 */
const sysfsPath = z.string().transform((path, ctx) => {
  if (path.startsWith(PLUS_PREFIX)) {
    const file = path.slice(PLUS_PREFIX.length);
    if (isPlusFile(file)) return path;
    ctx.issues.push({
      code: 'custom',
      message: `Unknown file "${file}" of ${PLUS_DIR}; expected one of ${PLUS_FILE_NAMES.join(', ')}`,
      input: path,
    });
    return z.NEVER;
  }
  const rel = path.startsWith(SYS_MM) ? path.slice(SYS_MM.length) : path;
  const parts = rel.split('/');
  if (rel.startsWith('/') || parts.some((p) => !SYSFS_PART.test(p) || p === '.' || p === '..')) {
    ctx.issues.push({
      code: 'custom',
      message: `Path must name a file under ${SYS_MM}, like ksm/run, or under ${PLUS_PREFIX}, got ${describeValue(path)}`,
      input: path,
    });
    return z.NEVER;
  }
  return rel;
});

/** Why `file` is not a file of /sys/kernel/mm/`dir` (ksm or ksm+, the directories with a known list), or undefined. */
function unknownSysfsFile(dir: string | undefined, file: string): string | undefined {
  const known =
    dir === 'ksm'
      ? { ok: isKsmFile, names: KSM_FILES }
      : dir === 'ksm+'
        ? { ok: isKsmPlusFile, names: KSMPLUS_FILES }
        : undefined;
  if (known === undefined || known.ok(file)) return undefined;
  return `Unknown file "${file}" of /sys/kernel/mm/${dir}; expected one of ${known.names.join(', ')}`;
}

/**
 * Checks an expect path and, when its type is right, the expected value: words only for
 * ksm_merge_any and ksm_mergeable, numbers or comparisons for counters.
 */
function checkExpect(path: string, expected: unknown): string | undefined {
  const m = EXPECT_PATH.exec(path);
  if (m === null) {
    return `Expect path must be ${EXPECT_PATHS_TEXT}, got ${describeValue(path)}`;
  }
  const [, dir, file, procName, statField, , , plusFile] = m;
  if (plusFile !== undefined && !isPlusFile(plusFile)) {
    return `Unknown file "${plusFile}" of ${PLUS_DIR}; expected one of ${PLUS_FILE_NAMES.join(', ')}`;
  }
  if (procName !== undefined && !PROC_NAME.test(procName))
    return `Proc name in the path must be a valid proc name, got ${describeValue(procName)}`;
  const unknown = file === undefined ? undefined : unknownSysfsFile(dir, file);
  if (unknown !== undefined) return unknown;
  if (statField !== undefined && !isKsmStatField(statField)) {
    return `Unknown ksm_stat field "${statField}"; expected one of ${KSM_STAT_FIELDS.join(', ')}`;
  }
  // Not a number or a string, or .inf/.nan: the value's own schema said so already.
  if ((typeof expected !== 'number' && typeof expected !== 'string') || notFinite(expected)) return undefined;
  const parsed = parseExpectation(expected);
  if (!parsed.ok) return parsed.message;
  const operand = parsed.expectation.operand;
  const words = statField === 'ksm_merge_any' || statField === 'ksm_mergeable';
  if (words && operand !== 'yes' && operand !== 'no')
    return `${statField} is yes or no, got ${describeValue(expected)}`;
  const numeric =
    plusFile !== undefined
      ? !(PLUS_LIST_FILES as readonly string[]).includes(plusFile)
      : dir === 'ksm'
        ? file !== 'advisor_mode'
        : dir === undefined && !words;
  if (numeric && typeof operand === 'string')
    return `Expected value of a counter must be a number or a comparison, got ${describeValue(expected)}`;
  return undefined;
}

const expectValue = z.union([z.number(), z.string()], {
  error: (i) =>
    notFinite(i.input)
      ? `Expected value must be a finite number, got ${describeValue(i.input)}`
      : `Expected value must be a number, a string or a comparison such as ">= 512", got ${describeValue(i.input)}`,
});

const expectStep = z
  .record(z.string(), expectValue)
  .check(
    z.superRefine(
      (value, ctx) => {
        // Runs even when the value is not a mapping (see `when`): that problem is reported already.
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
        const entries = Object.entries(value);
        if (entries.length === 0)
          ctx.addIssue({ code: 'custom', message: 'Expect must list at least one path', input: value });
        for (const [path, expected] of entries) {
          const message = checkExpect(path, expected);
          if (message !== undefined) ctx.addIssue({ code: 'custom', message, input: expected, path: [path] });
        }
      },
      // Check every path even when one value has the wrong type, so all problems show at once.
      { when: () => true },
    ),
  )
  .transform(
    (r): Step => ({
      kind: 'expect',
      checks: Object.entries(r).map(([path, expected]): ExpectCheck => ({ path, expected })),
    }),
  );

/** One schema per step kind, mapping the step's fields onto its `Step`. */
export const stepSchemas = {
  spawn: strict({ proc, comm }, 'spawn field').transform((s): Step => ({ kind: 'spawn', ...s })),
  mmap: strict(
    {
      proc,
      region,
      size: bytes('Size', { page: true, positive: true }),
      shared: z.boolean().optional(),
      node: int(0).optional(),
    },
    'mmap field',
  ).transform(
    (s): Step => ({
      kind: 'mmap',
      proc: s.proc,
      region: s.region,
      size: s.size,
      shared: s.shared ?? false,
      node: s.node,
    }),
  ),
  fill: strict(
    {
      proc,
      region,
      pattern: patternSchema,
      offset: bytes('Offset', { page: true, positive: false }).optional(),
      size: bytes('Size', { page: true, positive: true }).optional(),
    },
    'fill field',
  ).transform(
    (s): Step => ({
      kind: 'fill',
      proc: s.proc,
      region: s.region,
      pattern: s.pattern,
      offset: s.offset ?? 0,
      size: s.size,
    }),
  ),
  write: strict(
    { proc, region, offset: bytes('Offset', { page: false, positive: false }), bytes: hexBytes },
    'write field',
  ).transform((s): Step => ({ kind: 'write', ...s })),
  read: strict(
    {
      proc,
      region,
      offset: bytes('Offset', { page: false, positive: false }),
      size: bytes('Size', { page: false, positive: true }),
      sha256,
    },
    'read field',
  ).transform((s): Step => ({ kind: 'read', ...s })),
  madvise: strict(
    {
      proc,
      region,
      advice,
      offset: bytes('Offset', { page: true, positive: false }).optional(),
      size: bytes('Size', { page: true, positive: true }).optional(),
      returns: returns.optional(),
    },
    'madvise field',
  ).transform(
    (s): Step =>
      withReturns(
        {
          kind: 'madvise',
          proc: s.proc,
          region: s.region,
          advice: s.advice satisfies Advice,
          offset: s.offset ?? 0,
          size: s.size,
        },
        s.returns,
      ),
  ),
  prctl: strict({ proc, option: prctlOption, arg: int(0).optional(), returns: returns.optional() }, 'prctl field')
    .check((ctx) => {
      const { option, arg } = ctx.value;
      // PR_GET_MEMORY_MERGE takes no argument (Linux wants 0 there), so it may be left out.
      if (option === 'PR_SET_MEMORY_MERGE' && arg !== 0 && arg !== 1) {
        ctx.issues.push({
          code: 'custom',
          message: `Arg of PR_SET_MEMORY_MERGE must be 0 or 1, got ${describeValue(arg)}`,
          input: arg,
          path: ['arg'],
        });
      }
    })
    .transform(
      (s): Step =>
        withReturns(
          { kind: 'prctl', proc: s.proc, option: s.option satisfies PrctlOption, arg: s.arg ?? 0 },
          s.returns,
        ),
    ),
  fork: strict({ proc, child: proc }, 'fork field').transform((s): Step => ({ kind: 'fork', ...s })),
  exec: strict({ proc, comm }, 'exec field').transform((s): Step => ({ kind: 'exec', ...s })),
  munmap: strict({ proc, region }, 'munmap field').transform((s): Step => ({ kind: 'munmap', ...s })),
  exit: strict({ proc }, 'exit field').transform((s): Step => ({ kind: 'exit', ...s })),
  sysfs: strict({ path: sysfsPath, value: sysfsValue, errno: errnoName.optional() }, 'sysfs field')
    .check((ctx) => {
      // Without errno the write must succeed, which a counter of the daemon never does.
      const plus = ctx.value.path.startsWith(PLUS_PREFIX) ? ctx.value.path.slice(PLUS_PREFIX.length) : undefined;
      if (ctx.value.errno === undefined && plus !== undefined && !isPlusWritableFile(plus)) {
        ctx.issues.push({
          code: 'custom',
          message: `${ctx.value.path} is a counter and refuses writes (EACCES); writable: ${PLUS_FILE_NAMES.filter(isPlusWritableFile).join(', ')}`,
          input: ctx.value.path,
          path: ['path'],
        });
      }
      // Without errno the write must succeed, which an unknown KSM file never does.
      const [dir, file, ...rest] = ctx.value.path.split('/');
      const unknown =
        ctx.value.errno === undefined && rest.length === 0 && file !== undefined
          ? unknownSysfsFile(dir, file)
          : undefined;
      if (unknown !== undefined)
        ctx.issues.push({ code: 'custom', message: unknown, input: ctx.value.path, path: ['path'] });
    })
    .transform((s): Step => ({ kind: 'sysfs', path: s.path, value: s.value, errno: s.errno })),
  wait: strict(
    {
      full_scans: int(1).optional(),
      batches: int(1).optional(),
      // max first, and aborting: a number too large for int() gets max's message alone.
      ms: z
        .number()
        .max(MAX_WAIT_MS, { error: (i) => waitTooLong(String(i.input)), abort: true })
        .int()
        .min(1)
        .optional(),
    },
    'wait field',
  )
    .check((ctx) => {
      const given = [ctx.value.full_scans, ctx.value.ms, ctx.value.batches].filter((v) => v !== undefined);
      if (given.length !== 1) {
        ctx.issues.push({
          code: 'custom',
          message: 'Wait must give exactly one of full_scans, ms or batches',
          input: ctx.value,
        });
      }
    })
    .transform((s): Step => {
      if (s.ms !== undefined) return { kind: 'wait', unit: 'ms', count: s.ms };
      if (s.batches !== undefined) return { kind: 'wait', unit: 'batches', count: s.batches };
      return { kind: 'wait', unit: 'full_scans', count: s.full_scans ?? 0 };
    }),
  expect: expectStep,
  record: strict({ label: z.string().min(1) }, 'record field').transform(
    (s): Step => ({ kind: 'record', label: s.label }),
  ),
};

export const STEP_KINDS = Object.keys(stepSchemas);

/**
 * A step: first a mapping with exactly one key, then that key's schema. The pipe stops at
 * the first stage, so `{mmap, fill}` yields one clear problem instead of two half-checked steps.
 */
export const stepSchema = z
  .record(z.string(), z.unknown(), {
    error: (i) =>
      `Step must be a mapping with one key, the step kind (${STEP_KINDS.join(', ')}), got ${describeValue(i.input)}`,
  })
  .check((ctx) => {
    const keys = Object.keys(ctx.value);
    if (keys.length !== 1) {
      const got = keys.length === 0 ? 'none' : `${keys.length} (${keys.join(', ')})`;
      ctx.issues.push({
        code: 'custom',
        message: `Step must have exactly one key, the step kind, got ${got}`,
        input: ctx.value,
      });
    }
  })
  .pipe(
    strict(
      Object.fromEntries(Object.entries(stepSchemas).map(([k, s]) => [k, s.optional()])) as {
        [K in keyof typeof stepSchemas]: z.ZodOptional<(typeof stepSchemas)[K]>;
      },
      'step kind',
    ),
  )
  .transform((s) => Object.values(s).find((v) => v !== undefined) as Step);

const ksmValues = z
  .record(z.string(), sysfsValue)
  .check((ctx) => {
    for (const file of Object.keys(ctx.value)) {
      if (!isKsmWritableFile(file)) {
        ctx.issues.push({
          code: 'custom',
          message: `Unknown or read-only file "${file}" of /sys/kernel/mm/ksm; expected one of ${KSM_WRITABLE_FILES.join(', ')}`,
          input: file,
          path: [file],
        });
      }
    }
  })
  .transform((r) => Object.entries(r));

const machine = strict(
  {
    ram: bytes('RAM', { page: true, positive: true })
      .check((ctx) => {
        if (ctx.value > MAX_RAM_BYTES) {
          ctx.issues.push({
            code: 'custom',
            message: `RAM must be at most ${formatBytes(MAX_RAM_BYTES)} (the model's frame tables take about 1.1 GB of this machine's memory per TiB), got ${formatBytes(ctx.value)}`,
            input: ctx.value,
          });
        }
      })
      .optional(),
    numa_nodes: int(1)
      .max(MAX_NUMA_NODES, {
        error: (i) =>
          `NUMA node count must be at most ${MAX_NUMA_NODES} (MAX_NUMNODES of x86-64), got ${describeValue(i.input)}`,
      })
      .optional(),
    mm_forbids_zeropage: z.boolean().optional(),
  },
  'machine field',
).transform(
  (m): Machine => ({
    ram: m.ram ?? GIB,
    numaNodes: m.numa_nodes ?? 1,
    ...(m.mm_forbids_zeropage === undefined ? {} : { mmForbidsZeropage: m.mm_forbids_zeropage }),
  }),
);

/** The top-level mapping of a file, around a schema of one step (json_schema.ts passes its own). */
export function fileSchema<S extends z.ZodType>(step: S) {
  return strict(
    {
      version: z.literal(1, {
        error: (i) =>
          i.input === undefined
            ? 'Version is required (version: 1)'
            : `Version must be 1, got ${describeValue(i.input)}`,
      }),
      name: z.string().min(1),
      description: z.string().optional(),
      machine: machine.optional(),
      ksm: ksmValues.optional(),
      steps: z.array(step),
    },
    'top-level field',
  );
}

/** The whole file, mapped onto `Scenario` (without `stepLines`, which parse.ts adds). */
export const scenarioSchema = fileSchema(stepSchema).transform(
  (f): Omit<Scenario, 'stepLines'> => ({
    version: 1,
    name: f.name,
    description: f.description,
    machine: f.machine ?? { ram: GIB, numaNodes: 1 },
    ksm: f.ksm ?? [],
    steps: f.steps as Step[],
  }),
);
