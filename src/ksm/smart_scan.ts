import type { Ksm } from './ksm.ts';
import { removeRmapItemFromTree } from './rmap.ts';
import type { RmapItem } from './rmap_item.ts';

/**
 * How many visits to skip after a page has gone unmerged `age` times.
 * @linux mm/ksm.c skip_age
 */
export function skipAge(age: number): number {
  if (age <= 3) return 1;
  if (age <= 5) return 2;
  if (age <= 8) return 4;
  return 8;
}

/**
 * smart_scan: a page that keeps failing to merge is visited less and less often. A
 * skipped item leaves the unstable tree (it becomes volatile) but keeps its checksum.
 * `ksmPage` is folio_test_ksm, when the caller has read the frame's flags already.
 * @linux mm/ksm.c should_skip_rmap_item
 */
export function shouldSkipRmapItem(
  ksm: Ksm,
  pfn: number,
  item: RmapItem,
  ksmPage: boolean = ksm.mmgr.frames.isKsm(pfn),
): boolean {
  if (!ksm.smartScan) return false;
  if (ksmPage) return false;
  const items = ksm.items;
  const age = items.age[item]!;
  if (age !== 255) items.age[item] = age + 1;
  if (age < 3) return false;
  if (items.remainingSkips[item] === 0) {
    items.remainingSkips[item] = skipAge(age);
    return false;
  }
  ksm.pagesSkipped++;
  items.remainingSkips[item]!--;
  removeRmapItemFromTree(ksm, item);
  return true;
}
