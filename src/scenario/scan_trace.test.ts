import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fullScansAt, fullScansReachedAt, ScanTraceRecorder } from './scan_trace.ts';

test('ScanTraceRecorder: changes only, on ksmd time summed over waits; records after a wait for full scans have no time', () => {
  const r = new ScanTraceRecorder();
  r.record();
  r.see(0, 0);
  r.see(10, 0);
  r.see(24, 1);
  r.see(30, 1);
  r.endWait(500, false);
  r.record();
  r.see(0, 1);
  r.see(100, 3);
  r.endWait(1500, false);
  r.record();
  r.see(0, 3);
  r.endWait(800, true);
  r.record();
  const t = r.result();
  assert.deepEqual(t.recordAtMs, [0, 500, 2000, undefined]);
  assert.deepEqual(t.fullScans, [
    [0, 0],
    [24, 1],
    [600, 3],
  ]);
  assert.deepEqual([fullScansAt(t, 23.9), fullScansAt(t, 24), fullScansAt(t, 599), fullScansAt(t, 5000)], [0, 1, 1, 3]);
  assert.deepEqual([fullScansReachedAt(t, 2), fullScansReachedAt(t, 4)], [600, undefined]);
});
