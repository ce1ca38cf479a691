/**
 * ksmd's batches from a trace of the live kernel (host/ksmd_trace.ts, lib/ksmd_trace.ts),
 * checked against what mm/ksm.c and the timer wheel say they must be:
 *   - 4,096 pages at pages_to_scan 500 are scanned in batches of 500 (8 of them) and one of
 *     96, since ksm_do_scan returns at the end of the mm list: a scan begins in every 9th
 *     batch and ends in the batch before the next begins;
 *   - at sleep_millisecs 20, ksmd sleeps msecs_to_jiffies(20) jiffies (5 at HZ 250), which
 *     the timer wheel rounds up to the next bucket, so a batch that ends within the tick it
 *     began in starts again 6 ticks after it (24 ms at HZ 250);
 * and the trace leaves the machine as it found it: no trace instance left, tracefs mounted
 * only if it was. Skips, saying why, where the kernel backend cannot run or tracefs cannot
 * be used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createKernelBackend } from '../src/backends/kernel/index.ts';
import { differentialSkipReason } from '../src/backends/kernel/testing.ts';
import { configHz } from '../src/host/machine.ts';
import { samepageTraceInstances, TRACEFS, traceKsmd } from '../src/host/ksmd_trace.ts';
import { HostUnusable } from '../src/host/unusable.ts';
import { summarizeBatches } from '../src/lib/ksmd_batches.ts';
import { parseScenario } from '../src/scenario/parse.ts';
import type { RunResult } from '../src/scenario/records.ts';
import { runScenario } from '../src/scenario/run.ts';
import { msecsToJiffies, tickNs } from '../src/sim/timer.ts';

const unavailable = await differentialSkipReason();

const SCENARIO =
  'version: 1\nname: trace\nksm: { run: 2, pages_to_scan: 500, sleep_millisecs: 20, smart_scan: 0 }\nsteps:\n' +
  '  - spawn: { proc: t, comm: trace }\n  - mmap: { proc: t, region: r, size: 16MiB }\n' +
  '  - fill: { proc: t, region: r, pattern: { random: 3 } }\n' +
  '  - madvise: { proc: t, region: r, advice: MADV_MERGEABLE }\n' +
  '  - sysfs: { path: ksm/run, value: "1" }\n  - wait: { ms: 1500 }\n  - record: { label: end }\n';

test("a trace of the live ksmd: its scans' batches and its sleeps as mm/ksm.c and the timer wheel make them", {
  skip: unavailable,
}, async (t) => {
  const parsed = parseScenario(SCENARIO, 'trace.yaml');
  assert.ok(parsed.ok);
  const mountedBefore = existsSync(`${TRACEFS}/instances`);
  let traced: Awaited<ReturnType<typeof traceKsmd<RunResult>>>;
  try {
    traced = await traceKsmd(() => runScenario(parsed.scenario, createKernelBackend({ onWarning: () => undefined })));
  } catch (e) {
    if (e instanceof HostUnusable) return t.skip(`ksmd cannot be traced here: ${e.message}`);
    throw e;
  }
  assert.equal(traced.result.error, undefined);
  assert.deepEqual(samepageTraceInstances(), [], 'the trace instance is removed');
  assert.equal(existsSync(`${TRACEFS}/instances`), mountedBefore, 'tracefs is mounted as it was');

  // The batches of the wait: the last is the hold after it (ksmd wakes, finds KSM stopped, waits untimed).
  const batches = traced.trace.batches;
  const timed = batches.filter((b) => b.timed);
  assert.ok(timed.length >= 40, `${timed.length} timed batches in 1.5 s`);
  assert.ok(timed[0]!.passStarted, 'the first batch begins a scan');
  timed.forEach((b, i) => {
    assert.equal(b.passStarted, i % 9 === 0, `batch ${i} begins a scan`);
    assert.equal(b.passesEnded, i % 9 === 8 ? 1 : 0, `batch ${i} ends a scan`);
  });

  const hz = configHz();
  if (hz === undefined) return t.diagnostic('CONFIG_HZ unknown: cycles not checked');
  const s = summarizeBatches([batches], tickNs(hz));
  const expected = msecsToJiffies(20, hz) + 1;
  const cycles = s.cycleTicks.reduce((a, b) => a + b, 0);
  // A batch of 500 pages takes 1-2.5 ms; one that runs past a tick (or a late wake-up) makes
  // its cycle a tick longer, which a quiet machine keeps rare. (The first batch, woken by the
  // write of run mid-tick, is not counted: summarizeBatches counts the tick's wake-ups.)
  assert.ok((s.cycleTicks[expected] ?? 0) >= 0.8 * cycles, `cycles in ticks: ${JSON.stringify(s.cycleTicks)}`);
  // No sleep is shorter than the sleep rounded up. A cycle, from one batch's beginning to
  // the next's, can still measure a tick short when its first batch woke more than half a
  // tick late (this VM's vCPU ran late) and the next on time; then the cycle before it is a
  // tick long or longer. CI saw one such cycle on 2026-12-05 (01:24 UTC), in 1 of 2 runs.
  const tick = tickNs(hz);
  const sequence: number[] = [];
  for (let i = 1; i + 1 < batches.length; i++) {
    const [a, b, c] = [batches[i - 1]!, batches[i]!, batches[i + 1]!];
    if (!a.timed || !b.timed || b.whole === false || c.whole === false) continue;
    sequence.push(Math.round((c.beginNs - b.beginNs) / tick));
  }
  sequence.forEach((k, i) => {
    if (k >= expected) return;
    assert.equal(k, expected - 1, `cycle ${i} of ${k} ticks: ${JSON.stringify(sequence)}`);
    assert.ok(
      (sequence[i - 1] ?? 0) > expected,
      `cycle ${i} is a tick short after one that is not long: ${JSON.stringify(sequence)}`,
    );
  });
});
