import { EINVAL, ENOMEM } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_DONTNEED, MADV_MERGEABLE, MADV_UNMERGEABLE, VM_LOCKED, VM_PFNMAP } from './constants.ts';
import type { MemoryManager } from './memory_manager.ts';
import { zapPageRange } from './memory.ts';
import type { MmStruct } from './mm_struct.ts';
import { vmasInRange } from './mmap.ts';

/**
 * madvise(2) for the advice the model knows. KSM advice goes to ksm_madvise per VMA; the
 * range is split only where flags really change. An unmapped hole in the range still lets
 * the advice apply to the mapped parts, then returns -ENOMEM, as Linux does.
 * @linux mm/madvise.c do_madvise (partial: MADV_MERGEABLE, MADV_UNMERGEABLE, MADV_DONTNEED)
 */
export function doMadvise(mmgr: MemoryManager, mm: MmStruct, start: number, lenIn: number, advice: number): number {
  if (advice !== MADV_MERGEABLE && advice !== MADV_UNMERGEABLE && advice !== MADV_DONTNEED) return -EINVAL;
  if (start % PAGE_SIZE !== 0 || lenIn < 0) return -EINVAL;
  const len = Math.ceil(lenIn / PAGE_SIZE) * PAGE_SIZE;
  if (len === 0) return 0;
  const end = start + len;
  const first = mm.findVma(start);
  if (first === undefined || first.vmStart >= end) return -ENOMEM;
  if (advice === MADV_DONTNEED) {
    const { vmas, gap } = vmasInRangeNoSplit(mm, start, end);
    for (const v of vmas) {
      if ((v.vmFlags & (VM_LOCKED | VM_PFNMAP)) !== 0) return -EINVAL;
      zapPageRange(mmgr, v, Math.max(start, v.vmStart), Math.min(end, v.vmEnd));
    }
    return gap ? -ENOMEM : 0;
  }
  let gap = false;
  let cursor = start;
  let v = mm.findVma(start);
  while (v !== undefined && v.vmStart < end) {
    if (v.vmStart > cursor) gap = true;
    const s = Math.max(start, v.vmStart);
    const e = Math.min(end, v.vmEnd);
    const { err, vmFlags } = mmgr.hooks.ksmMadvise(v, s, e, advice, v.vmFlags);
    if (err !== 0) return err;
    if (vmFlags !== v.vmFlags) {
      const part = vmasInRange(mm, s, e).vmas[0]!;
      part.vmFlags = vmFlags;
      v = part;
    }
    cursor = v.vmEnd;
    v = mm.findVma(cursor);
  }
  if (cursor < end) gap = true;
  return gap ? -ENOMEM : 0;
}

function vmasInRangeNoSplit(mm: MmStruct, start: number, end: number) {
  const vmas = [];
  let gap = false;
  let cursor = start;
  for (let i = mm.indexAfter(start); i < mm.vmas.length && mm.vmas[i]!.vmStart < end; i++) {
    const v = mm.vmas[i]!;
    if (v.vmStart > cursor) gap = true;
    vmas.push(v);
    cursor = v.vmEnd;
  }
  if (cursor < end) gap = true;
  return { vmas, gap };
}
