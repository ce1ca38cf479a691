/**
 * Growing tables of typed arrays (page-content metadata, rmap_items): how big the next size
 * is, and a copy with room for it.
 */

/** Any typed array the tables use. */
export type Column = Int32Array | Uint32Array | Uint16Array | Uint8Array | Float64Array;

/**
 * The next capacity after `have`: half as much again, but not past `hint` (what the owner
 * expects at most, e.g. its frames) unless the table is already there, so a table sized to
 * the machine carries no slack.
 */
export function grownCapacity(have: number, hint: number): number {
  const n = Math.ceil(have * 1.5);
  return have < hint && n > hint ? hint : n;
}

/** A copy of `a` with room for `n` elements (the rest zero). */
export function resized<T extends Column>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a as never);
  return b;
}

/**
 * Writes a zero into every 4 KiB page of `a`, so the host maps its memory now rather than
 * at each first write later: a page fault costs 1-6 µs in the VMs measured, which a table
 * written item by item would spread over the work that first fills it.
 */
export function makeResident(a: Column): void {
  const step = 4096 / a.BYTES_PER_ELEMENT;
  for (let i = 0; i < a.length; i += step) a[i] = 0;
}
