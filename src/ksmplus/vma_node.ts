import type { RmapItem } from '../ksm/rmap_item.ts';
import type { Vma } from '../mm/vma.ts';

/**
 * struct vma_node of the thesis (section 4.2.2): KSM+'s middle level between an mm_slot and
 * its rmap_items, one per scanned VMA, holding the VMA's sampling coefficient and the
 * rmap_items of its sampled pages in address order.
 */
export class VmaNode {
  /** The head row of this VMA's rmap_list: `items.rmapList[head]` is its first rmap_item. */
  readonly head: RmapItem;
  readonly start: number;
  readonly end: number;
  readonly vma: Vma;
  /** Percent of the VMA's pages sampled in the next round. */
  coefficient: number;
  /** Page indices sampled in the current round, in rising order; null between rounds. */
  samples: number[] | null = null;
  /** Next sample to process. */
  sampleIdx = 0;
  /** Where the walk of rmap_list stands (rmap_current): the list head or the last item. */
  cursor: RmapItem;

  constructor(vma: Vma, coefficient: number, head: RmapItem) {
    this.head = head;
    this.cursor = head;
    this.vma = vma;
    this.start = vma.vmStart;
    this.end = vma.vmEnd;
    this.coefficient = coefficient;
  }

  pages(): number {
    return (this.end - this.start) / 4096;
  }
}
