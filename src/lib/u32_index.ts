/**
 * Dense indices for 32-bit keys: the first key seen gets 0, the next new one 1, and so on.
 * An open-addressing hash table on typed arrays (linear probing, a multiplicative hash),
 * for a million lookups that mostly repeat a few thousand keys, where a Map costs ~20 ns a
 * lookup and a sort of every key ~30 ms. Key 0 is reserved (it marks an empty slot).
 */
export class U32Index {
  #keys: Uint32Array;
  #values: Int32Array;
  #shift: number;
  #size = 0;
  /** The keys in the order they were first seen. */
  #order: Uint32Array;

  constructor(expected = 1024) {
    let bits = 4;
    while (1 << bits < expected * 2) bits++;
    this.#keys = new Uint32Array(1 << bits);
    this.#values = new Int32Array(1 << bits);
    this.#shift = 32 - bits;
    this.#order = new Uint32Array(Math.max(16, expected));
  }

  get size(): number {
    return this.#size;
  }

  /** The index of `key` (1..2^32-1), giving it the next one when it is new. */
  indexOf(key: number): number {
    if (key === 0) throw new RangeError('U32Index: key 0 is reserved');
    const keys = this.#keys;
    const mask = keys.length - 1;
    let slot = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    for (;;) {
      const k = keys[slot]!;
      if (k === key) return this.#values[slot]!;
      if (k === 0) break;
      slot = (slot + 1) & mask;
    }
    const index = this.#size++;
    keys[slot] = key;
    this.#values[slot] = index;
    if (index === this.#order.length) {
      const o = new Uint32Array(this.#order.length * 2);
      o.set(this.#order);
      this.#order = o;
    }
    this.#order[index] = key;
    if (this.#size * 2 > keys.length) this.#grow();
    return index;
  }

  /** The keys by index (a view: valid until the next new key). */
  keys(): Uint32Array {
    return this.#order.subarray(0, this.#size);
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const n = oldKeys.length * 2;
    this.#keys = new Uint32Array(n);
    this.#values = new Int32Array(n);
    this.#shift--;
    const mask = n - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const key = oldKeys[i]!;
      if (key === 0) continue;
      let slot = Math.imul(key, 0x9e3779b1) >>> this.#shift;
      while (this.#keys[slot] !== 0) slot = (slot + 1) & mask;
      this.#keys[slot] = key;
      this.#values[slot] = oldValues[i]!;
    }
  }
}
