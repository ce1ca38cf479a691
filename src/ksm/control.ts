import {
  MADV_MERGEABLE,
  MADV_UNMERGEABLE,
  MMF_VM_MERGEABLE,
  MMF_VM_MERGE_ANY,
  VM_DROPPABLE,
  VM_HUGETLB,
  VM_MAYSHARE,
  VM_MERGEABLE,
  VM_SHARED,
  VM_SPECIAL,
} from '../mm/constants.ts';
import type { KsmHooks } from '../mm/ksm_hooks.ts';
import type { MemoryManager } from '../mm/memory_manager.ts';
import type { EventQueue } from '../sim/event_queue.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import type { Vma } from '../mm/vma.ts';
import { KSM_RUN_UNMERGE } from './constants.ts';
import type { CostModel } from './cost.ts';
import { Ksm } from './ksm.ts';
import { Ksmd } from './ksmd.ts';
import { unmergeKsmPages } from './merge.ts';
import { MmSlot } from './mm_slot.ts';
import { NULL_ITEM } from './rmap_item.ts';

/**
 * KSM's side of the mm hooks: registering mms, madvise, PR_SET_MEMORY_MERGE, fork, exec,
 * exit and KSM zero pages going away.
 */

/** @linux mm/ksm.c ksm_compatible */
export function ksmCompatible(vmFlags: number): boolean {
  return (vmFlags & (VM_SHARED | VM_MAYSHARE | VM_SPECIAL | VM_HUGETLB | VM_DROPPABLE)) === 0;
}

/** @linux mm/ksm.c __ksm_should_add_vma */
function ksmShouldAddVma(vmFlags: number): boolean {
  if ((vmFlags & VM_MERGEABLE) !== 0) return false;
  return ksmCompatible(vmFlags);
}

/**
 * Registers an mm: its slot goes just before ksmd's cursor (so the current pass does not
 * see it unless the cursor is at the head), or at the tail while run=2.
 * @linux mm/ksm.c __ksm_enter
 */
export function ksmEnter(ksm: Ksm, ksmd: Ksmd, mm: MmStruct): number {
  const slot = new MmSlot(mm, ksm.items.allocHead());
  const needsWakeup = ksm.mmHead.next === ksm.mmHead;
  ksm.slots.set(mm, slot);
  if ((ksm.run & KSM_RUN_UNMERGE) !== 0) slot.insertBefore(ksm.mmHead);
  else slot.insertBefore(ksm.ksmScan.mmSlot);
  mm.flags |= MMF_VM_MERGEABLE;
  if (needsWakeup) ksmd.wake();
  return 0;
}

/**
 * An mm's last user is gone: an mm with no items is forgotten at once; otherwise its slot
 * moves just after the cursor, for ksmd to free its items on its very next step.
 * @linux mm/ksm.c __ksm_exit
 */
export function ksmExit(ksm: Ksm, mm: MmStruct): void {
  const slot = ksm.slots.get(mm);
  if (slot === undefined || ksm.ksmScan.mmSlot === slot) return;
  if (ksm.items.rmapList[slot.head] === NULL_ITEM) {
    ksm.slots.delete(mm);
    slot.unlink();
    ksm.items.release(slot.head);
    mm.flags &= ~(MMF_VM_MERGE_ANY | MMF_VM_MERGEABLE);
  } else {
    slot.unlink();
    slot.insertAfter(ksm.ksmScan.mmSlot);
  }
}

/** @linux mm/ksm.c ksm_madvise */
export function ksmMadvise(
  ksm: Ksm,
  ksmd: Ksmd,
  vma: Vma,
  start: number,
  end: number,
  advice: number,
  vmFlags: number,
): { err: number; vmFlags: number } {
  const mm = vma.vmMm;
  if (advice === MADV_MERGEABLE) {
    if ((vma.vmFlags & VM_MERGEABLE) !== 0 || !ksmCompatible(vma.vmFlags)) return { err: 0, vmFlags };
    if ((mm.flags & MMF_VM_MERGEABLE) === 0) {
      const err = ksmEnter(ksm, ksmd, mm);
      if (err !== 0) return { err, vmFlags };
    }
    return { err: 0, vmFlags: vmFlags | VM_MERGEABLE };
  }
  if (advice === MADV_UNMERGEABLE) {
    if ((vmFlags & VM_MERGEABLE) === 0) return { err: 0, vmFlags };
    if (vma.anonVma !== null) {
      const err = unmergeKsmPages(ksm, vma, start, end);
      if (err !== 0) return { err, vmFlags };
    }
    return { err: 0, vmFlags: vmFlags & ~VM_MERGEABLE };
  }
  return { err: 0, vmFlags };
}

/** @linux mm/ksm.c ksm_add_vmas */
function ksmAddVmas(mm: MmStruct): void {
  for (const vma of mm.vmas) if (ksmShouldAddVma(vma.vmFlags)) vma.vmFlags |= VM_MERGEABLE;
}

