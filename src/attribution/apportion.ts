/**
 * Exact shares of KSM pages and their apportionment into whole bytes.
 *
 * A KSM page with n counted mappings frees n - 1 pages, and each mapping is credited
 * (n - 1)/n of a page. What one owner (a process, a cgroup, a comm) is credited is kept
 * exactly as a histogram: `[n, mappings]` pairs, "this many of its mappings are in KSM
 * pages with n mappings". Adding owners adds histograms, so a group's share is as exact as
 * a process's. Bytes shown to people must be whole numbers that add up to the total, so a
 * set of owners is apportioned by the largest-remainder method (Hamilton's): each gets the
 * floor of its exact share, and the bytes left over go one by one to the owners with the
 * largest remainders (ties to the earlier owner). The fractions are compared exactly, as
 * BigInt numerators over the least common multiple of every n involved.
 */
import { PAGE_SIZE } from '../lib/sizes.ts';

/** `[n, mappings]` pairs, n ascending, each n once, mappings > 0. */
export type Shares = ReadonlyArray<readonly [n: number, mappings: number]>;

/** Builds Shares from a map of n to mappings (entries with 0 mappings are left out). */
export function sharesFrom(counts: ReadonlyMap<number, number>): Shares {
  return [...counts]
    .filter(([, c]) => c > 0)
    .sort((a, b) => a[0] - b[0])
    .map(([n, c]) => [n, c] as const);
}

/** The sum of several owners' shares. */
export function addShares(all: readonly Shares[]): Shares {
  const m = new Map<number, number>();
  for (const s of all) for (const [n, c] of s) m.set(n, (m.get(n) ?? 0) + c);
  return sharesFrom(m);
}

/** Mappings in the shares (the n = 1 ones, which are credited nothing, included). */
export function sharesMappings(s: Shares): number {
  let t = 0;
  for (const [, c] of s) t += c;
  return t;
}

/** The credited pages as a double (for display and ordering; exact figures use the fraction). */
export function sharesPages(s: Shares): number {
  let t = 0;
  for (const [n, c] of s) t += (c * (n - 1)) / n;
  return t;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** The credited pages exactly, as a reduced fraction. */
export function sharesFraction(s: Shares): { readonly num: bigint; readonly den: bigint } {
  let num = 0n;
  let den = 1n;
  for (const [n, c] of s) {
    const bn = BigInt(n);
    // num/den + c(n-1)/n
    num = num * bn + BigInt(c) * (bn - 1n) * den;
    den *= bn;
    const g = gcd(num, den);
    num /= g;
    den /= g;
  }
  return { num, den };
}

/** One owner to apportion: its shares of KSM pages, and whole pages on top (its zero pages). */
export interface ApportionItem {
  readonly shares: Shares;
  readonly wholePages: number;
}

/**
 * Whole bytes for each item: its exact share (Σ mappings·(n−1)/n pages, plus its whole
 * pages, times PAGE_SIZE), floored, with the bytes the floors leave out of the exact total
 * given one each to the largest remainders (ties to the earlier item). The result adds up
 * to the floor of the exact total, which is the exact total whenever the items cover every
 * mapping of their KSM pages (a whole machine, or a whole scenario).
 */
export function apportionBytes(items: readonly ApportionItem[]): number[] {
  let lcm = 1n;
  for (const it of items)
    for (const [n] of it.shares) {
      const bn = BigInt(n);
      lcm = (lcm / gcd(lcm, bn)) * bn;
    }
  const page = BigInt(PAGE_SIZE);
  const floors: bigint[] = [];
  const rems: bigint[] = [];
  let total = 0n;
  for (const it of items) {
    let num = BigInt(it.wholePages) * page * lcm;
    for (const [n, c] of it.shares) num += BigInt(c) * BigInt(n - 1) * page * (lcm / BigInt(n));
    floors.push(num / lcm);
    rems.push(num % lcm);
    total += num;
  }
  let left = total / lcm - floors.reduce((a, b) => a + b, 0n);
  const order = items.map((_, i) => i).sort((a, b) => (rems[b]! > rems[a]! ? 1 : rems[b]! < rems[a]! ? -1 : a - b));
  for (const i of order) {
    if (left <= 0n) break;
    if (rems[i] === 0n) break;
    floors[i]! += 1n;
    left -= 1n;
  }
  return floors.map(Number);
}
