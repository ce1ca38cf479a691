/**
 * The robustness corpus: hostile and malformed inputs for every command that reads a file,
 * generated (nothing here is a committed blob) into a directory, each with the command line
 * that feeds it to samepage and the exit codes it may end with. test/robustness.test.ts runs
 * them all; `node scripts/robustness-corpus.mjs DIR` writes them for a person to try.
 *
 * The corpus: scenario files broken at every level (bytes, encoding, YAML, structure, each
 * field of each step), sizes around every limit (a 50 MB file, an 8 MB one read in chunks,
 * a 4 MB one-line JSON file), deep nesting and alias bombs, waits past the clock's end, a
 * model out of memory, snapshots truncated, damaged, forged with a valid checksum, and a
 * 10 GiB sparse one, devices, a FIFO, a directory and a pseudo-file, and command lines that
 * would overwrite their input or ask for nothing.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { writeSnapshot, type SnapshotProcessInput } from '../src/host/snapshot.ts';
import { Prng } from '../src/lib/prng.ts';

/** One run of samepage over the corpus. */
export interface CorpusCase {
  readonly name: string;
  /** samepage's arguments; files are absolute paths. */
  readonly args: readonly string[];
  /** The exit codes it may end with. */
  readonly exits: readonly number[];
  /** Kill it (and fail) after this long. */
  readonly timeoutMs: number;
}

const PAGE = 4096;
const DEFAULT_TIMEOUT = 60_000;
const BIG_TIMEOUT = 240_000;

/** A valid scenario using every step kind, the base of the field mutations. */
const BASE_STEPS: ReadonlyArray<readonly [kind: string, fields: Record<string, unknown>]> = [
  ['spawn', { proc: 'a', comm: 'app' }],
  ['mmap', { proc: 'a', region: 'r', size: '64KiB' }],
  ['mmap', { proc: 'a', region: 's', size: 8192, shared: true, node: 0 }],
  ['fill', { proc: 'a', region: 'r', pattern: { 'page-mod': 4, seed: 7 } }],
  ['write', { proc: 'a', region: 'r', offset: 5, bytes: '00ff10' }],
  ['read', { proc: 'a', region: 'r', offset: 0, size: 16, sha256: 'ab'.repeat(32) }],
  ['madvise', { proc: 'a', region: 'r', advice: 'MADV_MERGEABLE' }],
  ['prctl', { proc: 'a', option: 'PR_SET_MEMORY_MERGE', arg: 1 }],
  ['fork', { proc: 'a', child: 'b' }],
  ['exec', { proc: 'b', comm: 'other' }],
  ['munmap', { proc: 'a', region: 's' }],
  ['sysfs', { path: 'ksm/run', value: '1' }],
  ['wait', { full_scans: 2 }],
  ['expect', { '/sys/kernel/mm/ksm/full_scans': '>= 2' }],
  ['record', { label: 'end' }],
  ['exit', { proc: 'b' }],
];

/** Values that break a field, as YAML text. */
const BAD_VALUES: readonly string[] = [
  'null',
  '-1',
  '"x"',
  '9007199254740993',
  '1e300',
  '[]',
  '{ a: 1 }',
  'true',
  `"${'a'.repeat(20_000)}"`,
  '.nan',
];

/** A flow mapping of fields as YAML, values as given (already YAML text) or JSON. */
function flow(fields: Record<string, unknown>, raw: Record<string, string> = {}): string {
  const parts = Object.entries(fields).map(([k, v]) => `${k}: ${raw[k] ?? JSON.stringify(v)}`);
  return `{ ${parts.join(', ')} }`;
}

function scenarioText(steps: ReadonlyArray<readonly [string, string]>, head = ''): string {
  return `version: 1\nname: corpus\n${head}steps:\n${steps.map(([k, body]) => `  - ${k}: ${body}\n`).join('')}`;
}

function baseText(): string {
  return scenarioText(BASE_STEPS.map(([k, f]) => [k, flow(f)]));
}

