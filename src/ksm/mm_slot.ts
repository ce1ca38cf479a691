import type { MmStruct } from '../mm/mm_struct.ts';
import type { RmapItem } from './rmap_item.ts';

/**
 * struct ksm_mm_slot: an mm registered with KSM, on the circular list that ksmd walks.
 * The list head is a dummy slot with no mm (ksm_mm_head).
 */
export class MmSlot {
  prev: MmSlot = this;
  next: MmSlot = this;
  /**
   * The head row of the mm's rmap_list: `items.rmapList[head]` is its first rmap_item, in
   * rising address order.
   */
  readonly head: RmapItem;
  readonly mm: MmStruct | null;

  constructor(mm: MmStruct | null, head: RmapItem) {
    this.mm = mm;
    this.head = head;
  }

  /** list_add_tail(this, before): inserts this slot just before `before`. */
  insertBefore(before: MmSlot): void {
    this.prev = before.prev;
    this.next = before;
    before.prev.next = this;
    before.prev = this;
  }

  /** list_add(this, after): inserts this slot just after `after`. */
  insertAfter(after: MmSlot): void {
    this.insertBefore(after.next);
  }

  /** list_del */
  unlink(): void {
    this.prev.next = this.next;
    this.next.prev = this.prev;
    this.prev = this;
    this.next = this;
  }
}
