import type { MmStruct } from './mm_struct.ts';
import type { Vma } from './vma.ts';
import { EINVAL } from '../lib/errno.ts';

/**
 * What a page frame's mapping points at when the frame is a KSM page: a stable node of
 * ksm/. mm/ only stores and compares it (the "keyhole" test of ksm_get_folio), so the type
 * is opaque here and mm never imports ksm.
 */
export interface KsmPageLink {
  readonly kpfn: number;
  /** A number naming the link among its owner's live links (ksm/: the node's object in the owner's slab). */
  readonly id: number;
  /** The scanner whose stable tree holds the node (the model can run KSM and KSM+ side by side). */
  readonly owner: object;
}

/**
 * The calls Linux makes from the memory manager into KSM (include/linux/ksm.h). mm/ declares
 * them; ksm/ implements them; a system without KSM uses NO_KSM.
 */
export interface KsmHooks {
  /** @linux mm/ksm.c ksm_madvise: returns 0 or -errno and the VMA's new flags. */
  ksmMadvise(vma: Vma, start: number, end: number, advice: number, vmFlags: number): { err: number; vmFlags: number };
  /** @linux mm/ksm.c ksm_enable_merge_any */
  ksmEnableMergeAny(mm: MmStruct): number;
  /** @linux mm/ksm.c ksm_disable_merge_any */
  ksmDisableMergeAny(mm: MmStruct): number;
  /** @linux mm/ksm.c ksm_vma_flags: flags of a VMA being created in `mm`. */
  ksmVmaFlags(mm: MmStruct, vmFlags: number, file: boolean): number;
  /** @linux include/linux/ksm.h ksm_fork: called before the child's page tables are copied. */
  ksmFork(mm: MmStruct, oldmm: MmStruct): void;
  /** @linux include/linux/ksm.h ksm_exit: called from mmput before the address space is torn down. */
  ksmExit(mm: MmStruct): void;
  /** @linux include/linux/ksm.h ksm_execve: called when exec builds the new mm. */
  ksmExecve(mm: MmStruct): void;
  /** @linux include/linux/ksm.h ksm_might_unmap_zero_page: a KSM-placed zero page PTE goes away. */
  ksmMightUnmapZeroPage(mm: MmStruct): void;
}

/** A kernel built without CONFIG_KSM: madvise and prctl refuse, the rest does nothing. */
export const NO_KSM: KsmHooks = {
  ksmMadvise: (_vma, _s, _e, _advice, vmFlags) => ({ err: -EINVAL, vmFlags }),
  ksmEnableMergeAny: () => -EINVAL,
  ksmDisableMergeAny: () => -EINVAL,
  ksmVmaFlags: (_mm, vmFlags) => vmFlags,
  ksmFork: () => {},
  ksmExit: () => {},
  ksmExecve: () => {},
  ksmMightUnmapZeroPage: () => {},
};
