import { numberedObjects, type SlabEvent } from '../lib/kmem_trace.ts';

/**
 * The kmem cache that ksmd's rmap_items and stable nodes come from, as addresses: what
 * makes a dangling `rmap_item->head` (remove_node_from_stable_tree leaves it) equal to a
 * node allocated later.
 *
 * On Linux 6.18 with SLUB, struct ksm_rmap_item and struct ksm_stable_node are both 64
 * bytes and neither cache forbids merging, so both are one cache (on this machine kind
 * `/sys/kernel/slab/ksm_rmap_item` and `ksm_stable_node` both link to `:0000064`). ksmd
 * allocates and frees them on its own CPU, where SLUB's fast paths take the object freed
 * last first (the per-CPU freelist is a stack). So a stable node can take the memory of a
 * node freed a few frees before, and an item that still names the old node then names the
 * new one: cmp_and_merge_page's `rmap_item->head == stable_node` holds for it, and the item
 * of a forked KSM page is taken for merged and never joins the node.
 *
 * Measured on Linux 6.18.44 (generated exec-batch scenario 776): the zero-filled KSM page
 * of 12 items went stale, then two items were freed, then three stable nodes were
 * allocated; the third page's forked mapping in the parent was never merged, in every one
 * of six runs, and no merge of it was ever tried (ksm tracepoints), exactly as a stack of
 * freed objects predicts: the third allocation takes the stale node's memory.
 *
 * A model of the fast path only: one stack, shared by both kinds, starting empty. Objects
 * that SLUB frees on another CPU or to another slab come back later than this says, and
 * other users of the merged cache on ksmd's CPU (rare) are not seen. The live kernel's
 * order is traced and compared object for object (test/kernel-slab-trace.test.ts).
 * @linux mm/slub.c slab_alloc_node (partial: the per-CPU freelist fast path, with do_slab_free)
 */
export class KsmSlab {
  /** Freed objects, the last freed on top. */
  readonly #free: number[] = [];
  /** The next object never used; 0 is NULL. */
  #next = 1;
  /** Every allocation and free since startLog, where asked. */
  #log: Array<{ op: 'alloc' | 'free'; key: number }> | undefined;

  /** kmem_cache_alloc: the object freed last, else a new one. */
  alloc(): number {
    const object = this.#free.pop() ?? this.#next++;
    this.#log?.push({ op: 'alloc', key: object });
    return object;
  }

  /** kmem_cache_free */
  free(object: number): void {
    this.#free.push(object);
    this.#log?.push({ op: 'free', key: object });
  }

  /** From now on, keeps every allocation and free (for comparing with ksmd's kmem trace). */
  startLog(): void {
    this.#log = [];
  }

  /** What was allocated and freed since startLog, objects numbered as lib/kmem_trace.ts numbers a trace's. */
  logged(): SlabEvent[] {
    return numberedObjects(this.#log ?? []);
  }
}
