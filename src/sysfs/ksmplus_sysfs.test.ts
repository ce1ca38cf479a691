import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KSMPLUS_FILES, KSMPLUS_SYSFS_FILES } from '../lib/ksmplus_files.ts';
import { createSystem } from '../system.ts';

test('ksmPlusSysfs has exactly the files lib/ksmplus_files.ts declares, and a store exactly where it says rw', () => {
  const sys = createSystem({ ram: 64 << 20 });
  const group = sys.sysfs.get('ksm+');
  assert.ok(group !== undefined);
  assert.deepEqual([...group.keys()].sort(), [...KSMPLUS_FILES]);
  for (const [name, attr] of group) {
    const mode = KSMPLUS_SYSFS_FILES[name as keyof typeof KSMPLUS_SYSFS_FILES];
    assert.equal(attr.store !== undefined, mode === 'rw', name);
  }
});
