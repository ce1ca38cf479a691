/**
 * Sets of page ranges, in virtual page numbers: sorted, disjoint, half-open [start, end).
 * The daemon keeps one per process for the ranges it marked MADV_MERGEABLE, and uses the
 * same operations to plan new marks: duplicates close together become one range, so the
 * VMA splits each mark causes stay few (docs/ksmplus-live.md, "Coalescing").
 */

export type Range = readonly [start: number, end: number];

/** Index of the first range whose end is above `vpn` (binary search), or ranges.length. */
export function firstEndingAfter(ranges: readonly Range[], vpn: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]![1] <= vpn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether page `vpn` lies in one of `ranges`. */
export function inRanges(ranges: readonly Range[], vpn: number): boolean {
  const i = firstEndingAfter(ranges, vpn);
  return i < ranges.length && ranges[i]![0] <= vpn;
}

/** The union of two range lists, touching ranges joined. */
export function unionRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = out.at(-1);
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** `a` without `b`. */
export function subtractRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  let j = 0;
  for (const [s0, e] of a) {
    let s = s0;
    while (j < b.length && b[j]![1] <= s) j++;
    let k = j;
    while (s < e && k < b.length && b[k]![0] < e) {
      const [bs, be] = b[k]!;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      k++;
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

/** The parts of `a` inside `b`. */
export function intersectRanges(a: readonly Range[], b: readonly Range[]): Range[] {
  return subtractRanges(a, subtractRanges(a, b));
}

/** Pages covered by the ranges. */
export function rangePages(ranges: readonly Range[]): number {
  let n = 0;
  for (const [s, e] of ranges) n += e - s;
  return n;
}

/**
 * Sorted unique pages grouped into ranges: two pages at most `gap` unlisted pages apart
 * share a range, and no range crosses a boundary of `bounds` (the regions: a range spans
 * one mapping). Pages outside every bound are left out.
 */
export function coalescePages(pages: readonly number[], gap: number, bounds: readonly Range[]): Range[] {
  const out: Array<[number, number]> = [];
  let b = 0;
  for (const p of pages) {
    while (b < bounds.length && bounds[b]![1] <= p) b++;
    const bound = bounds[b];
    if (bound === undefined || bound[0] > p) continue;
    const last = out.at(-1);
    if (last !== undefined && p - last[1] <= gap && last[0] >= bound[0]) last[1] = p + 1;
    else out.push([p, p + 1]);
  }
  return out;
}

/**
 * Joins ranges whose gap is at most `gap` pages, inside one bound, and then, while there are
 * more than `most`, the pair with the smallest gap inside one bound. Returns the joined list
 * (which may still hold more than `most` where bounds keep ranges apart).
 */
export function joinRanges(ranges: readonly Range[], gap: number, most: number, bounds: readonly Range[]): Range[] {
  const boundOf = (vpn: number): number => firstEndingAfter(bounds, vpn);
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const last = out.at(-1);
    if (last !== undefined && s - last[1] <= gap && boundOf(last[0]) === boundOf(s)) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  while (out.length > most) {
    let best = -1;
    let bestGap = Number.POSITIVE_INFINITY;
    for (let i = 0; i + 1 < out.length; i++) {
      const g = out[i + 1]![0] - out[i]![1];
      if (g < bestGap && boundOf(out[i]![0]) === boundOf(out[i + 1]![0])) {
        bestGap = g;
        best = i;
      }
    }
    if (best < 0) break;
    out[best]![1] = out[best + 1]![1];
    out.splice(best + 1, 1);
  }
  return out;
}
