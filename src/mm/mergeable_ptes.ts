import { PAGE_SIZE } from '../lib/sizes.ts';
import { _PAGE_SPECIAL, VM_MERGEABLE } from './constants.ts';
import type { MmStruct } from './mm_struct.ts';

/**
 * Calls `fn(vpn, pfn)` for each present PTE of `mm`'s VM_MERGEABLE VMAs that maps a page
 * (special PTEs, the zero page's among them, left out), in rising address order: the
 * mappings KSM can have merged, as readers of the model look them over.
 */
export function forEachMergeablePte(mm: MmStruct, fn: (vpn: number, pfn: number) => void): void {
  const pgtable = mm.pgtable;
  for (const vma of mm.vmas) {
    if ((vma.vmFlags & VM_MERGEABLE) === 0) continue;
    const end = vma.vmEnd / PAGE_SIZE;
    for (
      let vpn = pgtable.nextPresentWithout(vma.vmStart / PAGE_SIZE, end, _PAGE_SPECIAL);
      vpn >= 0;
      vpn = pgtable.nextPresentWithout(vpn + 1, end, _PAGE_SPECIAL)
    )
      fn(vpn, pgtable.pfn(vpn));
  }
}
