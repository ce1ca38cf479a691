/**
 * The order of many 32-bit keys, fast: a stable least-significant-digit radix sort in two
 * passes of 16 bits, returning the permutation rather than moving the keys. For a million
 * frame numbers it takes a few milliseconds where Float64Array.prototype.sort takes ~90.
 */

/** Indices 0..n-1 ordered by keys[i] ascending, equal keys in index order. */
export function radixOrder(keys: Uint32Array, n: number): Uint32Array {
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const counts = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(keys[i]! >>> shift) & 0xffff]!++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const idx = order[i]!;
      next[counts[(keys[idx]! >>> shift) & 0xffff]!++] = idx;
    }
    [order, next] = [next, order];
  }
  return order;
}