/** Writes the corpus into `dir` (which must exist and be empty) and returns its cases. */
export function writeCorpus(dir: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const file = (name: string, content: string | Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const add = (name: string, args: readonly string[], exits: readonly number[], timeoutMs = DEFAULT_TIMEOUT): void => {
    cases.push({ name, args, exits, timeoutMs });
  };
  const run = (name: string, content: string | Buffer, exits: readonly number[], timeoutMs?: number): void => {
    add(name, ['run', file(name, content)], exits, timeoutMs);
  };
  const rng = new Prng(13);
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rng.below(256)));

  // Bytes and encodings.
  run('empty.yaml', '', [2]);
  run('only-comments.yaml', '# nothing\n# here\n', [2]);
  run('whitespace.yaml', ' \n\t\n   \n', [2]);
  run('nul-bytes.yaml', `${baseText().slice(0, 40)}\0\0\0${baseText().slice(40)}`, [2]);
  for (let i = 1; i <= 5; i++) run(`random-${i}.yaml`, randomBytes(4096), [2]);
  run(
    'invalid-utf8.yaml',
    Buffer.concat([Buffer.from('version: 1\nname: "'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"\nsteps: []\n')]),
    [0, 2],
  );
  run('utf16le.yaml', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(baseText(), 'utf16le')]), [2]);
  run('utf8-bom.yaml', `\ufeff${baseText()}`, [0, 1]);
  run('crlf.yaml', baseText().replace(/\n/g, '\r\n'), [0, 1]);
  run('tabs.yaml', baseText().replace(/^ {2}-/gm, '\t-'), [2]);
  run('lone-surrogates.yaml', 'version: 1\nname: "\\ud800"\nsteps: []\n', [0, 2]);

  // YAML structure.
  run('multi-doc.yaml', `${baseText()}---\n${baseText()}`, [2]);
  run('top-list.yaml', '- version: 1\n- name: x\n', [2]);
  run('top-scalar.yaml', 'hello\n', [2]);
  run('json-array.json', '[{"version": 1}]', [2]);
  run('unterminated-quote.yaml', 'version: 1\nname: "x\nsteps: []\n', [2]);
  run('unterminated-flow.yaml', 'version: 1\nname: x\nsteps: [ { spawn: { proc: a\n', [2]);
  run('duplicate-keys.yaml', 'version: 1\nname: x\nname: y\nsteps: []\n', [2]);
  run('version-2.yaml', 'version: 2\nname: x\nsteps: []\n', [2]);
  run('unknown-top.yaml', 'version: 1\nname: x\nsteps: []\nextra: 1\n', [2]);
  run('steps-scalar.yaml', 'version: 1\nname: x\nsteps: 5\n', [2]);
  run('steps-map.yaml', 'version: 1\nname: x\nsteps:\n  spawn: { proc: a, comm: b }\n', [2]);
  run('key-2000-chars.yaml', `version: 1\nname: x\n${'k'.repeat(2000)}: 1\nsteps: []\n`, [2]);
  run(
    'step-two-kinds.yaml',
    scenarioText([['spawn', '{ proc: a, comm: b }\n    mmap: { proc: a, region: r, size: 4096 }']]),
    [2],
  );
  run(
    'anchors-valid.yaml',
    'version: 1\nname: x\nsteps:\n  - &s { spawn: { proc: a, comm: b } }\n  - record: &r { label: x }\n  - record: *r\n',
    [0],
  );
  run('anchor-reused-proc.yaml', 'version: 1\nname: x\nsteps:\n  - &s { spawn: { proc: a, comm: b } }\n  - *s\n', [2]);

  // Nesting and aliases.
  run('deep-flow-1k.yaml', scenarioText([['expect', `${'['.repeat(1000)}${']'.repeat(1000)}`]]), [2]);
  run('deep-flow-100k.yaml', scenarioText([['expect', `${'['.repeat(100_000)}${']'.repeat(100_000)}`]]), [2]);
  run('deep-maps-10k.yaml', scenarioText([['expect', `${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}`]]), [2]);
  run(
    'deep-block-2k.yaml',
    `version: 1\nname: x\nsteps:\n  - expect:\n${Array.from({ length: 2000 }, (_, i) => `${' '.repeat(6 + i)}k${i}:`).join('\n')} 1\n`,
    [2],
  );
  const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) {
    const [prev, me] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)];
    laughs.push(`${me}: &${me} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  run('alias-bomb.yaml', `version: 1\nname: x\n${laughs.join('\n')}\nsteps: []\n`, [2]);
  run(
    'alias-bomb-in-steps.yaml',
    `version: 1\nname: x\nsteps:\n  - expect: &e { ${laughs.map((_l, i) => `k${i}: 1`).join(', ')} }\n${'  - expect: *e\n'.repeat(500)}`,
    [2],
  );
  run(
    'aliases-across-chunks.yaml',
    `version: 1\nname: x\nsteps:\n  - &s { record: { label: ${'x'.repeat(300_000)} } }\n  - *s\n`,
    [0, 2],
  );

  // Sizes.
  const write = (i: number): string =>
    `  - write: { proc: a, region: r, offset: ${(i * 8) % 1_040_000}, bytes: "${(i % 256).toString(16).padStart(2, '0')}ab" }\n`;
  const bigHead =
    'version: 1\nname: big\nsteps:\n  - spawn: { proc: a, comm: a }\n  - mmap: { proc: a, region: r, size: 1MiB }\n';
  writeLarge(join(dir, 'scenario-50MB.yaml'), bigHead, 50e6, write);
  add('scenario-50MB.yaml', ['run', join(dir, 'scenario-50MB.yaml')], [2]);
  writeLarge(join(dir, 'scenario-8MB.yaml'), bigHead, 8e6, write);
  add('scenario-8MB.yaml', ['run', join(dir, 'scenario-8MB.yaml')], [0], BIG_TIMEOUT);
  writeLarge(join(dir, 'scenario-8MB-invalid.yaml'), bigHead, 8e6, (i) => write(i).replace('region: r', 'region: q'));
  add('scenario-8MB-invalid.yaml', ['run', join(dir, 'scenario-8MB-invalid.yaml'), '--json'], [2], BIG_TIMEOUT);
  const jsonSteps = [
    { spawn: { proc: 'a', comm: 'a' } },
    { mmap: { proc: 'a', region: 'r', size: '1MiB' } },
    ...Array.from({ length: 50_000 }, (_, i) => ({ write: { proc: 'a', region: 'r', offset: i * 8, bytes: 'abcd' } })),
  ];
  run('scenario-one-line.json', JSON.stringify({ version: 1, name: 'json', steps: jsonSteps }), [0], BIG_TIMEOUT);
  run('description-10MB.yaml', `version: 1\nname: x\ndescription: ${'d'.repeat(10e6)}\nsteps: []\n`, [2]);
  run(
    'write-4MB-hex.yaml',
    `${bigHead}  - write: { proc: a, region: r, offset: 0, bytes: "${'ab'.repeat(2e6)}" }\n`,
    [2],
  );
  run(
    'write-1MB-hex.yaml',
    `${bigHead}  - write: { proc: a, region: r, offset: 0, bytes: "${'ab'.repeat(500_000)}" }\n`,
    [0],
  );
  run(
    'expect-20k-paths.yaml',
    scenarioText([
      ['expect', `{ ${Array.from({ length: 20_000 }, (_, i) => `/proc/p${i}/rss_pages: 1`).join(', ')} }`],
    ]),
    [2],
  );
  run(
    'expect-100k-paths-one-repeated.yaml',
    scenarioText([
      ['expect', `{ ${Array.from({ length: 100_000 }, (_, i) => `/proc/p${i % 99_999}/rss_pages: 1`).join(', ')} }`],
    ]),
    [2],
  );
  run(
    'problems-20k.yaml',
    `version: 1\nname: x\nsteps:\n${'  - mmap: { proc: nobody, region: r, size: 5 }\n'.repeat(20_000)}`,
    [2],
  );
  run('step-kinds-unknown-5k.yaml', `version: 1\nname: x\nsteps:\n${'  - frobnicate: {}\n'.repeat(5000)}`, [2]);

  // Every field of every step, broken.
  for (const [index, [kind, fields]] of BASE_STEPS.entries()) {
    for (const field of Object.keys(fields)) {
      for (const bad of [
        BAD_VALUES[(index + field.length) % BAD_VALUES.length]!,
        BAD_VALUES[(index * 3 + 1) % BAD_VALUES.length]!,
      ]) {
        const steps = BASE_STEPS.map(([k, f], i): [string, string] => [
          k,
          i === index ? flow(f, { [field]: bad }) : flow(f),
        ]);
        const name = `field-${index}-${kind}-${field.replace(/[^\w]/g, '_')}-${BAD_VALUES.indexOf(bad)}.yaml`;
        run(name, scenarioText(steps), [1, 2]);
      }
    }
  }
  for (const [i, head] of [
    'machine: { ram: 2048GiB }\n',
    'machine: { ram: 1TiB }\n',
    'machine: { numa_nodes: 100000000 }\n',
    'machine: { ram: 3000 }\n',
    'ksm: { pages_to_scan: -1 }\n',
    'ksm: { run: 9, sleep_millisecs: "0x10" }\n',
    'ksm: { full_scans: 5 }\n',
  ].entries()) {
    run(`head-${i}.yaml`, scenarioText([['spawn', '{ proc: a, comm: b }']], head), [2]);
  }

  // What runs: waits, memory, failures.
  const merge = (wait: string, ksm = 'ksm: { run: 1, pages_to_scan: 100 }\n'): string =>
    scenarioText(
      [
        ['spawn', '{ proc: a, comm: b }'],
        ['mmap', '{ proc: a, region: r, size: 40KiB }'],
        ['fill', '{ proc: a, region: r, pattern: { byte: 1 } }'],
        ['madvise', '{ proc: a, region: r, advice: MADV_MERGEABLE }'],
        ['wait', wait],
        ['record', '{ label: end }'],
      ],
      ksm,
    );
  run('wait-ms-1e15.yaml', merge('{ ms: 1000000000000000 }'), [2]);
  run('wait-ms-1e21.yaml', merge('{ ms: 1e21 }'), [2]);
  run('wait-full-scans-1e9.yaml', merge('{ full_scans: 1000000000 }'), [1]);
  run('wait-full-scans-ksmd-off.yaml', merge('{ full_scans: 1 }', 'ksm: { run: 0 }\n'), [1]);
  run('wait-full-scans-nothing-scanned.yaml', merge('{ full_scans: 1 }', 'ksm: { run: 1, pages_to_scan: 0 }\n'), [1]);
  run('wait-ms-max-ksmd-off.yaml', merge('{ ms: 9007199254 }', 'ksm: { run: 0 }\n'), [0]);
  run(
    'waits-past-the-clock.yaml',
    scenarioText(
      [
        ['wait', '{ ms: 9000000000 }'],
        ['wait', '{ ms: 9000000000 }'],
      ],
      'ksm: { run: 0 }\n',
    ),
    [1],
  );
  run(
    'oom.yaml',
    scenarioText(
      [
        ['spawn', '{ proc: a, comm: b }'],
        ['mmap', '{ proc: a, region: r, size: 2MiB }'],
        ['fill', '{ proc: a, region: r, pattern: { random: 1 } }'],
      ],
      'machine: { ram: 1MiB }\n',
    ),
    [1],
  );
  run(
    'fill-64GiB-in-1GiB.yaml',
    scenarioText([
      ['spawn', '{ proc: a, comm: b }'],
      ['mmap', '{ proc: a, region: r, size: 64GiB }'],
      ['fill', '{ proc: a, region: r, pattern: zero }'],
    ]),
    [1],
  );
  run(
    'mmap-4PiB.yaml',
    scenarioText([
      ['spawn', '{ proc: a, comm: b }'],
      ['mmap', '{ proc: a, region: r, size: 4503599627370496 }'],
    ]),
    [1],
  );
  run('expect-fails.yaml', `${merge('{ full_scans: 2 }')}  - expect: { /sys/kernel/mm/ksm/pages_shared: 5 }\n`, [1]);
  run('vmstat.yaml', `${merge('{ full_scans: 2 }')}  - expect: { /proc/vmstat/cow_ksm: 0 }\n`, [0]);

  // Devices, FIFOs, directories, pseudo-files.
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const sub = join(dir, 'a-directory');
  mkdirSync(sub);
  for (const [name, path] of [
    ['dev-zero', '/dev/zero'],
    ['dev-null', '/dev/null'],
    ['dev-urandom', '/dev/urandom'],
    ['fifo', fifo],
    ['directory', sub],
    ['proc-status', '/proc/self/status'],
    ['missing', join(dir, 'no-such-file')],
  ] as const) {
    add(`run-${name}`, ['run', path], [2]);
    add(`predict-${name}`, ['predict', path], [2]);
    add(`stats-${name}`, ['stats', path], [2]);
    if (name !== 'proc-status') add(`shell-${name}`, ['shell', path], [2]);
  }
  add('compare-dev-zero', ['compare', '/dev/zero'], [2]);

  // Snapshots.
  const snap = join(dir, 'valid.snap');
  writeSnapshot(snap, sampleProcesses(rng));
  add('predict-valid.snap', ['predict', snap], [0]);
  add('stats-valid.snap', ['stats', snap, '--json'], [0]);
  const hashes = join(dir, 'hashes-only.snap');
  writeSnapshot(hashes, sampleProcesses(new Prng(14)), { hashesOnly: true });
  add('predict-hashes-only.snap', ['predict', hashes, '--policy', 'ksm+'], [0]);
  const good = readFileSync(snap);
  const variant = (name: string, bytes: Buffer, exits: readonly number[] = [2], statsExits = exits): void => {
    const path = file(name, bytes);
    add(`predict-${name}`, ['predict', path], exits);
    add(`stats-${name}`, ['stats', path], statsExits);
  };
  variant('truncated.snap', good.subarray(0, good.length - 1000));
  variant('header-only.snap', good.subarray(0, 64));
  variant('magic-only.snap', good.subarray(0, 8));
  const flipped = Buffer.from(good);
  flipped[flipped.length >> 1]! ^= 1;
  variant('flipped-byte.snap', flipped);
  const version = Buffer.from(good);
  version.writeUInt32LE(99, 8);
  variant('version-99.snap', version);
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(2n ** 63n, 16);
  variant('body-2^63.snap', huge);
  variant('trailing-bytes.snap', Buffer.concat([good, Buffer.alloc(100)]));
  variant('random-after-magic.snap', Buffer.concat([Buffer.from('SPSNAP\r\n'), randomBytes(8192)]));
  variant('meta-not-json.snap', forgeSnapshot({ meta: '{not json' }));
  variant('content-out-of-range.snap', forgeSnapshot({ content: 5 }));
  // stats counts by the stored MD5s: a damaged page block is no concern of it.
  variant('block-garbage.snap', forgeSnapshot({ block: randomBytes(100) }), [2], [0]);
  variant('page-outside-mapping.snap', forgeSnapshot({ address: 0x1000 }), [0, 2]);
  const sparse = join(dir, 'sparse-10GiB.snap');
  writeSparseSnapshot(sparse, 10 * 2 ** 30);
  add('predict-sparse-10GiB.snap', ['predict', sparse], [2]);
  add('stats-sparse-10GiB.snap', ['stats', sparse], [2]);
  const padded = join(dir, 'padded-3GiB.snap');
  writeFileSync(padded, good);
  truncateSync(padded, 3 * 2 ** 30);
  add('predict-padded-3GiB.snap', ['predict', padded], [2]);

  // Command lines.
  const input = file('input.yaml', merge('{ full_scans: 2 }'));
  add('run-report-over-input', ['run', input, '--report', input], [2]);
  add('compare-report-over-input', ['compare', input, '--report', input], [2]);
  add('compare-policy-twice', ['compare', input, '--policy', 'ksm,ksm'], [2]);
  add('compare-ok', ['compare', input, '--json'], [0, 1]);
  add('predict-max-scans-0', ['predict', snap, '--max-scans', '0'], [2]);
  add('predict-report-over-input', ['predict', snap, '--report', snap], [2]);
  add('run-unknown-option', ['run', input, '--frobnicate'], [2]);
  add('run-json-invalid', ['run', join(dir, 'version-2.yaml'), '--json'], [2]);
  add('stats-no-source', ['stats'], [2]);
  // A report that cannot be written is refused before the run, so --json prints one document.
  const reportDir = join(dir, 'report-is-a-directory');
  mkdirSync(reportDir);
  add('run-json-report-directory', ['run', input, '--json', '--report', reportDir], [2]);
  add('compare-json-report-directory', ['compare', input, '--json', '--report', reportDir], [2]);
  add('stats-json-report-directory', ['stats', input, '--json', '--report', reportDir], [2]);
  add('predict-json-report-directory', ['predict', snap, '--json', '--report', reportDir], [2]);
  add('run-report-missing-directory', ['run', input, '--report', join(dir, 'no-such-dir', 'r.html')], [2]);
  add('run-report-empty-name', ['run', input, '--report', ''], [2]);
  return cases;
}

/** Writes head + steps of `line(i)` to `bytes` of text, without holding it in memory. */
function writeLarge(path: string, head: string, bytes: number, line: (i: number) => string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    let size = head.length;
    let chunk = '';
    for (let i = 0; size < bytes; i++) {
      const l = line(i);
      chunk += l;
      size += l.length;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

/** Two processes with equal, periodic and random pages. */
function sampleProcesses(rng: Prng): SnapshotProcessInput[] {
  const pages = [
    Buffer.alloc(PAGE, 7),
    Buffer.alloc(PAGE),
    ...Array.from({ length: 40 }, () => Buffer.from(Array.from({ length: PAGE }, () => rng.below(256)))),
  ];
  return [1, 2].map((pid) => {
    const base = 0x7f00_0000_0000 + pid * 0x1000_0000;
    const mine = [...pages.slice(0, 22), ...pages.slice(22).slice(pid * 5, pid * 5 + 10)];
    const buf = Buffer.concat(mine);
    return {
      pid,
      comm: 'app',
      vmas: [{ start: base, end: base + mine.length * PAGE, perms: 'rw-p', offset: 0, path: '' }],
      pages: function* () {
        for (let i = 0; i < mine.length; i++) yield { address: base + i * PAGE, buffer: buf, offset: i * PAGE };
      },
    };
  });
}

/**
 * A snapshot (version 2, one process, one page) built by hand with a valid checksum, so the
 * reader gets past it to the damage given: metadata, a content index, a page block, or a
 * page address outside its mapping.
 */
function forgeSnapshot(damage: { meta?: string; content?: number; block?: Buffer; address?: number }): Buffer {
  const base = 0x7f00_0000_0000;
  const page = Buffer.alloc(PAGE, 3);
  const block = damage.block ?? deflateSync(page);
  const blocks = Buffer.concat([u32(block.length), block]);
  const md5 = createHash('md5').update(page).digest();
  const table = Buffer.concat([md5, Buffer.from([0, 0, 0, 0])]);
  const addr = damage.address ?? base;
  const pages = Buffer.concat([u32(addr % 2 ** 32), u32(Math.floor(addr / 2 ** 32)), u32(damage.content ?? 0), u32(0)]);
  const meta = Buffer.from(
    damage.meta ??
      JSON.stringify({
        created: '2026-01-01T00:00:00.000Z',
        kernel: 'forged',
        processes: [
          {
            pid: 1,
            comm: 'forged',
            vmas: [{ start: base, end: base + PAGE, perms: 'rw-p', offset: 0, path: '' }],
            pageCount: 1,
            zeroPages: 0,
            swappedPages: 0,
          },
        ],
      }),
  );
  const trailer = Buffer.alloc(32);
  [blocks.length, 1, pages.length, meta.length].forEach((v, i) => {
    trailer.writeBigUInt64LE(BigInt(v), i * 8);
  });
  const body = Buffer.concat([blocks, table, pages, meta, trailer]);
  const header = Buffer.alloc(64);
  header.write('SPSNAP\r\n', 0, 'latin1');
  header.writeUInt32LE(2, 8);
  header.writeBigUInt64LE(BigInt(body.length), 16);
  createHash('sha256').update(body).digest().copy(header, 24);
  return Buffer.concat([header, body]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** A header announcing `size - 64` bytes of body, then nothing but a hole. */
function writeSparseSnapshot(path: string, size: number): void {
  const header = Buffer.alloc(64);
  header.write('SPSNAP\r\n', 0, 'latin1');
  header.writeUInt32LE(2, 8);
  header.writeBigUInt64LE(BigInt(size - 64), 16);
  writeFileSync(path, header);
  truncateSync(path, size);
}
