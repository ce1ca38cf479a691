import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KSMPLUS_FILES, KSMPLUS_SYSFS_FILES } from '../lib/ksmplus_files.ts';
import { DEFAULT_COST } from '../ksm/cost.ts';
import { KsmPlusDaemon } from '../ksmplus/daemon.ts';
import { KsmPlus } from '../ksmplus/ksmplus.ts';
import { createMemoryManager } from '../mm/memory_manager.ts';
import { VirtualClock } from '../sim/clock.ts';
import { EventQueue } from '../sim/event_queue.ts';
import { ksmPlusSysfs } from './ksmplus_sysfs.ts';

test('ksmPlusSysfs has exactly the files lib/ksmplus_files.ts declares, and a store exactly where it says rw', () => {
  const events = new EventQueue(new VirtualClock());
  const plus = new KsmPlus(createMemoryManager(1025), events, DEFAULT_COST, 0);
  const group = ksmPlusSysfs(plus, new KsmPlusDaemon(plus, events));
  assert.deepEqual([...group.keys()].sort(), [...KSMPLUS_FILES]);
  for (const [name, attr] of group) {
    const mode = KSMPLUS_SYSFS_FILES[name as keyof typeof KSMPLUS_SYSFS_FILES];
    assert.equal(attr.store !== undefined, mode === 'rw', name);
  }
});
