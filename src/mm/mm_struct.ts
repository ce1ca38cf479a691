import type { MemoryGeneration } from './generation.ts';
import { PageTable } from './page_table.ts';
import type { Vma } from './vma.ts';

/**
 * An address space (struct mm_struct): its VMAs sorted by address, page tables, flags,
 * the per-mm KSM counters of include/linux/mm_types.h and the RSS counters.
 */
export class MmStruct {
  /** Sorted, non-overlapping. */
  readonly vmas: Vma[] = [];
  readonly pgtable: PageTable;
  /** The machine's memory generation (see generation.ts), bumped by every change here. */
  readonly generation: MemoryGeneration;
  /** MMF_* bits. */
  flags = 0;
  /** mm_users: 0 once the owner exited (ksm_test_exit). */
  mmUsers = 1;
  /** Rmap_items of this mm in the stable tree (mm->ksm_merging_pages). */
  ksmMergingPages = 0;
  /** All rmap_items of this mm (mm->ksm_rmap_items). */
  ksmRmapItems = 0;
  /** KSM-placed zero pages still mapped (mm->ksm_zero_pages). */
  ksmZeroPages = 0;
  /** MM_ANONPAGES */
  rssAnon = 0;
  /** MM_SHMEMPAGES */
  rssShmem = 0;

  /** A stable identifier for traces (the pid of the first owner). */
  readonly id: number;
  /** Top of the mmap area; mappings are placed top-down below it. */
  readonly mmapBase: number;

  constructor(id: number, mmapBase: number, generation: MemoryGeneration) {
    this.id = id;
    this.mmapBase = mmapBase;
    this.generation = generation;
    this.pgtable = new PageTable(generation);
  }

  /** find_vma: the first VMA ending above addr. */
  findVma(addr: number): Vma | undefined {
    const i = this.indexAfter(addr);
    return this.vmas[i];
  }

  /** vma_lookup: the VMA containing addr. */
  vmaLookup(addr: number): Vma | undefined {
    const v = this.findVma(addr);
    return v !== undefined && v.vmStart <= addr ? v : undefined;
  }

  /** Index of the first VMA with vmEnd > addr. */
  indexAfter(addr: number): number {
    let lo = 0;
    let hi = this.vmas.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.vmas[mid]!.vmEnd <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insertVma(vma: Vma): void {
    this.generation.bump();
    this.vmas.splice(this.indexAfter(vma.vmStart), 0, vma);
  }

  removeVma(vma: Vma): void {
    this.generation.bump();
    const i = this.vmas.indexOf(vma);
    if (i >= 0) this.vmas.splice(i, 1);
  }
}
