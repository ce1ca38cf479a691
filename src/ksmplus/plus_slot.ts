import type { MmStruct } from '../mm/mm_struct.ts';
import type { VmaNode } from './vma_node.ts';

/**
 * KSM+'s mm_slot: a process of a named program, with its vma_nodes in address order (the
 * thesis keeps them in a red-black tree keyed by address; a sorted array gives the same
 * order and lookups for the handful of VMAs a process has).
 */
export class PlusSlot {
  readonly mm: MmStruct;
  vmaNodes: VmaNode[] = [];
  /** Index of the vma_node the scanner is working on. */
  nodeIdx = 0;

  constructor(mm: MmStruct) {
    this.mm = mm;
  }
}
