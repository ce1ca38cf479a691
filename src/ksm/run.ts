import { EINVAL } from '../lib/errno.ts';
import { MMF_VM_MERGEABLE, MMF_VM_MERGE_ANY, VM_MERGEABLE } from '../mm/constants.ts';
import { KSM_RUN_MERGE, KSM_RUN_UNMERGE } from './constants.ts';
import type { Ksm } from './ksm.ts';
import type { Ksmd } from './ksmd.ts';
import { unmergeKsmPages } from './merge.ts';
import { removeTrailingRmapItems } from './rmap.ts';
import { removeAllStableNodes } from './stable_tree.ts';

/**
 * run=2: breaks every KSM page and KSM zero page, frees every rmap_item and stable node,
 * and resets full_scans. Slots stay registered (exited mms' slots are freed).
 * @linux mm/ksm.c unmerge_and_remove_all_rmap_items
 */
export function unmergeAndRemoveAllRmapItems(ksm: Ksm): number {
  const scan = ksm.ksmScan;
  scan.mmSlot = ksm.mmHead.next;
  for (let slot = scan.mmSlot; slot !== ksm.mmHead; slot = scan.mmSlot) {
    const mm = slot.mm!;
    if (!ksm.testExit(mm)) {
      for (const vma of mm.vmas) {
        if ((vma.vmFlags & VM_MERGEABLE) === 0 || vma.anonVma === null) continue;
        const err = unmergeKsmPages(ksm, vma, vma.vmStart, vma.vmEnd);
        if (err !== 0) {
          // The kernel leaves the cursor here and does not reset seqnr on failure.
          return err;
        }
      }
    }
    removeTrailingRmapItems(ksm, slot.head);
    scan.mmSlot = slot.next;
    if (ksm.testExit(mm)) {
      ksm.slots.delete(mm);
      slot.unlink();
      ksm.items.release(slot.head);
      mm.flags &= ~(MMF_VM_MERGEABLE | MMF_VM_MERGE_ANY);
    }
  }
  removeAllStableNodes(ksm);
  scan.seqnr = 0;
  return 0;
}

/**
 * Writes of /sys/kernel/mm/ksm/run after parsing: 0 stops, 1 merges, 2 unmerges all
 * (only when the value changes). Returns 0 or -errno.
 * @linux mm/ksm.c run_store
 */
export function ksmRunStore(ksm: Ksm, ksmd: Ksmd, flags: number): number {
  if (flags > KSM_RUN_UNMERGE) return -EINVAL;
  let err = 0;
  if (ksm.run !== flags) {
    ksm.run = flags;
    if ((flags & KSM_RUN_UNMERGE) !== 0) {
      err = unmergeAndRemoveAllRmapItems(ksm);
      if (err !== 0) ksm.run = 0;
    }
  }
  if ((flags & KSM_RUN_MERGE) !== 0) ksmd.wake();
  return err;
}
