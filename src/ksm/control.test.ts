/**
 * prctl(PR_SET/GET_MEMORY_MERGE) through KSM, and MERGE_ANY across exec. The return values
 * were measured on Linux 6.18.44 with a small program (python ctypes): GET 0 at first; SET 1
 * returns 0, and again 0 (already set), and SET 5 returns 0; GET then 1; SET with a nonzero
 * arg3 and GET with a nonzero arg3 EINVAL; SET 0 returns 0, twice; GET 0. Exec keeping
 * MERGE_ANY and registering the new mm is ksm_functional_tests' test_prctl_fork_exec
 * (scenarios/functional-prctl-fork-exec.yaml, recorded on the kernel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EINVAL } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MMF_VM_MERGEABLE, PR_GET_MEMORY_MERGE, PR_SET_MEMORY_MERGE, VM_MERGEABLE } from '../mm/constants.ts';
import { doMmap } from '../mm/mmap.ts';
import { doPrctl } from '../mm/prctl.ts';
import { execTask, forkTask, spawnTask } from '../mm/process.ts';
import { testMachine } from './testing.ts';

test('doPrctl through KSM returns what Linux 6.18 returns for PR_SET and PR_GET_MEMORY_MERGE', () => {
  const { mmgr, ksm } = testMachine();
  const { mm } = spawnTask(mmgr, 'a');
  const got = (): number => doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 0);
  assert.equal(got(), 0);
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 1), 0);
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 1), 0);
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 5), 0);
  assert.equal(got(), 1);
  assert.ok(ksm.slots.has(mm), 'registered with KSM');
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 1, [1, 0, 0]), -EINVAL);
  assert.equal(doPrctl(mmgr, mm, PR_GET_MEMORY_MERGE, 0, [1, 0, 0]), -EINVAL);
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 0), 0);
  assert.equal(doPrctl(mmgr, mm, PR_SET_MEMORY_MERGE, 0), 0);
  assert.equal(got(), 0);
  assert.ok(ksm.slots.has(mm), 'clearing MERGE_ANY leaves the mm registered');
});

test('execTask keeps MERGE_ANY: the new mm is registered and its new mappings are mergeable', () => {
  const { mmgr, ksm } = testMachine();
  const parent = spawnTask(mmgr, 'parent');
  assert.equal(doPrctl(mmgr, parent.mm, PR_SET_MEMORY_MERGE, 1), 0);
  const child = forkTask(mmgr, parent);
  assert.equal(doPrctl(mmgr, child.mm, PR_GET_MEMORY_MERGE, 0), 1, 'inherited over fork');
  execTask(mmgr, child, 'exec-child');
  assert.equal(doPrctl(mmgr, child.mm, PR_GET_MEMORY_MERGE, 0), 1, 'kept over exec');
  assert.notEqual(child.mm.flags & MMF_VM_MERGEABLE, 0);
  assert.ok(ksm.slots.has(child.mm), 'ksm_execve registered the new mm');
  const addr = doMmap(mmgr, child.mm, 4 * PAGE_SIZE);
  assert.notEqual((child.mm.findVma(addr)?.vmFlags ?? 0) & VM_MERGEABLE, 0, 'ksm_vma_flags marks new VMAs');
});
