/**
 * A counter of changes to simulated memory: every change that could alter what a page-table
 * walk finds at an address (a PTE, a VMA, its flags or anon_vma, an mm going away) or the
 * bytes and flags of a frame adds one. A reader that cached something derived from memory
 * keeps the value it saw and trusts its cache while the value is unchanged; KSM's
 * unstable-tree walk does this for the pages of tree items (src/ksm/unstable_tree.ts).
 *
 * The model's own analogue of a TLB shootdown: it has no kernel counterpart, and nothing
 * that Linux reports depends on it.
 */
export class MemoryGeneration {
  /** Never 0, so a zeroed stamp never matches. */
  value = 1;

  bump(): void {
    this.value++;
  }
}
