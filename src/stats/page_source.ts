/**
 * Where pages come from, for the duplicate-page statistics: the model's page tables, a live
 * process read through /proc, or a snapshot file. The statistics only need each page's owner,
 * its address and its 4096 bytes.
 */

/** The process a page belongs to. */
export interface PageOwner {
  readonly pid: number;
  /** The task's comm (at most 15 bytes on Linux). */
  readonly comm: string;
}

/**
 * One page. Its bytes are `buffer[offset .. offset + 4096)`, lent, not copied: a source may
 * reuse the buffer for the next page, so a consumer must finish with the bytes (or copy
 * them) before it asks for the next page.
 */
export interface Page {
  readonly owner: PageOwner;
  /** Virtual address of the page in its owner (page-aligned). */
  readonly address: number;
  readonly buffer: Uint8Array;
  readonly offset: number;
  /**
   * The physical frame holding it, where the source knows it (pages of one frame are one
   * page of memory: forked, or already merged); undefined: its own frame.
   */
  readonly frame?: number;
}

/** Anything that can list pages. Iterating again may give a fresh reading. */
export interface PageSource {
  pages(): Iterable<Page>;
}
