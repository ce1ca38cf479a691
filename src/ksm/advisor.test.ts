/**
 * scan_time_advisor of mm/ksm.c, step by step. Each expected pages_to_scan is worked out by
 * hand from the kernel's formula (unsigned longs, truncating division) in the comment above
 * it: scan_time = elapsed s (at least 1), cpu_percent = cpu_ms*100/(scan_time*1000) (at
 * least 1), factor = target*100/scan_time, change = EWMA(30%) of scan_time*100/last,
 * pages = pages_to_scan*100/factor*change/100, clamped to [ppc*10, ppc*max_cpu] with
 * ppc = pages_to_scan/cpu_percent, then to advisor_max_pages_to_scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advisorStartScan, advisorStopScan, newAdvisorCtx } from './advisor.ts';
import type { Ksm } from './ksm.ts';
import { testMachine } from './testing.ts';

const S = 1e9;

/** A Ksm in scan-time mode with a fresh context, as advisor_mode_store leaves it. */
function advised(pagesToScan: number): Ksm {
  const { ksm } = testMachine();
  ksm.advisorMode = 'scan-time';
  ksm.advisorCtx = newAdvisorCtx();
  ksm.pagesToScan = pagesToScan;
  return ksm;
}

/** One full scan lasting `seconds` of virtual time during which ksmd used `cpuSeconds`. */
function scan(ksm: Ksm, seconds: number, cpuSeconds: number): number {
  advisorStartScan(ksm);
  ksm.events.clock.advanceTo(ksm.events.clock.now() + seconds * S);
  ksm.cpuNs += cpuSeconds * S;
  advisorStopScan(ksm);
  return ksm.pagesToScan;
}

test('scanTimeAdvisor: the floor of 10% CPU decides while the scan is far shorter than the target', () => {
  const ksm = advised(500);
  // scan 10.5 s -> 10; cpu 1500 ms -> 15%; factor 2000; change 100 -> 30 (EWMA from 0);
  // pages 500*100/2000 = 25, 25*30/100 = 7; ppc 500/15 = 33: max(min(7, 2310), 330) = 330.
  assert.equal(scan(ksm, 10.5, 1.5), 330);
  assert.deepEqual(
    { change: ksm.advisorCtx.change, scanTime: ksm.advisorCtx.scanTime },
    { change: 30n, scanTime: 10n },
  );
  // scan 20.9 s -> 20; cpu 500 ms -> 2%; factor 1000; change 200 -> (70*30+30*200)/100 = 81;
  // pages 330*100/1000 = 33, 33*81/100 = 26; ppc 330/2 = 165: max(26, 1650) = 1650.
  assert.equal(scan(ksm, 20.9, 0.5), 1650);
  assert.equal(ksm.advisorCtx.change, 81n);
});

test('scanTimeAdvisor: the smoothed rate itself when the scan meets its target at 50% CPU', () => {
  const ksm = advised(1000);
  // scan 200 s; cpu 100 s -> 50%; factor 100; change 30; pages 1000*30/100 = 300;
  // ppc 20: min(300, 1400) = 300, max(300, 200) = 300.
  assert.equal(scan(ksm, 200, 100), 300);
});

test('scanTimeAdvisor: advisor_max_cpu and advisor_max_pages_to_scan cap the result', () => {
  const cpuCapped = advised(1000);
  cpuCapped.advisorMaxCpu = 50;
  // scan 400 s; cpu 400 s -> 100%; factor 50; pages 2000*30/100 = 600; ppc 10: min(600, 500).
  assert.equal(scan(cpuCapped, 400, 400), 500);
  const pagesCapped = advised(1000);
  pagesCapped.advisorMaxPagesToScan = 250n;
  assert.equal(scan(pagesCapped, 200, 100), 250);
});

test("scanTimeAdvisor: the first step counts all of ksmd's earlier CPU time, since the context starts at 0", () => {
  const fresh = advised(500);
  // cpu 1 ms over 1 s -> 0 -> 1%; ppc 500; pages 0: max(0, 5000) = 5000.
  assert.equal(scan(fresh, 0.2, 0.001), 5000);
  const busy = advised(500);
  busy.cpuNs = 3 * S;
  // 3 s of earlier CPU: cpu_percent 300, ppc 500/300 = 1: max(0, 10) = 10, as the live
  // kernel gave in the trace advisor-scan-time with ksmd at 3.0 s of runtime.
  assert.equal(scan(busy, 0.2, 0.001), 10);
});

test('advisorStopScan leaves pages_to_scan alone when the advisor is off', () => {
  const ksm = advised(777);
  ksm.advisorMode = 'none';
  assert.equal(scan(ksm, 10, 5), 777);
});
