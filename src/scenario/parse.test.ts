import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPath, formatProblems, parseScenario } from './parse.ts';
import type { ParseResult, Problem } from './parse.ts';
import type { Scenario, Step } from './types.ts';

const HEAD = 'version: 1\nname: t\n';
const SPAWN = 'steps:\n  - spawn: { proc: a, comm: app }\n  - mmap: { proc: a, region: r, size: 16KiB }\n';

/**
 * Parses `text` whole and a step at a time (as a file over WHOLE_PARSE_BYTES would be), and
 * checks that both read the same: every test below is a test of both ways.
 */
function parseBoth(text: string): ParseResult {
  const whole = parseScenario(text, 't.yaml', { mode: 'whole' });
  const chunked = parseScenario(text, 't.yaml', { mode: 'chunked', chunkBytes: 1 });
  assert.deepEqual(chunked, whole, 'read a step at a time, the file gives another result');
  return whole;
}

function ok(text: string): Scenario {
  const r = parseBoth(text);
  assert.ok(r.ok, r.ok ? '' : formatProblems('t.yaml', r.problems));
  return r.scenario;
}

function problems(text: string): Problem[] {
  const r = parseBoth(text);
  assert.equal(r.ok, false, 'expected the file to be invalid');
  return r.ok ? [] : r.problems;
}

/** The problems as formatted lines, for exact comparisons. */
function lines(text: string): string[] {
  return formatProblems('t.yaml', problems(text)).split('\n');
}

/** The problems as formatted lines without the file name: "PATH (line N): MESSAGE". */
function located(text: string): string[] {
  return lines(text).map((m) => m.replace(/^t\.yaml: /, ''));
}

/** Parses the steps after the common head (a spawns, maps r of 16 KiB). */
function steps(yaml: string): Step[] {
  return ok(HEAD + SPAWN + yaml).steps.slice(2);
}

