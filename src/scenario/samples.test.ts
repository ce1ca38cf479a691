import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CounterSample } from './records.ts';
import { SampleRecorder } from './samples.ts';

function at(time_ms: number, sharing: number, label?: string): CounterSample {
  return {
    time_ms,
    ...(label === undefined ? {} : { label }),
    ksm: { pages_sharing: sharing },
    merging: { a: sharing },
  };
}

test('SampleRecorder keeps a sample when a counter changed, and always a record or a forced one', () => {
  const r = new SampleRecorder('change');
  r.add(at(0, 0));
  r.add(at(1, 0));
  r.add(at(2, 5));
  r.add(at(3, 5));
  r.add(at(4, 5, 'rec'));
  r.add(at(5, 5), true);
  r.add({ ...at(6, 5), merging: { a: 5, b: 0 } }, false);
  const s = r.result();
  assert.equal(s.every, 'change');
  assert.equal(s.bucket_ms, 0);
  assert.deepEqual(
    s.points.map((p) => [p.time_ms, p.label ?? '']),
    [
      [0, ''],
      [2, ''],
      [4, 'rec'],
      [5, ''],
      [6, ''],
    ],
    'unchanged samples at 1 and 3 add nothing; a process appearing is a change',
  );
});

test('SampleRecorder thins a long run into buckets that keep when each level was reached, and every record', () => {
  const cap = 400;
  const r = new SampleRecorder('change', cap);
  // A counter that climbs by one every ms for 50 s, then holds for 50 s; a record every 10 s.
  for (let t = 0; t <= 100_000; t++) {
    const v = Math.min(t, 50_000);
    r.add(at(t, v, t % 10_000 === 0 ? `r${t}` : undefined), t === 100_000);
  }
  const s = r.result();
  assert.ok(s.points.length <= cap, `${s.points.length} samples kept of a cap of ${cap}`);
  assert.ok(s.bucket_ms > 0);
  assert.deepEqual(
    s.points.filter((p) => p.label !== undefined).map((p) => p.time_ms),
    [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000, 100_000],
  );
  assert.equal(s.points[0]?.time_ms, 0);
  assert.equal(s.points.at(-1)?.time_ms, 100_000);
  // The top is shown reached at 50 s to within a bucket, not at the end of the run.
  const top = s.points.find((p) => p.ksm.pages_sharing === 50_000);
  assert.ok(top !== undefined && Math.abs(top.time_ms - 50_000) <= s.bucket_ms, `top reached at ${top?.time_ms} ms`);
  // Time only moves forward, and every level kept is one the counter had then.
  for (const [i, p] of s.points.entries()) {
    assert.equal(p.ksm.pages_sharing, Math.min(p.time_ms, 50_000));
    if (i > 0) assert.ok(p.time_ms > s.points[i - 1]!.time_ms);
  }
});

test('SampleRecorder keeps, for polled samples, the last unchanged one before a change, so a line does not ramp', () => {
  const polled = new SampleRecorder('poll');
  const changed = new SampleRecorder('change');
  for (const r of [polled, changed]) {
    r.add(at(0, 0));
    r.add(at(100, 0));
    r.add(at(200, 0));
    r.add(at(300, 5));
    r.add(at(400, 5));
  }
  // Straight lines through 0 ms, 200 ms and 300 ms: level at 0 until 200 ms, then the rise.
  assert.deepEqual(
    polled.result().points.map((p) => p.time_ms),
    [0, 200, 300],
  );
  // Steps (the model's samples) need no such point: the level holds until the next sample.
  assert.deepEqual(
    changed.result().points.map((p) => p.time_ms),
    [0, 300],
  );
});
