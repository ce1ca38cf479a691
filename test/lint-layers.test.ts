import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';
import { fakeTree } from './fake_tree.ts';

const SCRIPT = join(packageRoot(import.meta.dirname), 'scripts', 'lint-layers.mjs');

function lint(root: string): { status: number | null; lines: string[] } {
  const run = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { status: run.status, lines: run.stdout.trim().split('\n') };
}

const CLEAN: Readonly<Record<string, string>> = {
  'src/lib/util.ts': 'export const one = 1;\n',
  'src/sim/clock.ts':
    "import { one } from '../lib/util.ts';\n// Math.random in a comment is not a call\nexport const msg = 'Date.now in a string is fine';\n",
  'src/mm/page.ts':
    "import type { one } from '../lib/util.ts';\nexport function f(): void {\n  let local = 0;\n  local++;\n}\n",
  'src/ksm/ksm.ts': "import {\n  f,\n} from '../mm/page.ts';\nexport { f };\n",
  'src/report/table.ts': "import type { RunResult } from '../scenario/records.ts';\n",
  'src/scenario/records.ts': 'export interface RunResult { ok: boolean }\n',
  'src/scenario/run.test.ts': "import '../ksm/ksm.ts';\nimport { helper } from '../../test/helper.ts';\n",
  'src/cli/main.ts': "import '../report/table.ts';\nexport const t = Date.now();\nsetTimeout(() => {}, 1);\n",
  'src/system.ts': "export * from './ksm/ksm.ts';\n",
  'test/helper.ts': 'export const helper = 1;\n',
  // host/ reads the live machine.
  'src/host/procfs.ts':
    "import { readFileSync } from 'node:fs';\nexport const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'utf8');\n",
  // The model names sysfs paths as data, without doing I/O.
  'src/sysfs/names.ts': "export const RUN = '/sys/kernel/mm/ksm/run';\n",
  // A help text that mentions a path in a sentence is prose, even beside node:fs.
  'src/cli/help.ts':
    "import { writeFileSync } from 'node:fs';\nexport const help = '/sys/kernel/mm/ksm+/processes_to_scan, then run=1';\nexport const w = writeFileSync;\n",
  // report/ names result types of the layers that produce them, types only.
  'src/report/compare.ts':
    "import type { PolicyResult } from '../backends/model/policy.ts';\nexport type R = PolicyResult;\n",
  'src/backends/model/policy.ts': 'export interface PolicyResult { ok: boolean }\n',
  'src/differential/diff.ts': "import '../backends/model/policy.ts';\nimport '../host/procfs.ts';\n",
  'src/measure/bench.ts': "import '../system.ts';\nimport '../host/procfs.ts';\nexport const t = performance.now();\n",
  // The raw live writers are the journal's (host/live_writes.ts) and the tests'; readers of
  // the same file are free for all.
  'src/host/ksm_sysfs.ts': 'export const writeSysfs = 1;\nexport const readSysfs = 2;\n',
  'src/host/live_writes.ts': "import { writeSysfs } from './ksm_sysfs.ts';\nexport const w = writeSysfs;\n",
  'src/host/ksm_sysfs.test.ts': "import { writeSysfs } from './ksm_sysfs.ts';\nexport const w = writeSysfs;\n",
  'src/backends/kernel/read.ts': "import { readSysfs } from '../../host/ksm_sysfs.ts';\nexport const r = readSysfs;\n",
  // Tests and the root bench scripts may use src/ (measure/ included), only not the command line.
  'test/run.test.ts': "import '../src/system.ts';\n",
  'bench/run.ts': "import '../src/measure/bench.ts';\n",
};

