/**
 * machine.mm_forbids_zeropage on the model, whole: 16 pages only read, then KSM. Expected
 * figures from the live kernel (Linux 6.18.44 booted with pvm_no_zero_page=1, 2026-12-05,
 * `samepage run --backend kernel` of the same steps): pages_shared 1, pages_sharing 15,
 * rss_pages 16, ksm_process_profit 64512 (15 pages saved, 16 rmap_items of 64 bytes). On
 * upstream Linux the reads map the zero page: nothing to merge, rss_pages 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseScenario } from '../../scenario/parse.ts';
import type { RunResult } from '../../scenario/records.ts';
import { runScenario } from '../../scenario/run.ts';
import { createModelBackend, type ModelBackendOptions } from './index.ts';

function scenario(machine: string) {
  const r = parseScenario(
    `version: 1\nname: z\n${machine}ksm: { run: 1 }\nsteps:\n  - spawn: { proc: a, comm: x }\n` +
      '  - mmap: { proc: a, region: r, size: 64KiB }\n' +
      '  - read: { proc: a, region: r, offset: 0, size: 64KiB, sha256: de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31 }\n' +
      '  - madvise: { proc: a, region: r, advice: MADV_MERGEABLE }\n  - wait: { full_scans: 3 }\n  - record: { label: end }\n',
    'z.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  return r.scenario;
}

async function end(machine: string, opts: Partial<ModelBackendOptions> = {}) {
  const run: RunResult = await runScenario(scenario(machine), createModelBackend({ seed: 0, ...opts }));
  assert.ok(run.ok, run.error);
  const rec = run.records.at(-1)!;
  return {
    shared: rec.ksm.pages_shared,
    sharing: rec.ksm.pages_sharing,
    rss: rec.procs.a?.rss_pages,
    profit: rec.procs.a?.ksm_process_profit,
  };
}

test('where the zero page is forbidden, pages only read are allocated and merged as the live kernel merges them', async () => {
  assert.deepEqual(await end('machine: { mm_forbids_zeropage: true }\n'), {
    shared: 1,
    sharing: 15,
    rss: 16,
    profit: 64512,
  });
});

test('by default pages only read map the zero page: nothing to merge', async () => {
  assert.deepEqual(await end(''), { shared: 0, sharing: 0, rss: 0, profit: 0 });
});

test("the scenario's machine.mm_forbids_zeropage wins over the backend's option; the option applies where it is left out", async () => {
  assert.equal((await end('', { mmForbidsZeropage: true })).sharing, 15);
  assert.equal((await end('machine: { mm_forbids_zeropage: false }\n', { mmForbidsZeropage: true })).sharing, 0);
});
