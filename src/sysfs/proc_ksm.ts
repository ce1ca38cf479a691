import { MMF_VM_MERGE_ANY, VM_MERGEABLE } from '../mm/constants.ts';
import type { MmStruct } from '../mm/mm_struct.ts';
import { ksmProfit } from '../ksm/profit.ts';

/**
 * /proc/PID/ksm_stat and /proc/PID/ksm_merging_pages, in Linux 6.18's exact format.
 * @linux fs/proc/base.c proc_pid_ksm_stat
 */
export function procKsmStat(mm: MmStruct): string {
  const mergeable = mm.vmas.some((v) => (v.vmFlags & VM_MERGEABLE) !== 0);
  return (
    `ksm_rmap_items ${mm.ksmRmapItems}\n` +
    `ksm_zero_pages ${mm.ksmZeroPages}\n` +
    `ksm_merging_pages ${mm.ksmMergingPages}\n` +
    `ksm_process_profit ${ksmProcessProfit(mm)}\n` +
    `ksm_merge_any: ${(mm.flags & MMF_VM_MERGE_ANY) !== 0 ? 'yes' : 'no'}\n` +
    `ksm_mergeable: ${mergeable ? 'yes' : 'no'}\n`
  );
}

/**
 * A process's merged and KSM zero pages, less its own rmap_items.
 * @linux mm/ksm.c ksm_process_profit
 */
export function ksmProcessProfit(mm: MmStruct): number {
  return ksmProfit(mm.ksmMergingPages + mm.ksmZeroPages, mm.ksmRmapItems);
}

/** @linux fs/proc/base.c proc_pid_ksm_merging_pages */
export function procKsmMergingPages(mm: MmStruct): string {
  return `${mm.ksmMergingPages}\n`;
}
