/**
 * The daemon's duplicate index: for each page content it has sampled lately (by its 64-bit
 * XXH64), one place that holds it: a process (the policy's slot number), a virtual page and
 * a frame, the round it was seen in, and whether that frame is a KSM page. A page sampled
 * later with the same hash in another frame is a candidate duplicate of that place; the
 * policy confirms it on the bytes before acting.
 *
 * An open-addressing table of typed-array columns (about 70 bytes per entry at the highest
 * load), so a million sampled pages cost tens of MiB rather than the hundreds a Map of
 * objects would; entries not seen again for a few rounds are swept out, so the table holds
 * roughly the pages the last rounds sampled plus the KSM pages seen.
 */

/** The place is a KSM page: its content cannot change while it stays one. */
export const ENTRY_KSM = 1;

const EMPTY = 0;
const USED = 1;
const MIN_CAPACITY = 1024;
/** Grow when more than this share of the slots is used (linear probing stays short). */
const MAX_LOAD = 0.6;

export class ContentIndex {
  #capacity = MIN_CAPACITY;
  #size = 0;
  #state = new Uint8Array(MIN_CAPACITY);
  #hi = new Uint32Array(MIN_CAPACITY);
  #lo = new Uint32Array(MIN_CAPACITY);
  #slot = new Int32Array(MIN_CAPACITY);
  #vpn = new Float64Array(MIN_CAPACITY);
  #pfn = new Float64Array(MIN_CAPACITY);
  #epoch = new Uint32Array(MIN_CAPACITY);
  #flags = new Uint8Array(MIN_CAPACITY);

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the table's columns (the policy's own memory, for `status`). */
  bytes(): number {
    return this.#capacity * (1 + 4 + 4 + 4 + 8 + 8 + 4 + 1);
  }

  /** The entry holding hash (hi, lo), or -1. */
  find(hi: number, lo: number): number {
    const mask = this.#capacity - 1;
    for (let i = lo & mask; ; i = (i + 1) & mask) {
      if (this.#state[i] === EMPTY) return -1;
      if (this.#lo[i] === lo && this.#hi[i] === hi) return i;
    }
  }

  /** Adds hash (hi, lo), which must not be held yet, at a place; returns its entry. */
  insert(hi: number, lo: number, slot: number, vpn: number, pfn: number, epoch: number, flags: number): number {
    if ((this.#size + 1) / this.#capacity > MAX_LOAD) this.#rehash(this.#capacity * 2, null);
    const mask = this.#capacity - 1;
    let i = lo & mask;
    while (this.#state[i] !== EMPTY) i = (i + 1) & mask;
    this.#state[i] = USED;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#size++;
    this.set(i, slot, vpn, pfn, epoch, flags);
    return i;
  }

  /** Moves entry `e` to another place (the content was seen there, or the old place changed). */
  set(e: number, slot: number, vpn: number, pfn: number, epoch: number, flags: number): void {
    this.#slot[e] = slot;
    this.#vpn[e] = vpn;
    this.#pfn[e] = pfn;
    this.#epoch[e] = epoch;
    this.#flags[e] = flags;
  }

  /** The entry was seen again in round `epoch`. */
  touch(e: number, epoch: number): void {
    this.#epoch[e] = epoch;
  }

  slot(e: number): number {
    return this.#slot[e]!;
  }

  vpn(e: number): number {
    return this.#vpn[e]!;
  }

  pfn(e: number): number {
    return this.#pfn[e]!;
  }

  epoch(e: number): number {
    return this.#epoch[e]!;
  }

  flags(e: number): number {
    return this.#flags[e]!;
  }

  /**
   * Keeps only the entries `keep(e)` accepts, and shrinks the table when they fit in a
   * quarter of it. Returns how many were dropped.
   */
  sweep(keep: (e: number) => boolean): number {
    const before = this.#size;
    const kept = new Uint8Array(this.#capacity);
    let live = 0;
    for (let i = 0; i < this.#capacity; i++) {
      if (this.#state[i] === USED && keep(i)) {
        kept[i] = 1;
        live++;
      }
    }
    if (live === before) return 0;
    let capacity = MIN_CAPACITY;
    while (live / capacity > MAX_LOAD / 2) capacity *= 2;
    this.#rehash(Math.min(capacity, this.#capacity), kept);
    return before - this.#size;
  }

  /** Drops every entry of slot `slot` (its process is gone or no longer selected). */
  forgetSlot(slot: number): number {
    return this.sweep((e) => this.#slot[e] !== slot);
  }

  /** Moves the entries (those `kept` marks, or all) into fresh columns of `capacity` slots. */
  #rehash(capacity: number, kept: Uint8Array | null): void {
    const old = {
      cap: this.#capacity,
      state: this.#state,
      hi: this.#hi,
      lo: this.#lo,
      slot: this.#slot,
      vpn: this.#vpn,
      pfn: this.#pfn,
      epoch: this.#epoch,
      flags: this.#flags,
    };
    this.#capacity = capacity;
    this.#size = 0;
    this.#state = new Uint8Array(capacity);
    this.#hi = new Uint32Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#slot = new Int32Array(capacity);
    this.#vpn = new Float64Array(capacity);
    this.#pfn = new Float64Array(capacity);
    this.#epoch = new Uint32Array(capacity);
    this.#flags = new Uint8Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < old.cap; j++) {
      if (old.state[j] !== USED || (kept !== null && kept[j] === 0)) continue;
      let i = old.lo[j]! & mask;
      while (this.#state[i] !== EMPTY) i = (i + 1) & mask;
      this.#state[i] = USED;
      this.#hi[i] = old.hi[j]!;
      this.#lo[i] = old.lo[j]!;
      this.#slot[i] = old.slot[j]!;
      this.#vpn[i] = old.vpn[j]!;
      this.#pfn[i] = old.pfn[j]!;
      this.#epoch[i] = old.epoch[j]!;
      this.#flags[i] = old.flags[j]!;
      this.#size++;
    }
  }
}
