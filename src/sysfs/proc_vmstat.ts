/**
 * The KSM lines of /proc/vmstat, as Linux 6.18 prints them (`name value`, in the order of
 * vmstat_text, which lists COW_KSM before KSM_SWPIN_COPY):
 *   - cow_ksm: a write fault (or an unshare: break_ksm's, when KSM unmerges) that copied a
 *     KSM page, counted in do_wp_page before wp_page_copy;
 *   - ksm_swpin_copy: a KSM page copied as it was swapped in. The model has no swap, so it
 *     stays 0.
 * The rest of /proc/vmstat (a hundred other events) is not modelled and not shown.
 */
import type { MemoryManager } from '../mm/memory_manager.ts';

/** The KSM event counters of /proc/vmstat in Linux 6.18, in its order. */
export const KSM_VMSTAT_FIELDS = ['cow_ksm', 'ksm_swpin_copy'] as const;
export type KsmVmstatField = (typeof KSM_VMSTAT_FIELDS)[number];

/** The KSM lines' values. */
export function ksmVmstat(mmgr: MemoryManager): Record<KsmVmstatField, number> {
  return { cow_ksm: mmgr.vmstat.cow_ksm, ksm_swpin_copy: 0 };
}

/**
 * The KSM lines of /proc/vmstat.
 * @linux mm/vmstat.c vmstat_show
 */
export function procVmstat(mmgr: MemoryManager): string {
  const v = ksmVmstat(mmgr);
  return KSM_VMSTAT_FIELDS.map((f) => `${f} ${v[f]}\n`).join('');
}
