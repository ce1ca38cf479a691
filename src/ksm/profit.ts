/**
 * What KSM saves, net of what it costs: the pages merging freed, in bytes, minus the
 * rmap_items KSM allocated to find them. Linux prints it twice with the same formula on
 * different counts: globally (general_profit: pages_sharing + ksm_zero_pages against every
 * rmap_item) and per process (ksm_process_profit: its ksm_merging_pages + ksm_zero_pages
 * against its own rmap_items). KSM+ reports its own with its pages_sharing.
 */
import { PAGE_SIZE } from '../lib/sizes.ts';
import { RMAP_ITEM_SIZE } from './constants.ts';

/**
 * `savedPages` pages of PAGE_SIZE bytes, less `rmapItems` items of sizeof(struct
 * ksm_rmap_item); negative when the items cost more than the merges save. The formula of
 * general_profit and of ksm_process_profit (sysfs/proc_ksm.ts) alike.
 * @linux mm/ksm.c general_profit_show
 */
export function ksmProfit(savedPages: number, rmapItems: number): number {
  return savedPages * PAGE_SIZE - rmapItemBytes(rmapItems);
}

/** What `rmapItems` rmap_items take in memory (64 bytes each on x86_64). */
export function rmapItemBytes(rmapItems: number): number {
  return rmapItems * RMAP_ITEM_SIZE;
}
