import { Prng } from '../lib/prng.ts';
import { VM_NOT_MERGEABLE } from '../mm/constants.ts';
import type { MemoryManager } from '../mm/memory_manager.ts';
import type { Vma } from '../mm/vma.ts';
import type { EventQueue } from '../sim/event_queue.ts';
import { ksmCompatible } from '../ksm/control.ts';
import type { CostModel } from '../ksm/cost.ts';
import { Ksm } from '../ksm/ksm.ts';
import { KSMPLUS_DEFAULTS } from './constants.ts';
import type { PlusSlot } from './plus_slot.ts';

/**
 * KSM+'s merge engine: a second instance of KSM's state (mm/ksm.c's globals: the stable and
 * unstable trees, rmap_items, counters, ksmd's CPU time), so cmp_and_merge_page and
 * everything under it work unchanged on KSM+'s own trees.
 * What differs is which VMAs may merge: every KSM-compatible VMA of a named program,
 * without madvise, until KSM+ gives up on it (VM_NOT_MERGEABLE).
 */
export class KsmPlusEngine extends Ksm {
  override vmaMergeable(vma: Vma): boolean {
    return ksmCompatible(vma.vmFlags) && (vma.vmFlags & VM_NOT_MERGEABLE) === 0;
  }

  /** KSM+ samples addresses of VMA nodes taken at the start of a round; the VMA may have changed since. */
  override get walkerFindsMergeablePage(): boolean {
    return false;
  }
}

/**
 * The state of the thesis's KSM+: the program names to scan, the three-level
 * mm_slot -> vma_node -> rmap_item structure, the sampling knobs and the scanner's cursor.
 */
export class KsmPlus {
  /** The engine that merges the pages KSM+ samples (see KsmPlusEngine). */
  readonly engine: KsmPlusEngine;
  readonly mmgr: MemoryManager;
  readonly prng: Prng;
  /** Program names written with "+ NAME", in the order they were added. */
  readonly names: string[] = [];
  /** Scanned processes in scan order. */
  slots: PlusSlot[] = [];
  /** Index of the slot being scanned; -1 between full scans (the list head). */
  cursor = -1;
  /** vma_nodes allocated (the /sys/kernel/mm/ksm+/vma_nodes counter). */
  vmaNodes = 0;

  run: number = KSMPLUS_DEFAULTS.run;
  pagesToScan: number = KSMPLUS_DEFAULTS.pagesToScan;
  sleepMillisecs: number = KSMPLUS_DEFAULTS.sleepMillisecs;
  initialCoefficient: number = KSMPLUS_DEFAULTS.initialCoefficient;
  coefficientStep: number = KSMPLUS_DEFAULTS.coefficientStep;
  minCoefficient: number = KSMPLUS_DEFAULTS.minCoefficient;
  dropCoefficient: number = KSMPLUS_DEFAULTS.dropCoefficient;

  constructor(mmgr: MemoryManager, events: EventQueue, cost: CostModel, seed: number) {
    this.mmgr = mmgr;
    this.engine = new KsmPlusEngine(mmgr, events, cost);
    // KSM+ never places KSM zero pages: its zero-page counter would not be KSM's.
    this.engine.useZeroPages = false;
    this.engine.smartScan = false;
    this.prng = new Prng(seed >>> 0);
  }

  slotOf(mm: object): PlusSlot | undefined {
    return this.slots.find((s) => s.mm === mm);
  }
}
