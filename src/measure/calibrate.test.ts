import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostUnusable } from '../host/unusable.ts';
import { runKernelQuietly } from './calibrate.ts';
import type { KernelRun, KernelRunOptions } from './kernel.ts';
import { allUnique } from './workloads.ts';

/** A kernel run of two measured scans of `wallS` each, other work using `othersMs` in each. */
function runWith(othersMs: number | undefined, wallS: number): KernelRun {
  const scan = { pagesScanned: 10, pagesSkipped: 0, pagesToScan: 100, cpuS: 0.1, wallS, othersBusyMs: othersMs };
  return { scans: [scan, scan], counters: {}, clkTck: 100, cpuSource: 'schedstat' };
}

/** runKernelQuietly over runs that others keep `busy[i]` ms busy a scan, with the warnings it gave. */
async function measure(
  busy: ReadonlyArray<number | undefined>,
  wallS = 1,
): Promise<{ runs: number; warnings: string[] }> {
  const warnings: string[] = [];
  const opts: KernelRunOptions = { lockWaitMs: 0, progress: () => undefined, warn: (m) => warnings.push(m) };
  let runs = 0;
  await runKernelQuietly(allUnique(16), opts, async () => runWith(busy[runs++], wallS), 2);
  return { runs, warnings };
}

test('a workload measured while other work used at most 5 % of its scans is kept at once', async () => {
  // 2 scans of 1 s: 100 ms of others' CPU is exactly 5 %.
  assert.deepEqual(await measure([50]), { runs: 1, warnings: [] });
  // Where the others' CPU cannot be read, there is nothing to judge by.
  assert.deepEqual(await measure([undefined]), { runs: 1, warnings: [] });
});

test('a workload measured beside other work is measured again, saying why', async () => {
  const { runs, warnings } = await measure([51, 0]);
  assert.equal(runs, 2);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /other work used 102 ms of CPU during 2000 ms of all-unique's measured scans/);
});

test('three runs beside other work: the machine is too busy to calibrate, a HostUnusable', async () => {
  await assert.rejects(measure([500, 500, 500, 0]), (e: unknown) => {
    assert.ok(e instanceof HostUnusable);
    assert.match((e as Error).message, /too busy to calibrate: other work used 1000 ms .* 3 times/);
    return true;
  });
});

test('a short workload is not measured again for less than the clock ticks resolve', async () => {
  // Two scans of 50 ms: 5 % would be 5 ms, half a tick of /proc/stat; on 2 CPUs 3 ticks a CPU
  // (60 ms) is the least that counts as busy.
  assert.deepEqual(await measure([30], 0.05), { runs: 1, warnings: [] });
  const { runs, warnings } = await measure([31, 0], 0.05);
  assert.equal(runs, 2);
  assert.match(warnings[0] ?? '', /other work used 62 ms of CPU during 100 ms .* \(more than 60 ms/);
});