test('lint-layers accepts a tree that keeps every rule', () => {
  const root = fakeTree('lint', CLEAN);
  try {
    const { status, lines } = lint(root);
    assert.equal(status, 0, lines.join('\n'));
    assert.equal(lines.length, 1);
    assert.match(lines[0] ?? '', /^lint-layers: 23 files/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('lint-layers reports each kind of violation with file and line', () => {
  const root = fakeTree('lint', {
    ...CLEAN,
    // mm never imports ksm (type-only, multi-line: the line is the specifier's).
    'src/mm/bad.ts': "export const a = 1;\nimport type {\n  X,\n} from '../ksm/ksm.ts';\n",
    // report sees records.ts/types.ts only.
    'src/report/bad.ts': "export { run } from '../scenario/run.ts';\n",
    // nothing imports cli, not even through import().
    'src/lib/bad.ts': "export const m = import('../cli/main.ts');\n",
    // non-test code may not use test helpers.
    'src/sim/bad.ts': "import { helper } from '../../test/helper.ts';\n",
    // determinism: outside cli/, backends/kernel/, host/.
    'src/ksm/time.ts': 'export function now(): number {\n  return Date.now() + Math.random();\n}\n',
    'src/backends/model/t.ts': 'export const d = `at ${new Date().toISOString()}`;\n',
    // module state.
    'src/sim/state.ts':
      'let counter = 0;\nexport let shared = 1;\nexport function bump(): number { return ++counter + shared; }\n',
    // a file outside every layer.
    'src/stray.ts': 'export {};\n',
    // TypeScript-private members, where #names are the style; a private constructor is fine.
    'src/lib/members.ts':
      'export class A {\n  private constructor() {}\n  private x = 1;\n  protected static readonly y = 2;\n  #z = 3;\n}\n',
    // Only host/ touches the live machine: a /proc or /sys path beside node:fs elsewhere.
    'src/backends/kernel/peek.ts':
      "import { readFileSync } from 'node:fs';\nexport const s = readFileSync(`/proc/${process.pid}/status`, 'utf8');\n",
    'src/cli/ksm.ts':
      "import { existsSync } from 'node:fs';\nexport const KSM = '/sys/kernel/mm/ksm';\nexport const here = existsSync(KSM);\n",
    // report/ takes types only from the layers that produce results, and nothing of cli.
    'src/report/run.ts': "import { runPolicy } from '../backends/model/policy.ts';\n",
    'src/report/cli.ts': "import type { Io } from '../cli/main.ts';\n",
    // The differential method does not reach into measurements.
    'src/differential/bad.ts': "import '../measure/bench.ts';\n",
    // The raw live writers bypass the journal: named, renamed, as a namespace, or re-exported.
    'src/backends/kernel/raw.ts':
      "import { readSysfs, writeSysfs as w } from '../../host/ksm_sysfs.ts';\nexport { w, readSysfs };\n",
    'src/host/sneaky.ts':
      "import * as sysfs from './ksm_sysfs.ts';\nexport { writeSysfs } from './ksm_sysfs.ts';\nexport const s = sysfs;\n",
    // No test or bench script imports the command line.
    'test/bad.test.ts': "import { main } from '../src/cli/main.ts';\n",
    'bench/bad.ts': "import '../src/cli/main.ts';\n",
  });
  try {
    const { status, lines } = lint(root);
    assert.equal(status, 1);
    const has = (prefix: string, pattern: RegExp): void => {
      assert.ok(
        lines.some((l) => l.startsWith(prefix) && pattern.test(l)),
        `expected ${prefix} ${String(pattern)} in:\n${lines.join('\n')}`,
      );
    };
    has('src/mm/bad.ts:4: ', /mm must not import ksm/);
    has('src/report/bad.ts:1: ', /report must not import scenario/);
    has('src/lib/bad.ts:1: ', /nothing imports cli/);
    has('src/sim/bad.ts:1: ', /outside src\//);
    has('src/ksm/time.ts:2: ', /Date\.now is banned/);
    has('src/ksm/time.ts:2: ', /Math\.random is banned/);
    has('src/backends/model/t.ts:1: ', /new Date\( is banned/);
    has('src/sim/state.ts:1: ', /module-level let/);
    has('src/sim/state.ts:2: ', /module-level let/);
    has('src/stray.ts:1: ', /not in any layer/);
    has('src/lib/members.ts:3: ', /`private` member: use a #name/);
    has('src/lib/members.ts:4: ', /`protected` member: use a #name/);
    has('src/backends/kernel/peek.ts:2: ', /live-machine path '\/proc\/' .* only host\/ reads \/proc and \/sys/);
    has('src/cli/ksm.ts:2: ', /live-machine path '\/sys\/kernel\/mm\/ksm'/);
    has('src/report/run.ts:1: ', /report must not import backends: .*types only \(import type\)/);
    has('src/report/cli.ts:1: ', /report must not import cli: .*nothing imports cli/);
    has('src/differential/bad.ts:1: ', /differential must not import measure/);
    has('src/backends/kernel/raw.ts:1: ', /raw live writer writeSysfs of .*host\/live_changes\.ts/);
    has('src/host/sneaky.ts:1: ', /raw live writers writeSysfs, REAL_SYSFS, restoreKsm/);
    has('src/host/sneaky.ts:2: ', /raw live writer writeSysfs/);
    has('test/bad.test.ts:1: ', /nothing imports cli/);
    has('bench/bad.ts:1: ', /nothing imports cli/);
    assert.match(lines.at(-1) ?? '', /^lint-layers: 22 violations/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
