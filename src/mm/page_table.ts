import { _PAGE_PRESENT } from './constants.ts';
import type { MemoryGeneration } from './generation.ts';

/** Entries in one page-table page, as on x86_64: one table maps 2 MiB. */
export const PTRS_PER_PTE = 512;

/** One page-table page: the frame number and the _PAGE_* bits of 512 PTEs. */
export class PteTable {
  readonly pfn = new Int32Array(PTRS_PER_PTE);
  readonly flags = new Uint8Array(PTRS_PER_PTE);
  present = 0;
}

/**
 * The page tables of one mm, indexed by virtual page number (address / 4096). Only the
 * last level is modelled; the upper levels are a map from vpn / 512 to a table, allocated
 * on first use and dropped when empty. A PTE with flags 0 is pte_none.
 */
export class PageTable {
  readonly #tables = new Map<number, PteTable>();
  /** Bumped by every change of a PTE. */
  readonly #generation: MemoryGeneration;

  constructor(generation: MemoryGeneration) {
    this.#generation = generation;
  }

  /**
   * The table last looked up, and its key: callers read a PTE's flags and then its frame,
   * and walk neighbouring pages, so most lookups are of the same table.
   */
  #lastKey = -1;
  #lastTable: PteTable | undefined;

  #table(vpn: number): PteTable | undefined {
    const key = Math.floor(vpn / PTRS_PER_PTE);
    if (key !== this.#lastKey) {
      this.#lastKey = key;
      this.#lastTable = this.#tables.get(key);
    }
    return this.#lastTable;
  }

  /** The page-table page holding `vpn`'s PTE (PTRS_PER_PTE entries from a multiple of it), if any. */
  tableOf(vpn: number): Readonly<PteTable> | undefined {
    return this.#table(vpn);
  }

  flags(vpn: number): number {
    const t = this.#table(vpn);
    return t === undefined ? 0 : t.flags[vpn % PTRS_PER_PTE]!;
  }

  pfn(vpn: number): number {
    const t = this.#table(vpn);
    return t === undefined ? -1 : t.pfn[vpn % PTRS_PER_PTE]!;
  }

  /** set_pte_at: `flags` must include _PAGE_PRESENT. */
  set(vpn: number, pfn: number, flags: number): void {
    this.#generation.bump();
    let t = this.#table(vpn);
    if (t === undefined) {
      t = new PteTable();
      this.#tables.set(Math.floor(vpn / PTRS_PER_PTE), t);
      this.#lastTable = t;
    }
    const i = vpn % PTRS_PER_PTE;
    if (t.flags[i] === 0) t.present++;
    t.pfn[i] = pfn;
    t.flags[i] = flags;
  }

  /** Changes the bits of a present PTE, keeping its frame. */
  setFlags(vpn: number, flags: number): void {
    this.#generation.bump();
    this.#table(vpn)!.flags[vpn % PTRS_PER_PTE] = flags;
  }

  /** pte_clear */
  clear(vpn: number): void {
    this.#generation.bump();
    const key = Math.floor(vpn / PTRS_PER_PTE);
    const t = this.#tables.get(key);
    if (t === undefined) return;
    const i = vpn % PTRS_PER_PTE;
    if (t.flags[i] === 0) return;
    t.flags[i] = 0;
    t.pfn[i] = 0;
    if (--t.present === 0) {
      this.#tables.delete(key);
      if (key === this.#lastKey) this.#lastTable = undefined;
    }
  }

  /** The first vpn in [from, to) with a present PTE, or -1: skips empty tables whole. */
  nextPresent(from: number, to: number): number {
    return this.nextPresentWithout(from, to, 0);
  }

  /**
   * The first vpn in [from, to) with a present PTE that has none of the bits `notFlags`, or
   * -1. Empty tables are skipped whole, and a table is looked up once for all its PTEs.
   */
  nextPresentWithout(from: number, to: number, notFlags: number): number {
    let vpn = from;
    while (vpn < to) {
      const t = this.#table(vpn);
      const key = this.#lastKey;
      const tableEnd = (key + 1) * PTRS_PER_PTE;
      if (t !== undefined) {
        const base = key * PTRS_PER_PTE;
        const flags = t.flags;
        const end = Math.min(to, tableEnd) - base;
        for (let i = vpn - base; i < end; i++) {
          const f = flags[i]!;
          if ((f & _PAGE_PRESENT) !== 0 && (f & notFlags) === 0) return base + i;
        }
      }
      vpn = tableEnd;
    }
    return -1;
  }

  /**
   * Every page-table page, in map order, with its key (vpn / 512), for verifiers: they must
   * see entries that no VMA would lead them to, which is exactly what they look for.
   */
  tables(): IterableIterator<[key: number, table: Readonly<PteTable>]> {
    return this.#tables.entries();
  }

  /** Number of page-table pages (for the metadata cost of the model). */
  tableCount(): number {
    return this.#tables.size;
  }
}
