import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceKsmd } from './ksmd_trace.ts';
import { HostUnusable } from './unusable.ts';

test('traceKsmd where tracefs cannot be had: HostUnusable naming why, and the work is not run', async () => {
  let ran = false;
  await assert.rejects(
    traceKsmd(async () => {
      ran = true;
    }, '/nonexistent/samepage-tracefs'),
    (e: unknown) =>
      e instanceof HostUnusable &&
      (/tracefs is not mounted at \/nonexistent\/samepage-tracefs and could not be mounted/.test(e.message) ||
        /ksmd is not running/.test(e.message)),
  );
  assert.equal(ran, false);
});
