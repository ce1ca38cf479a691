import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KSM_FILES, KSM_SYSFS_FILES } from '../lib/ksm_files.ts';
import { testMachine } from '../ksm/testing.ts';
import { ksmSysfs } from './ksm_sysfs.ts';

test('ksmSysfs has exactly the files of Linux 6.18, and a store exactly where the file takes writes', () => {
  // The mode bits of /sys/kernel/mm/ksm on Linux 6.18 are what lib/ksm_files.ts declares.
  const m = testMachine();
  const group = ksmSysfs(m.ksm, m.ksmd);
  assert.deepEqual([...group.keys()].sort(), [...KSM_FILES]);
  for (const [name, attr] of group) {
    const mode = KSM_SYSFS_FILES[name as keyof typeof KSM_SYSFS_FILES];
    assert.equal(attr.store !== undefined, mode === 'rw', name);
  }
});
