import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/package_root.ts';
import { formatConfigProblems, parsePlusConfig } from './config.ts';
import { PLUS_DEFAULTS } from './knobs.ts';

test('parsePlusConfig reads every key of the config file', () => {
  const r = parsePlusConfig(`version: 1
programs: [firefox, python3]
pids: [1234]
cgroups: [/system.slice/app.service]
run: true
keep_marked: true
knobs: { pages_to_scan: 2000, merge_gap: 4 }
ksm: { pages_to_scan: 1000, sleep_millisecs: "50" }
`);
  assert.ok(r.ok);
  assert.deepEqual(r.config, {
    programs: ['firefox', 'python3'],
    pids: [1234],
    cgroups: ['/system.slice/app.service'],
    run: true,
    keepMarked: true,
    knobs: { pages_to_scan: 2000, merge_gap: 4 },
    ksm: { pages_to_scan: '1000', sleep_millisecs: '50', run: '1' },
  });
  const bare = parsePlusConfig('version: 1\n');
  assert.ok(bare.ok);
  assert.deepEqual(bare.config.ksm, {}, 'KSM is not touched unless asked');
});

test('parsePlusConfig lists every problem with its key and line', () => {
  const r = parsePlusConfig(`version: 2
programs: [0123456789abcdef, ok]
pids: [1]
cgroups: [relative]
run: yes
knobs: { pages_to_scan: -1, nope: 3, run: 1 }
ksm: { run: 1 }
extra: 1
`);
  assert.ok(!r.ok);
  assert.deepEqual(
    formatConfigProblems('plus.yaml', r.problems)
      .split('\n')
      .map((l) => l.slice(0, 70)),
    [
      'plus.yaml:8: extra: Unknown key "extra"; expected one of version, prog',
      'plus.yaml:1: version: version must be 1',
      'plus.yaml:2: programs[0]: "0123456789abcdef" is longer than a comm (at',
      'plus.yaml:3: pids[0]: a pid is a whole number above 1',
      'plus.yaml:4: cgroups[0]: a cgroup path starts with /, like /system.sli',
      'plus.yaml:5: run: run must be true or false',
      'plus.yaml:6: knobs.pages_to_scan: pages_to_scan must be a whole number',
      'plus.yaml:6: knobs.nope: Unknown knob "nope"; expected one of pages_to',
      'plus.yaml:6: knobs.run: Unknown knob "run"; expected one of pages_to_s',
      'plus.yaml:7: ksm.run: KSM knob "run" is not one the daemon holds; expe',
    ],
  );
  const broken = parsePlusConfig('version: 1\nprograms: [a\n');
  assert.ok(!broken.ok && broken.problems[0]!.line !== undefined);
});

test('the shipped example config (examples/plus/plus.yaml) is valid and gives the defaults as its knobs', () => {
  const root = packageRoot(import.meta.dirname);
  const r = parsePlusConfig(readFileSync(join(root, 'examples', 'plus', 'plus.yaml'), 'utf8'));
  assert.ok(r.ok, r.ok ? '' : formatConfigProblems('plus.yaml', r.problems));
  for (const [k, v] of Object.entries(r.config.knobs))
    assert.equal(v, PLUS_DEFAULTS[k as keyof typeof PLUS_DEFAULTS], k);
});
