import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alignedTicks, tickWakePhasesNs } from './ksmd_batches.ts';
import { parseKsmdTrace } from './ksmd_trace.ts';

/**
 * Lines of a live trace (Linux 6.18.44, 2 CPUs, HZ 250; the timing cell 1000/1/smart_scan 1,
 * ksmd pid 39), cut in five pieces: the scan's first batch with lru_add_drain_all's waits
 * (D), a batch preempted (R+) by a task whose name has a colon and a dash, a hold of ksmd
 * between two steps (a wake-up that finds KSM stopped and waits, untimed), and a batch that
 * runs a whole scan of skipped pages.
 */
function fixture(): string {
  const name = 'ksmd-trace-1000-1-smart1.txt';
  const fromDist = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', name);
  return readFileSync(
    existsSync(fromDist) ? fromDist : join(import.meta.dirname, '..', '..', 'test', 'fixtures', name),
    'utf8',
  );
}

/** ns of a trace stamp written as seconds. */
const ns = (s: string): number => {
  const [a, b] = s.split('.');
  return Number(a) * 1e9 + Number(b!.padEnd(9, '0'));
};

test("parseKsmdTrace: each batch from ksmd's run after a sleep to its next sleep, its CPU summed over its runs", () => {
  const batches = parseKsmdTrace(fixture(), 39);
  const got = batches.map((b) => [b.beginNs, b.cpuNs / 1e3, b.wallNs / 1e3, b.passStarted, b.passesEnded, b.timed]);
  assert.deepEqual(got, [
    // In at .208071, out in D at .208091 and .208101, in again .208358 to the sleep at .209335.
    [ns('30432.208071'), 20 + 3 + 977, 1264, true, 0, true],
    // Preempted at .473522 (R+), back at .473551, asleep at .475871.
    [ns('30432.472036'), 1486 + 2320, 3835, false, 0, true],
    [ns('30432.705282'), 5010, 5010, false, 0, true],
    // The hold: no timer armed before the sleep.
    [ns('30432.716048'), 4, 4, false, 0, false],
    [ns('30432.751469'), 6189, 6189, false, 0, true],
    [ns('30432.764133'), 5153, 5153, false, 0, true],
    [ns('30432.776034'), 4769, 4769, false, 0, true],
    [ns('30432.788048'), 4592, 4592, false, 0, true],
    // A whole scan: begun and ended in one batch.
    [ns('30433.456056'), 17 + 4314, 4401, true, 1, true],
  ]);
});

test('parseKsmdTrace: the batch running when the trace began, and one still running at its end, are left out', () => {
  const lines = fixture().split('\n');
  // Without the sleep before it, the scan's first batch may have begun before the trace: left out.
  const cut = lines.filter((l) => !l.includes('30432.205548') && !l.includes('30432.205532')).join('\n');
  assert.equal(parseKsmdTrace(cut, 39)[0]?.beginNs, ns('30432.472036'));
  // The fixture ends with ksmd running after its last sleep: nine batches, not ten.
  assert.equal(parseKsmdTrace(fixture(), 39).length, 9);
  assert.deepEqual(parseKsmdTrace('# tracer: nop\n', 39), []);
  // Another pid's trace gives no batches of this one.
  assert.deepEqual(parseKsmdTrace(fixture(), 40), []);
});

test('the live trace: batches woken by the tick began 34-133 µs past a multiple of 4 ms (one waited for kdamond)', () => {
  const phases = tickWakePhasesNs(parseKsmdTrace(fixture(), 39), 4e6).map((ns) => ns / 1e3);
  // Each timestamp's microseconds modulo 4,000, by hand; the hold's batch (after a wait for
  // work) is not among them. At .705282 ksmd was woken at .704065 but kdamond had the CPU.
  assert.deepEqual(phases, [36, 1282, 48, 133, 34, 48, 56]);
  assert.ok(
    alignedTicks(
      phases.map((us) => us * 1e3),
      4e6,
    ),
  );
});

/** Seven lines of a live trace (pages_to_scan 500, sleep_millisecs 20) that lost the switch to ksmd before .397806. */
const LOST = `            ksmd-39      [000] d..1. 36332.373437: timer_start: timer=00000000435b01aa function=process_timeout expires=4303975330 [timeout=5] bucket_expiry=4303975331 cpu=0 idx=35 flags=
            ksmd-39      [000] d..2. 36332.373441: sched_switch: prev_comm=ksmd prev_pid=39 prev_prio=125 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120
            ksmd-39      [000] d..1. 36332.397806: timer_start: timer=00000000435b01aa function=process_timeout expires=4303975336 [timeout=5] bucket_expiry=4303975337 cpu=0 idx=41 flags=
            ksmd-39      [000] d..2. 36332.397812: sched_switch: prev_comm=ksmd prev_pid=39 prev_prio=125 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120
          <idle>-0       [000] d..2. 36332.420063: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=ksmd next_pid=39 next_prio=125
            ksmd-39      [000] d..1. 36332.421882: timer_start: timer=00000000435b01aa function=process_timeout expires=4303975342 [timeout=5] bucket_expiry=4303975343 cpu=0 idx=47 flags=
            ksmd-39      [000] d..2. 36332.421887: sched_switch: prev_comm=ksmd prev_pid=39 prev_prio=125 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120
`;

test('parseKsmdTrace: a batch whose beginning the trace lost is kept, marked not whole, from its first event', () => {
  const got = parseKsmdTrace(LOST, 39).map((b) => [
    b.beginNs,
    b.cpuNs / 1e3,
    b.passStarted,
    b.passesEnded,
    b.timed,
    b.whole,
  ]);
  assert.deepEqual(got, [
    [ns('36332.397806'), 6, false, 0, true, false],
    [ns('36332.420063'), 1824, false, 0, true, true],
  ]);
});
