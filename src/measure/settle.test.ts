import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { EBUSY } from '../lib/errno.ts';
import { KSM_DIR } from '../host/ksm_sysfs.ts';
import { liveSettle } from './settle.ts';

/** liveSettle reads KSM's counters before it writes: it needs them, not the right to write. */
function noCounters(): string | false {
  try {
    accessSync(`${KSM_DIR}/pages_sharing`, constants.R_OK);
    return false;
  } catch {
    return `${KSM_DIR}/pages_sharing is not readable here`;
  }
}

test('liveSettle names the errno when Linux refuses run=1, and writes nothing else', {
  skip: noCounters(),
}, async () => {
  const writes: string[] = [];
  await assert.rejects(
    liveSettle((path, value) => {
      writes.push(`${path}=${value}`);
      return -EBUSY;
    }),
    { message: `Writing 1 to ${KSM_DIR}/run failed (EBUSY)` },
  );
  assert.deepEqual(writes, [`${KSM_DIR}/run=1`]);
});
