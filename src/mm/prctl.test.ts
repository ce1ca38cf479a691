/**
 * prctl(2)'s memory-merge options as kernel/sys.c checks them, measured on Linux 6.18.44:
 * PR_SET_MEMORY_MERGE with arg3..arg5 nonzero and PR_GET_MEMORY_MERGE with arg2..arg5
 * nonzero fail with EINVAL; PR_GET returns 1 while MMF_VM_MERGE_ANY is set, else 0; PR_SET
 * returns what ksm_enable_merge_any / ksm_disable_merge_any return. (The whole path with
 * KSM is in src/ksm/control.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EINVAL } from '../lib/errno.ts';
import { MMF_VM_MERGE_ANY, PR_GET_MEMORY_MERGE, PR_SET_MEMORY_MERGE } from './constants.ts';
import { NO_KSM } from './ksm_hooks.ts';
import { doPrctl } from './prctl.ts';
import { spawnTask } from './process.ts';
import { testMm } from './testing.ts';

test('doPrctl PR_GET_MEMORY_MERGE reads MMF_VM_MERGE_ANY and wants every other argument 0', () => {
  const mmgr = testMm();
  const { mm } = spawnTask(mmgr, 'a');
  assert.equal(doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 0), 0);
  mm.flags |= MMF_VM_MERGE_ANY;
  assert.equal(doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 0), 1);
  assert.equal(doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 1), -EINVAL);
  assert.equal(doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 0, [1, 0, 0]), -EINVAL);
});

test('doPrctl PR_SET_MEMORY_MERGE wants arg3..arg5 0 and passes on what KSM returns', () => {
  const mmgr = testMm();
  const calls: string[] = [];
  mmgr.hooks = {
    ...NO_KSM,
    ksmEnableMergeAny: () => {
      calls.push('enable');
      return 0;
    },
    ksmDisableMergeAny: () => {
      calls.push('disable');
      return -4;
    },
  };
  const { mm } = spawnTask(mmgr, 'a');
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 1, [1, 0, 0]), -EINVAL);
  assert.deepEqual(calls, [], 'refused before KSM is asked');
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 5), 0, 'any nonzero arg2 enables');
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 0), -4);
  assert.deepEqual(calls, ['enable', 'disable']);
  assert.equal(doPrctl(mmgr, mm, 99, 0), -EINVAL);
});
