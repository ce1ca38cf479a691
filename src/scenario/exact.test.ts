import { test } from 'node:test';
import assert from 'node:assert/strict';
import { whyNotExact } from './exact.ts';
import { parseScenario } from './parse.ts';
import type { Scenario } from './types.ts';

function scenario(steps: string, head = ''): Scenario {
  const parsed = parseScenario(`version: 1\nname: t\n${head}steps:\n${steps}`, 't.yaml');
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.scenario;
}

const MERGE = `  - spawn: { proc: a, comm: a }
  - mmap: { proc: a, region: r, size: 8KiB }
  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }
`;

test('whyNotExact accepts full-scan waits and timed waits while ksmd is held', () => {
  const s = scenario(
    `${MERGE}  - wait: { ms: 50 }\n  - sysfs: { path: ksm/run, value: "1" }\n  - wait: { full_scans: 2 }\n  - sysfs: { path: /sys/kernel/mm/ksm/run, value: "0" }\n  - wait: { ms: 50 }\n`,
  );
  assert.equal(whyNotExact(s, 1), undefined);
});

test('whyNotExact refuses a timed wait with ksmd running, from a step or the ksm block', () => {
  const s = scenario(`${MERGE}  - sysfs: { path: ksm/run, value: "1" }\n  - wait: { ms: 50 }\n`);
  assert.match(whyNotExact(s, 1) ?? '', /^steps\[4\] waits 50 ms with ksmd running/);
  assert.match(
    whyNotExact(scenario(`${MERGE}  - wait: { ms: 5 }\n`, 'ksm:\n  run: 1\n'), 1) ?? '',
    /^steps\[3\] waits 5 ms/,
  );
  // A write that is expected to fail leaves run as it was.
  const refused = scenario(`${MERGE}  - sysfs: { path: ksm/run, value: "1x", errno: EINVAL }\n  - wait: { ms: 50 }\n`);
  assert.equal(whyNotExact(refused, 1), undefined);
});

test('whyNotExact refuses the KSM+ interface and more NUMA nodes than the machine has', () => {
  assert.match(
    whyNotExact(scenario(`  - sysfs: { path: ksm+/run, value: "1" }\n`), 1) ?? '',
    /steps\[0\] writes ksm\+\/run: the KSM\+ interface/,
  );
  const check = scenario(`  - expect: { /sys/kernel/mm/ksm+/pages_sharing: 0 }\n`);
  assert.match(whyNotExact(check, 1) ?? '', /steps\[0\] checks \/sys\/kernel\/mm\/ksm\+\/pages_sharing/);
  const numa = scenario(MERGE, 'machine:\n  numa_nodes: 2\n');
  assert.equal(whyNotExact(numa, 1), 'needs 2 NUMA nodes, this machine has 1');
  assert.equal(whyNotExact(numa, 2), undefined);
});
