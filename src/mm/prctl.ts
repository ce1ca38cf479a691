import { EINVAL } from '../lib/errno.ts';
import { MMF_VM_MERGE_ANY, PR_GET_MEMORY_MERGE, PR_SET_MEMORY_MERGE } from './constants.ts';
import type { MemoryManager } from './memory_manager.ts';
import type { MmStruct } from './mm_struct.ts';

/**
 * prctl(2) for the memory-merge options. arg3..arg5 must be zero, as Linux checks.
 * @linux kernel/sys.c prctl (partial: PR_SET_MEMORY_MERGE, PR_GET_MEMORY_MERGE)
 */
export function doPrctl(
  mmgr: MemoryManager,
  mm: MmStruct,
  option: number,
  arg2: number,
  rest: readonly number[] = [],
): number {
  if (rest.some((a) => a !== 0)) return -EINVAL;
  if (option === PR_SET_MEMORY_MERGE) {
    return arg2 !== 0 ? mmgr.hooks.ksmEnableMergeAny(mm) : mmgr.hooks.ksmDisableMergeAny(mm);
  }
  if (option === PR_GET_MEMORY_MERGE) {
    if (arg2 !== 0) return -EINVAL;
    return (mm.flags & MMF_VM_MERGE_ANY) !== 0 ? 1 : 0;
  }
  return -EINVAL;
}