test('parseScenario fills in the defaults of an optional machine and ksm section', () => {
  const s = ok(`${HEAD}steps: []\n`);
  assert.deepEqual(s, {
    version: 1,
    name: 't',
    description: undefined,
    machine: { ram: 1024 * 1024 * 1024, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  });
});

test('parseScenario keeps ksm values in file order as decimal text', () => {
  const s = ok(
    `${HEAD}ksm:\n  sleep_millisecs: 20\n  pages_to_scan: 100\n  advisor_mode: scan-time\n  run: 1\n  advisor_max_pages_to_scan: 18446744073709551615\nsteps: []\n`,
  );
  assert.deepEqual(s.ksm, [
    ['sleep_millisecs', '20'],
    ['pages_to_scan', '100'],
    ['advisor_mode', 'scan-time'],
    ['run', '1'],
    ['advisor_max_pages_to_scan', '18446744073709551615'],
  ]);
});

test('parseScenario reads machine sizes with suffixes', () => {
  const s = ok(`${HEAD}description: d\nmachine: { ram: 2GiB, numa_nodes: 2 }\nsteps: []\n`);
  assert.deepEqual(s.machine, { ram: 2 * 1024 ** 3, numaNodes: 2 });
  assert.equal(s.description, 'd');
});

test('parseScenario reads machine.mm_forbids_zeropage, a boolean, and leaves it out where the file does', () => {
  assert.deepEqual(ok(`${HEAD}machine: { mm_forbids_zeropage: true }\nsteps: []\n`).machine, {
    ram: 1024 ** 3,
    numaNodes: 1,
    mmForbidsZeropage: true,
  });
  assert.equal('mmForbidsZeropage' in ok(`${HEAD}machine: { ram: 1GiB }\nsteps: []\n`).machine, false);
  assert.deepEqual(
    problems(`${HEAD}machine: { mm_forbids_zeropage: "yes" }\nsteps: []\n`).map((p) => `${p.path}: ${p.message}`),
    ['machine.mm_forbids_zeropage: mm_forbids_zeropage must be true or false, got "yes"'],
  );
});

test('parseScenario accepts JSON', () => {
  const json = JSON.stringify({
    version: 1,
    name: 'j',
    steps: [{ spawn: { proc: 'a', comm: 'c' } }, { record: { label: 'x' } }],
  });
  assert.deepEqual(ok(json).steps, [
    { kind: 'spawn', proc: 'a', comm: 'c' },
    { kind: 'record', label: 'x' },
  ]);
});

test('parseScenario maps every step kind onto its Step', () => {
  const hash = 'AB'.repeat(32);
  const s = steps(`  - mmap: { proc: a, region: s, size: 8192, shared: true, node: 0 }
  - fill: { proc: a, region: r, pattern: byte-cycle }
  - fill: { proc: a, region: r, pattern: { byte: 7 }, offset: 4KiB, size: 4096 }
  - write: { proc: a, region: r, offset: 5, bytes: "00ff10" }
  - read: { proc: a, region: r, offset: 3, size: 10, sha256: "${hash}" }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - madvise: { proc: a, region: r, advice: MADV_DONTNEED, offset: 4096, size: 4096 }
  - prctl: { proc: a, option: PR_SET_MEMORY_MERGE, arg: 1 }
  - prctl: { proc: a, option: PR_GET_MEMORY_MERGE }
  - fork: { proc: a, child: b }
  - exec: { proc: b, comm: other }
  - munmap: { proc: a, region: s }
  - sysfs: { path: /sys/kernel/mm/ksm/run, value: 1 }
  - sysfs: { path: ksm/max_page_sharing, value: "2", errno: EBUSY }
  - wait: { full_scans: 2 }
  - wait: { ms: 100 }
  - wait: { batches: 3 }
  - expect: { /sys/kernel/mm/ksm/pages_sharing: ">= 3", /proc/a/ksm_stat/ksm_merge_any: "yes" }
  - record: { label: after }
  - exit: { proc: b }
`);
  assert.deepEqual(s, [
    { kind: 'mmap', proc: 'a', region: 's', size: 8192, shared: true, node: 0 },
    { kind: 'fill', proc: 'a', region: 'r', pattern: { kind: 'byte-cycle' }, offset: 0, size: undefined },
    { kind: 'fill', proc: 'a', region: 'r', pattern: { kind: 'byte', byte: 7 }, offset: 4096, size: 4096 },
    { kind: 'write', proc: 'a', region: 'r', offset: 5, bytes: Uint8Array.from([0, 255, 16]) },
    { kind: 'read', proc: 'a', region: 'r', offset: 3, size: 10, sha256: hash.toLowerCase() },
    { kind: 'madvise', proc: 'a', region: 'r', advice: 'MADV_MERGEABLE', offset: 0, size: undefined },
    { kind: 'madvise', proc: 'a', region: 'r', advice: 'MADV_DONTNEED', offset: 4096, size: 4096 },
    { kind: 'prctl', proc: 'a', option: 'PR_SET_MEMORY_MERGE', arg: 1 },
    { kind: 'prctl', proc: 'a', option: 'PR_GET_MEMORY_MERGE', arg: 0 },
    { kind: 'fork', proc: 'a', child: 'b' },
    { kind: 'exec', proc: 'b', comm: 'other' },
    { kind: 'munmap', proc: 'a', region: 's' },
    { kind: 'sysfs', path: 'ksm/run', value: '1', errno: undefined },
    { kind: 'sysfs', path: 'ksm/max_page_sharing', value: '2', errno: 'EBUSY' },
    { kind: 'wait', unit: 'full_scans', count: 2 },
    { kind: 'wait', unit: 'ms', count: 100 },
    { kind: 'wait', unit: 'batches', count: 3 },
    {
      kind: 'expect',
      checks: [
        { path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 3' },
        { path: '/proc/a/ksm_stat/ksm_merge_any', expected: 'yes' },
      ],
    },
    { kind: 'record', label: 'after' },
    { kind: 'exit', proc: 'b' },
  ]);
});

test('parseScenario records the line of every step', () => {
  assert.deepEqual(ok(HEAD + SPAWN).stepLines, [4, 5]);
});

test('parseScenario reads every pattern form, with 64-bit seeds kept exact', () => {
  const s = steps(`  - fill: { proc: a, region: r, pattern: zero }
  - fill: { proc: a, region: r, pattern: word-index }
  - fill: { proc: a, region: r, pattern: neg-word-index }
  - fill: { proc: a, region: r, pattern: { random: 18446744073709551615 } }
  - fill: { proc: a, region: r, pattern: { random: "0x9E3779B97F4A7C15" } }
  - fill: { proc: a, region: r, pattern: { page-mod: 3, seed: "42" } }
  - fill: { proc: a, region: r, pattern: { text: "héllo" } }
`);
  assert.deepEqual(
    s.map((step) => (step.kind === 'fill' ? step.pattern : undefined)),
    [
      { kind: 'zero' },
      { kind: 'word-index' },
      { kind: 'neg-word-index' },
      { kind: 'random', seed: 18446744073709551615n },
      { kind: 'random', seed: 0x9e3779b97f4a7c15n },
      { kind: 'page-mod', period: 3, seed: 42n },
      { kind: 'text', text: 'héllo' },
    ],
  );
});

test('parseScenario reports a size that is not a page multiple with path and line', () => {
  assert.deepEqual(
    lines(
      `${HEAD}steps:\n  - spawn: { proc: a, comm: app }\n  - mmap:\n      proc: a\n      region: r\n      size: 5000\n`,
    ),
    ['t.yaml: steps[1].mmap.size (line 8): Size must be a multiple of the page size (4096), got 5000'],
  );
});

test('parseScenario collects every problem of the file, not just the first', () => {
  assert.deepEqual(
    lines(`version: 2\nsteps:\n  - spawn: { proc: a }\n  - mmap: { proc: a, region: r, size: "4 KB" }\n`),
    [
      't.yaml: version (line 1): Version must be 1, got 2',
      't.yaml: name (line 1): Name is required',
      't.yaml: steps[0].spawn.comm (line 3): Comm is required',
      't.yaml: steps[1].mmap.size (line 4): Size must be a number of bytes or a string like "64KiB", "2MiB", "1GiB", got "4 KB"',
    ],
  );
});

test('parseScenario reports unknown step kinds, unknown fields and steps with two kinds', () => {
  assert.deepEqual(
    lines(
      `${HEAD}colour: red\nsteps:\n  - spwan: { proc: a, comm: x }\n  - spawn: { proc: a, comm: x, pid: 3 }\n  - { spawn: { proc: a, comm: x }, exit: { proc: a } }\n  - spawn\n`,
    ),
    [
      't.yaml: colour (line 3): Unknown top-level field "colour"; expected version, name, description, machine, ksm, steps',
      't.yaml: steps[0].spwan (line 5): Unknown step kind "spwan"; expected spawn, mmap, fill, write, read, madvise, prctl, fork, exec, munmap, exit, sysfs, wait, expect, record',
      't.yaml: steps[1].spawn.pid (line 6): Unknown spawn field "pid"; expected proc, comm',
      't.yaml: steps[2] (line 7): Step must have exactly one key, the step kind, got 2 (spawn, exit)',
      't.yaml: steps[3] (line 8): Step must be a mapping with one key, the step kind (spawn, mmap, fill, write, read, madvise, prctl, fork, exec, munmap, exit, sysfs, wait, expect, record), got "spawn"',
    ],
  );
});

test('parseScenario reports YAML syntax errors and duplicate keys with their line', () => {
  const syntax = problems(`${HEAD}steps:\n  - spawn: { proc: a, comm: x\n`);
  assert.equal(syntax.length, 1);
  assert.equal(syntax[0]?.path, '');
  assert.ok(syntax[0]?.line !== undefined);
  const dup = problems(`${HEAD}name: u\nsteps: []\n`);
  assert.deepEqual(
    dup.map((p) => p.line),
    [3],
  );
  assert.match(dup[0]?.message ?? '', /unique/);
});

test('parseScenario reports an empty file', () => {
  assert.deepEqual(problems(''), [{ path: '', line: undefined, message: 'Scenario file t.yaml is empty' }]);
});

test('parseScenario checks the values of each field', () => {
  const messages = problems(`${HEAD}machine: { ram: 0, numa_nodes: 0 }
ksm: { pages_shared: 1 }
steps:
  - spawn: { proc: "a/b", comm: "" }
  - fill: { proc: a, region: r, pattern: { byte: 256 } }
  - fill: { proc: a, region: r, pattern: sparse }
  - fill: { proc: a, region: r, pattern: { random: 18446744073709551616 } }
  - write: { proc: a, region: r, offset: 0, bytes: "abc" }
  - read: { proc: a, region: r, offset: 0, size: 4, sha256: "00" }
  - madvise: { proc: a, region: r, advice: MADV_HUGEPAGE, offset: 100 }
  - prctl: { proc: a, option: PR_SET_MEMORY_MERGE, arg: 2 }
  - sysfs: { path: /etc/passwd, value: x }
  - sysfs: { path: ksm/run, value: 1, errno: EWHAT }
  - sysfs: { path: ksm/runn, value: 1 }
  - wait: { full_scans: 1, ms: 5 }
  - wait: {}
  - record: { label: "" }
`).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(messages, [
    'machine.ram: RAM must be greater than 0, got 0',
    'machine.numa_nodes: NUMA node count must be at least 1, got 0',
    'ksm.pages_shared: Unknown or read-only file "pages_shared" of /sys/kernel/mm/ksm; expected one of advisor_max_cpu, advisor_max_pages_to_scan, advisor_min_pages_to_scan, advisor_mode, advisor_target_scan_time, max_page_sharing, merge_across_nodes, pages_to_scan, run, sleep_millisecs, smart_scan, stable_node_chains_prune_millisecs, use_zero_pages',
    'steps[0].spawn.proc: Proc name must be letters, digits, "_", "." or "-" (it appears in /proc/<proc>/ paths), got "a/b"',
    'steps[0].spawn.comm: Comm must not be empty',
    'steps[1].fill.pattern.byte: Byte must be at most 255, got 256',
    // The invalid spawn still names its proc, "a/b": no step ever spawned "a".
    'steps[1].fill.proc: Proc "a" was never spawned or forked',
    'steps[2].fill.pattern: Pattern must be zero, byte-cycle, word-index, neg-word-index, {byte: N}, {random: SEED}, {page-mod: N, seed: SEED} or {text: "..."}, got "sparse"',
    'steps[2].fill.proc: Proc "a" was never spawned or forked',
    'steps[3].fill.pattern.random: Seed must be an integer from 0 to 2^64 - 1, got "18446744073709551616"',
    'steps[3].fill.proc: Proc "a" was never spawned or forked',
    'steps[4].write.bytes: Bytes must be a non-empty hex string with an even number of digits, got "abc"',
    'steps[4].write.proc: Proc "a" was never spawned or forked',
    'steps[5].read.sha256: SHA-256 must be 64 hex digits, got "00"',
    'steps[5].read.proc: Proc "a" was never spawned or forked',
    'steps[6].madvise.advice: Advice must be one of MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_DONTNEED, got "MADV_HUGEPAGE"',
    'steps[6].madvise.offset: Offset must be a multiple of the page size (4096), got 100',
    'steps[6].madvise.proc: Proc "a" was never spawned or forked',
    'steps[7].prctl.arg: Arg of PR_SET_MEMORY_MERGE must be 0 or 1, got 2',
    'steps[7].prctl.proc: Proc "a" was never spawned or forked',
    'steps[8].sysfs.path: Path must name a file under /sys/kernel/mm/, like ksm/run, or under /run/samepage/ksm+/, got "/etc/passwd"',
    'steps[9].sysfs.errno: Errno must be a Linux error name such as EBUSY or EINVAL, got "EWHAT"',
    'steps[10].sysfs.path: Unknown file "runn" of /sys/kernel/mm/ksm; expected one of advisor_max_cpu, advisor_max_pages_to_scan, advisor_min_pages_to_scan, advisor_mode, advisor_target_scan_time, full_scans, general_profit, ksm_zero_pages, max_page_sharing, merge_across_nodes, pages_scanned, pages_shared, pages_sharing, pages_skipped, pages_to_scan, pages_unshared, pages_volatile, run, sleep_millisecs, smart_scan, stable_node_chains, stable_node_chains_prune_millisecs, stable_node_dups, use_zero_pages',
    'steps[11].wait: Wait must give exactly one of full_scans, ms or batches',
    'steps[12].wait: Wait must give exactly one of full_scans, ms or batches',
    'steps[13].record.label: Label must not be empty',
  ]);
});

test("parseScenario checks each initial ksm value against its file's store rules, in order", () => {
  assert.deepEqual(
    lines(`${HEAD}ksm:
  pages_to_scan: -3
  sleep_millisecs: "abc"
  run: 3
  max_page_sharing: 1
  use_zero_pages: maybe
  merge_across_nodes: 18446744073709551616
  advisor_mode: scan-time
  advisor_target_scan_time: 0
steps: []
`),
    [
      't.yaml: ksm.pages_to_scan (line 4): Writing "-3" to /sys/kernel/mm/ksm/pages_to_scan fails with EINVAL; it takes an unsigned 32-bit decimal integer, and no value while advisor_mode is scan-time',
      't.yaml: ksm.sleep_millisecs (line 5): Writing "abc" to /sys/kernel/mm/ksm/sleep_millisecs fails with EINVAL; it takes an unsigned 32-bit decimal integer',
      't.yaml: ksm.run (line 6): Writing "3" to /sys/kernel/mm/ksm/run fails with EINVAL; it takes 0, 1 or 2',
      't.yaml: ksm.max_page_sharing (line 7): Writing "1" to /sys/kernel/mm/ksm/max_page_sharing fails with EINVAL; it takes a decimal integer from 2 to 2147483647',
      't.yaml: ksm.use_zero_pages (line 8): Writing "maybe" to /sys/kernel/mm/ksm/use_zero_pages fails with EINVAL; it takes a boolean as kstrtobool reads it (1, 0, y, n, t, f, on, off)',
      't.yaml: ksm.merge_across_nodes (line 9): Writing "18446744073709551616" to /sys/kernel/mm/ksm/merge_across_nodes fails with ERANGE; it takes 0 or 1',
      't.yaml: ksm.advisor_target_scan_time (line 11): Writing "0" to /sys/kernel/mm/ksm/advisor_target_scan_time fails with EINVAL; it takes an unsigned 64-bit decimal integer of at least 1',
    ],
  );
  // The scan-time advisor owns pages_to_scan once selected (pages_to_scan_store).
  assert.deepEqual(lines(`${HEAD}ksm:\n  advisor_mode: scan-time\n  pages_to_scan: 100\nsteps: []\n`), [
    't.yaml: ksm.pages_to_scan (line 5): Writing "100" to /sys/kernel/mm/ksm/pages_to_scan fails with EINVAL; it takes an unsigned 32-bit decimal integer, and no value while advisor_mode is scan-time',
  ]);
});

test('parseScenario lists cross-step problems together with schema problems', () => {
  assert.deepEqual(
    lines(`${HEAD}ksm: { pages_to_scan: -3, pages_sharing: 1 }
steps:
  - spawn: { proc: a, comm: app }
  - mmap: { proc: a, region: r, size: 5000 }
  - fill: { proc: a, region: r, pattern: zero }
  - fill: { proc: a, region: q, pattern: zero }
  - fill: { proc: b, region: r, pattern: { byte: 300 } }
  - frob: { proc: c }
  - exit: { proc: c }
`),
    [
      't.yaml: ksm.pages_sharing (line 3): Unknown or read-only file "pages_sharing" of /sys/kernel/mm/ksm; expected one of advisor_max_cpu, advisor_max_pages_to_scan, advisor_min_pages_to_scan, advisor_mode, advisor_target_scan_time, max_page_sharing, merge_across_nodes, pages_to_scan, run, sleep_millisecs, smart_scan, stable_node_chains_prune_millisecs, use_zero_pages',
      't.yaml: ksm.pages_to_scan (line 3): Writing "-3" to /sys/kernel/mm/ksm/pages_to_scan fails with EINVAL; it takes an unsigned 32-bit decimal integer, and no value while advisor_mode is scan-time',
      // The invalid mmap still maps r, so the fill of r after it is fine.
      't.yaml: steps[1].mmap.size (line 6): Size must be a multiple of the page size (4096), got 5000',
      't.yaml: steps[3].fill.region (line 8): Region "q" is not mapped in proc "a"',
      't.yaml: steps[4].fill.pattern.byte (line 9): Byte must be at most 255, got 300',
      't.yaml: steps[4].fill.proc (line 9): Proc "b" was never spawned or forked',
      't.yaml: steps[5].frob (line 10): Unknown step kind "frob"; expected spawn, mmap, fill, write, read, madvise, prctl, fork, exec, munmap, exit, sysfs, wait, expect, record',
      't.yaml: steps[6].exit.proc (line 11): Proc "c" was never spawned or forked',
    ],
  );
});

test('parseScenario reads what a madvise or prctl step returns, as a number or an errno name', () => {
  const s = steps(`  - prctl: { proc: a, option: PR_GET_MEMORY_MERGE, returns: 1 }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE, returns: ENOMEM }
  - prctl: { proc: a, option: PR_SET_MEMORY_MERGE, arg: 0 }
`);
  assert.deepEqual(s, [
    { kind: 'prctl', proc: 'a', option: 'PR_GET_MEMORY_MERGE', arg: 0, returns: 1 },
    {
      kind: 'madvise',
      proc: 'a',
      region: 'r',
      advice: 'MADV_MERGEABLE',
      offset: 0,
      size: undefined,
      returns: 'ENOMEM',
    },
    { kind: 'prctl', proc: 'a', option: 'PR_SET_MEMORY_MERGE', arg: 0 },
  ]);
  assert.deepEqual(
    lines(
      `${HEAD}${SPAWN}  - prctl: { proc: a, option: PR_GET_MEMORY_MERGE, returns: -22 }\n  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE, returns: EWHAT }\n`,
    ),
    [
      't.yaml: steps[2].prctl.returns (line 6): Returns must be a whole number >= 0 or a Linux error name such as EINVAL, got -22',
      't.yaml: steps[3].madvise.returns (line 7): Returns must be a whole number >= 0 or a Linux error name such as EINVAL, got "EWHAT"',
    ],
  );
});

test('parseScenario checks expect paths and values', () => {
  const messages = problems(`${HEAD}${SPAWN}  - expect:
      /sys/kernel/mm/ksm/pages_shard: 1
      /proc/a/ksm_stat/ksm_merge_any: 1
      /proc/a/ksm_stat/ksm_pages: 1
      /proc/a/status: 1
      /sys/kernel/mm/ksm/pages_sharing: ">= many"
      /proc/a/rss_pages: "big"
      /sys/kernel/mm/ksm/advisor_mode: scan-time
      /sys/kernel/mm/ksm+/processes_to_scan: "> 0"
      /proc/a/ksm_merging_pages: true
  - expect: {}
`).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(messages, [
    'steps[2].expect["/sys/kernel/mm/ksm/pages_shard"]: Unknown file "pages_shard" of /sys/kernel/mm/ksm; expected one of advisor_max_cpu, advisor_max_pages_to_scan, advisor_min_pages_to_scan, advisor_mode, advisor_target_scan_time, full_scans, general_profit, ksm_zero_pages, max_page_sharing, merge_across_nodes, pages_scanned, pages_shared, pages_sharing, pages_skipped, pages_to_scan, pages_unshared, pages_volatile, run, sleep_millisecs, smart_scan, stable_node_chains, stable_node_chains_prune_millisecs, stable_node_dups, use_zero_pages',
    'steps[2].expect["/proc/a/ksm_stat/ksm_merge_any"]: ksm_merge_any is yes or no, got 1',
    'steps[2].expect["/proc/a/ksm_stat/ksm_pages"]: Unknown ksm_stat field "ksm_pages"; expected one of ksm_rmap_items, ksm_zero_pages, ksm_merging_pages, ksm_process_profit, ksm_merge_any, ksm_mergeable',
    'steps[2].expect["/proc/a/status"]: Expect path must be /sys/kernel/mm/ksm/<file>, /sys/kernel/mm/ksm+/<file>, /run/samepage/ksm+/<file>, /proc/<proc>/ksm_stat/<field>, /proc/<proc>/ksm_merging_pages, /proc/<proc>/rss_pages or /proc/vmstat/<cow_ksm|ksm_swpin_copy>, got "/proc/a/status"',
    'steps[2].expect["/sys/kernel/mm/ksm/pages_sharing"]: Comparison must be an operator followed by a number, got ">= many"',
    'steps[2].expect["/proc/a/rss_pages"]: Expected value of a counter must be a number or a comparison, got "big"',
    'steps[2].expect["/proc/a/ksm_merging_pages"]: Expected value must be a number, a string or a comparison such as ">= 512", got true',
    'steps[3].expect: Expect must list at least one path',
  ]);
});

test("parseScenario reads the KSM+ daemon's files: writes to its knobs and lists, checks of its counters", () => {
  const s = steps(`  - sysfs: { path: /run/samepage/ksm+/processes_to_scan, value: "+ app" }
  - sysfs: { path: /run/samepage/ksm+/run, value: 1 }
  - sysfs: { path: /run/samepage/ksm+/rmap_items, value: 1, errno: EACCES }
  - expect: { /run/samepage/ksm+/marked_pages: ">= 1", /run/samepage/ksm+/processes_to_scan: app }
`);
  assert.deepEqual(s[0], {
    kind: 'sysfs',
    path: '/run/samepage/ksm+/processes_to_scan',
    value: '+ app',
    errno: undefined,
  });
  assert.deepEqual(s[1], { kind: 'sysfs', path: '/run/samepage/ksm+/run', value: '1', errno: undefined });
  const messages = problems(`${HEAD}${SPAWN}  - sysfs: { path: /run/samepage/ksm+/rmap_items, value: 1 }
  - sysfs: { path: /run/samepage/ksm+/nope, value: 1 }
  - expect: { /run/samepage/ksm+/marked: 1, /run/samepage/ksm+/marked_pages: many }
`).map((p) => `${p.path}: ${p.message.slice(0, 60)}`);
  assert.deepEqual(messages, [
    'steps[2].sysfs.path: /run/samepage/ksm+/rmap_items is a counter and refuses write',
    'steps[3].sysfs.path: Unknown file "nope" of /run/samepage/ksm+; expected one of p',
    'steps[4].expect["/run/samepage/ksm+/marked"]: Unknown file "marked" of /run/samepage/ksm+; expected one of',
    'steps[4].expect["/run/samepage/ksm+/marked_pages"]: Expected value of a counter must be a number or a comparison',
  ]);
});

test('parseScenario refuses files /sys/kernel/mm/ksm+ does not have, in writes and in expects, listing the ones it has', () => {
  const messages = problems(`${HEAD}${SPAWN}  - sysfs: { path: ksm+/pages_to_scna, value: 10 }
  - sysfs: { path: ksm+/nope, value: 1, errno: ENOENT }
  - expect: { /sys/kernel/mm/ksm+/nosuch: 0, /sys/kernel/mm/ksm+/vma_nodes: 0 }
`).map((p) => `${p.path}: ${p.message}`);
  const list =
    'coefficient_step, drop_coefficient, full_scans, general_profit, initial_coefficient, min_coefficient, pages_scanned, pages_shared, pages_sharing, pages_to_scan, pages_unshared, pages_volatile, processes_to_scan, rmap_items, run, sleep_millisecs, vma_nodes';
  assert.deepEqual(messages, [
    `steps[2].sysfs.path: Unknown file "pages_to_scna" of /sys/kernel/mm/ksm+; expected one of ${list}`,
    `steps[4].expect["/sys/kernel/mm/ksm+/nosuch"]: Unknown file "nosuch" of /sys/kernel/mm/ksm+; expected one of ${list}`,
  ]);
});

test('parseScenario follows procs and regions across spawn, fork, exec, munmap and exit', () => {
  const messages = problems(`${HEAD}${SPAWN}  - fill: { proc: ghost, region: r, pattern: zero }
  - fork: { proc: a, child: b }
  - fill: { proc: b, region: r, pattern: zero }
  - exec: { proc: b, comm: other }
  - fill: { proc: b, region: r, pattern: zero }
  - munmap: { proc: a, region: r }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
  - exit: { proc: a }
  - prctl: { proc: a, option: PR_GET_MEMORY_MERGE }
  - spawn: { proc: b, comm: again }
  - spawn: { proc: a, comm: again }
  - fork: { proc: b, child: b }
  - mmap: { proc: b, region: x, size: 4096 }
  - mmap: { proc: b, region: x, size: 4096 }
  - expect: { /proc/a/rss_pages: 0, /proc/zed/rss_pages: 0, /proc/b/rss_pages: 1 }
`).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(messages, [
    'steps[2].fill.proc: Proc "ghost" was never spawned or forked',
    'steps[6].fill.region: Region "r" is not mapped in proc "b"',
    'steps[8].madvise.region: Region "r" is not mapped in proc "a"',
    'steps[10].prctl.proc: Proc "a" has already exited',
    'steps[11].spawn.proc: Proc "b" already exists',
    'steps[12].spawn.proc: Proc name "a" was used by a process that exited; choose a new name',
    'steps[13].fork.child: Proc "b" already exists',
    'steps[15].mmap.region: Region "x" is already mapped in proc "b"',
    'steps[16].expect["/proc/a/rss_pages"]: Proc "a" of "/proc/a/rss_pages" has already exited',
    'steps[16].expect["/proc/zed/rss_pages"]: Proc "zed" of "/proc/zed/rss_pages" was never spawned or forked',
  ]);
});

test('parseScenario checks that ranges lie within their region and nodes exist', () => {
  const messages = problems(`${HEAD}${SPAWN}  - fill: { proc: a, region: r, pattern: zero, offset: 16KiB }
  - fill: { proc: a, region: r, pattern: zero, offset: 8KiB, size: 12KiB }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE, size: 20KiB }
  - write: { proc: a, region: r, offset: 16383, bytes: "0102" }
  - read: { proc: a, region: r, offset: 16380, size: 8, sha256: "${'0'.repeat(64)}" }
  - mmap: { proc: a, region: n, size: 4096, node: 1 }
`).map((p) => `${p.path}: ${p.message}`);
  assert.deepEqual(messages, [
    'steps[2].fill.offset: Offset must lie within region "r" (16384 bytes), got 16384',
    'steps[3].fill.size: Range must end within region "r" (16384 bytes), got offset 8192 + size 12288 = 20480',
    'steps[4].madvise.size: Range must end within region "r" (16384 bytes), got offset 0 + size 20480 = 20480',
    'steps[5].write.bytes: Range must end within region "r" (16384 bytes), got offset 16383 + size 2 = 16385',
    'steps[6].read.size: Range must end within region "r" (16384 bytes), got offset 16380 + size 8 = 16388',
    'steps[7].mmap.node: NUMA node must be below machine.numa_nodes (1), got 1',
  ]);
});

test('parseScenario accepts byte offsets anywhere inside the region for write and read', () => {
  const s = steps(
    `  - write: { proc: a, region: r, offset: 16383, bytes: "01" }\n  - read: { proc: a, region: r, offset: 1, size: 16383, sha256: "${'f'.repeat(64)}" }\n`,
  );
  assert.equal(s.length, 2);
});

test('formatPath quotes keys that are not identifiers', () => {
  assert.equal(formatPath(['steps', 3, 'mmap', 'size']), 'steps[3].mmap.size');
  assert.equal(formatPath(['steps', 0, 'expect', '/proc/a/rss_pages']), 'steps[0].expect["/proc/a/rss_pages"]');
  assert.equal(formatPath([]), '');
});

test('formatProblems gives one line per problem with path and line when known', () => {
  assert.equal(
    formatProblems('s.yaml', [
      { path: 'steps[3].mmap.size', line: 14, message: 'Size must be a multiple of the page size (4096), got 5000' },
      { path: '', line: undefined, message: 'Scenario file s.yaml is empty' },
    ]),
    's.yaml: steps[3].mmap.size (line 14): Size must be a multiple of the page size (4096), got 5000\ns.yaml: Scenario file s.yaml is empty',
  );
});

test('parseScenario reports an expect step without paths once, whatever its value', () => {
  for (const [value, shown] of [
    ['', 'null'],
    [' null', 'null'],
    [' 5', '5'],
  ] as const) {
    assert.deepEqual(lines(`${HEAD}steps:\n  - expect:${value}\n`), [
      `t.yaml: steps[0].expect (line 4): Expect must be a mapping, got ${shown}`,
    ]);
  }
});

test('parseScenario says what is too large about a number past 2^53 or a wait past the clock', () => {
  const one = (step: string): string[] => lines(`${HEAD}steps:\n  - ${step}\n`);
  assert.deepEqual(one('wait: { ms: 1000000000000000 }'), [
    "t.yaml: steps[0].wait.ms (line 4): Milliseconds must be at most 9007199254 (104 days 5 h: the model's clock counts nanoseconds exactly up to 2^53), got 1000000000000000",
  ]);
  assert.deepEqual(one('wait: { ms: 9007199254740993 }'), [
    "t.yaml: steps[0].wait.ms (line 4): Milliseconds must be at most 9007199254 (104 days 5 h: the model's clock counts nanoseconds exactly up to 2^53), got 9007199254740993",
  ]);
  assert.deepEqual(one('wait: { batches: 0 }'), [
    't.yaml: steps[0].wait.batches (line 4): Batches must be at least 1, got 0',
  ]);
  assert.deepEqual(one('wait: { batches: 2, full_scans: 1 }'), [
    't.yaml: steps[0].wait (line 4): Wait must give exactly one of full_scans, ms or batches',
  ]);
  assert.deepEqual(one('wait: { full_scans: 9007199254740992 }'), [
    't.yaml: steps[0].wait.full_scans (line 4): Full scans must be at most 9007199254740991 (2^53 - 1), got 9007199254740992',
  ]);
  assert.deepEqual(
    lines(`${HEAD}steps:\n  - spawn: { proc: a, comm: x }\n  - mmap: { proc: a, region: r, size: 9007199254740992 }\n`),
    [
      't.yaml: steps[1].mmap.size (line 5): Size must be at most 9007199254740991 bytes (2^53 - 1), got 9007199254740992',
    ],
  );
  assert.deepEqual(lines(`${HEAD}machine: { ram: 2048GiB, numa_nodes: 100000000 }\nsteps: []\n`), [
    "t.yaml: machine.ram (line 3): RAM must be at most 1.0 TiB (the model's frame tables take about 1.1 GB of this machine's memory per TiB), got 2.0 TiB",
    't.yaml: machine.numa_nodes (line 3): NUMA node count must be at most 1024 (MAX_NUMNODES of x86-64), got 100000000',
  ]);
});

test("parseScenario reads the KSM lines of /proc/vmstat as the machine's, not a proc's", () => {
  const s = steps('  - expect: { /proc/vmstat/cow_ksm: 0, /proc/vmstat/ksm_swpin_copy: "<= 1" }\n');
  assert.deepEqual(s, [
    {
      kind: 'expect',
      checks: [
        { path: '/proc/vmstat/cow_ksm', expected: 0 },
        { path: '/proc/vmstat/ksm_swpin_copy', expected: '<= 1' },
      ],
    },
  ]);
  const pgfault = lines(`${HEAD}${SPAWN}  - expect: { /proc/vmstat/pgfault: 1 }\n`);
  assert.match(
    pgfault[0]!,
    /Expect path must be .*\/proc\/vmstat\/<cow_ksm\|ksm_swpin_copy>, got "\/proc\/vmstat\/pgfault"$/,
  );
  assert.equal(pgfault.length, 1, 'no second message about a proc named "vmstat"');
  assert.match(
    lines(`${HEAD}${SPAWN}  - expect: { /proc/vmstat/cow_ksm: many }\n`)[0]!,
    /must be a number or a comparison/,
  );
});

test('parseScenario says an alias bomb and deep nesting in words', () => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x]',
    ...['b', 'c', 'd', 'e', 'f', 'g'].map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdef'[i]}`).join(', ')}]`),
  ].join('\n');
  assert.deepEqual(lines(`${HEAD}${bomb}\nsteps: []\n`), [
    't.yaml: The YAML expands its aliases more than the 100 times samepage follows (a resource exhaustion attack?); write the values out',
  ]);
  // Where the stack overflows depends on how deep the caller already is: each way of
  // reading is checked on its own.
  const deep = `${HEAD}steps:\n  - expect: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
  for (const mode of ['whole', 'chunked'] as const) {
    const r = parseScenario(deep, 't.yaml', { mode, chunkBytes: 1 });
    assert.ok(!r.ok && r.problems.some((p) => /nests too deeply/.test(p.message)), mode);
  }
});

test('parseScenario lists the first 200 problems of a file with hundreds, by line, and counts the rest', () => {
  const all = lines(`${HEAD}steps:\n${'  - mmap: { proc: nobody, region: r, size: 5 }\n'.repeat(300)}`);
  assert.equal(all.length, 201);
  assert.equal(all[0], 't.yaml: steps[0].mmap.size (line 4): Size must be a multiple of the page size (4096), got 5');
  assert.equal(all[1], 't.yaml: steps[0].mmap.proc (line 4): Proc "nobody" was never spawned or forked');
  assert.equal(all[199], 't.yaml: steps[99].mmap.proc (line 103): Proc "nobody" was never spawned or forked');
  assert.equal(all[200], 't.yaml: ... and 400 more problems');
});

test('parseScenario says .inf and .nan are not finite, once each, wherever a number goes', () => {
  const messages = located(`version: 1
name: inf
machine: { ram: .inf }
ksm: { pages_to_scan: .inf }
steps:
  - spawn: { proc: a, comm: a }
  - mmap: { proc: a, region: r, size: -.inf }
  - wait: { ms: .inf }
  - expect: { /sys/kernel/mm/ksm/pages_shared: .nan }
`);
  assert.deepEqual(messages, [
    'machine.ram (line 3): Ram must be a finite number, got .inf (infinity)',
    'ksm.pages_to_scan (line 4): Value must be a finite number, got .inf (infinity)',
    'steps[1].mmap.size (line 7): Size must be a finite number, got -.inf (minus infinity)',
    'steps[2].wait.ms (line 8): Milliseconds must be a finite number, got .inf (infinity)',
    'steps[3].expect["/sys/kernel/mm/ksm/pages_shared"] (line 9): Expected value must be a finite number, got .nan (not a number)',
  ]);
});

test('parseScenario names the field of a fill pattern a value is wrong in, not the whole pattern', () => {
  const messages = located(`version: 1
name: pattern
steps:
  - spawn: { proc: a, comm: a }
  - mmap: { proc: a, region: r, size: 16KiB }
  - fill: { proc: a, region: r, pattern: { byte: .nan } }
  - fill: { proc: a, region: r, pattern: { byte: 1.5 } }
  - fill: { proc: a, region: r, pattern: { byte: "7" } }
  - fill: { proc: a, region: r, pattern: { page-mod: .inf, seed: 1 } }
  - fill: { proc: a, region: r, pattern: { bite: 7 } }
`);
  assert.deepEqual(messages, [
    'steps[2].fill.pattern.byte (line 6): Byte must be a finite number, got .nan (not a number)',
    'steps[3].fill.pattern.byte (line 7): Byte must be an integer, got 1.5',
    'steps[4].fill.pattern.byte (line 8): Byte must be a number, got "7"',
    'steps[5].fill.pattern.page-mod (line 9): Page-mod period must be a finite number, got .inf (infinity)',
    'steps[6].fill.pattern (line 10): Pattern must be zero, byte-cycle, word-index, neg-word-index, {byte: N}, {random: SEED}, {page-mod: N, seed: SEED} or {text: "..."}, got a mapping',
  ]);
});