/** @linux mm/ksm.c ksm_del_vmas */
function ksmDelVmas(ksm: Ksm, mm: MmStruct): number {
  for (const vma of mm.vmas) {
    if ((vma.vmFlags & VM_MERGEABLE) === 0) continue;
    if (vma.anonVma !== null) {
      const err = unmergeKsmPages(ksm, vma, vma.vmStart, vma.vmEnd);
      if (err !== 0) return err;
    }
    vma.vmFlags &= ~VM_MERGEABLE;
  }
  return 0;
}

/** @linux mm/ksm.c ksm_enable_merge_any */
export function ksmEnableMergeAny(ksm: Ksm, ksmd: Ksmd, mm: MmStruct): number {
  if ((mm.flags & MMF_VM_MERGE_ANY) !== 0) return 0;
  if ((mm.flags & MMF_VM_MERGEABLE) === 0) {
    const err = ksmEnter(ksm, ksmd, mm);
    if (err !== 0) return err;
  }
  mm.flags |= MMF_VM_MERGE_ANY;
  ksmAddVmas(mm);
  return 0;
}

/** @linux mm/ksm.c ksm_disable_merge_any */
export function ksmDisableMergeAny(ksm: Ksm, mm: MmStruct): number {
  if ((mm.flags & MMF_VM_MERGE_ANY) === 0) return 0;
  const err = ksmDelVmas(ksm, mm);
  if (err !== 0) {
    ksmAddVmas(mm);
    return err;
  }
  mm.flags &= ~MMF_VM_MERGE_ANY;
  return 0;
}

/**
 * The flags of a VMA being created (mmap, brk): VM_MERGEABLE in a MERGE_ANY mm. ksmd may
 * have dropped the mm's slot after a pass that found no mergeable VMA (MERGE_ANY stays
 * set, MMF_VM_MERGEABLE goes): then the mm registers again here, as in 6.18 (measured:
 * scenarios-diff/merge-any-mmap-after-slot-dropped.yaml).
 * @linux mm/ksm.c ksm_vma_flags
 */
function ksmVmaFlags(ksm: Ksm, ksmd: Ksmd, mm: MmStruct, vmFlags: number): number {
  if ((mm.flags & MMF_VM_MERGE_ANY) === 0 || !ksmShouldAddVma(vmFlags)) return vmFlags;
  if ((mm.flags & MMF_VM_MERGEABLE) === 0) ksmEnter(ksm, ksmd, mm);
  return vmFlags | VM_MERGEABLE;
}

/** The hooks the memory manager calls, bound to one Ksm and its ksmd. */
export function ksmHooks(ksm: Ksm, ksmd: Ksmd): KsmHooks {
  return {
    ksmMadvise: (vma, start, end, advice, vmFlags) => ksmMadvise(ksm, ksmd, vma, start, end, advice, vmFlags),
    ksmEnableMergeAny: (mm) => ksmEnableMergeAny(ksm, ksmd, mm),
    ksmDisableMergeAny: (mm) => ksmDisableMergeAny(ksm, mm),
    ksmVmaFlags: (mm, vmFlags) => ksmVmaFlags(ksm, ksmd, mm, vmFlags),
    // @linux include/linux/ksm.h ksm_fork: the 6.18 counter fix included
    ksmFork: (mm) => {
      mm.ksmMergingPages = 0;
      mm.ksmRmapItems = 0;
      ksm.zeroPages += mm.ksmZeroPages;
      ksmEnter(ksm, ksmd, mm);
    },
    ksmExit: (mm) => ksmExit(ksm, mm),
    // @linux include/linux/ksm.h ksm_execve
    ksmExecve: (mm) => {
      if ((mm.flags & MMF_VM_MERGE_ANY) !== 0) ksmEnter(ksm, ksmd, mm);
    },
    // @linux include/linux/ksm.h ksm_might_unmap_zero_page
    ksmMightUnmapZeroPage: (mm) => {
      ksm.zeroPages--;
      mm.ksmZeroPages--;
    },
  };
}

/**
 * KSM brought up on a machine: its state, the ksmd thread, and the hooks through which the
 * memory manager calls into it (madvise, prctl, fork, exit, exec). system.ts and the ksm/
 * test machine both start KSM this way.
 * @linux mm/ksm.c ksm_init (partial: the thread and the hooks; sysfs is system.ts's)
 */
export function ksmInit(mmgr: MemoryManager, events: EventQueue, cost?: CostModel): { ksm: Ksm; ksmd: Ksmd } {
  const ksm = new Ksm(mmgr, events, cost);
  const ksmd = new Ksmd(ksm);
  mmgr.hooks = ksmHooks(ksm, ksmd);
  return { ksm, ksmd };
}
