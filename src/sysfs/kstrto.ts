import { EINVAL, ERANGE } from '../lib/errno.ts';

/**
 * The kernel's string-to-number parsers as sysfs stores use them (lib/kstrtox.c): base 10,
 * an optional leading '+' (and '-' for signed), digits, at most one trailing newline.
 * Each returns the value or a negative errno.
 */

const UINT_MAX = 0xffffffff;
const ULONG_MAX = 2n ** 64n - 1n;
const INT_MAX = 0x7fffffff;

function parseDigits(s: string): bigint | number {
  if (s.endsWith('\n')) s = s.slice(0, -1);
  if (s.startsWith('+')) s = s.slice(1);
  if (!/^[0-9]+$/.test(s)) return -EINVAL;
  return BigInt(s);
}

/** @linux lib/kstrtox.c kstrtoull: base 10; returns a bigint or -errno. */
export function kstrtoull(s: string): bigint | number {
  const v = parseDigits(s);
  if (typeof v === 'number') return v;
  return v > ULONG_MAX ? -ERANGE : v;
}

/** @linux lib/kstrtox.c kstrtouint: base 10 */
export function kstrtouint(s: string): number {
  const v = kstrtoull(s);
  if (typeof v === 'number') return v;
  return v > BigInt(UINT_MAX) ? -ERANGE : Number(v);
}

/** @linux lib/kstrtox.c kstrtoul: base 10; an unsigned long as a number, exact below 2^53. */
export function kstrtoul(s: string): number {
  const v = kstrtoull(s);
  if (typeof v === 'number') return v;
  return Number(v);
}

/** @linux lib/kstrtox.c kstrtoint: base 10; returns { value } or { err }. */
export function kstrtoint(s: string): { value: number } | { err: number } {
  let t = s.endsWith('\n') ? s.slice(0, -1) : s;
  let neg = false;
  if (t.startsWith('-')) {
    neg = true;
    t = t.slice(1);
  } else if (t.startsWith('+')) {
    t = t.slice(1);
  }
  if (!/^[0-9]+$/.test(t)) return { err: -EINVAL };
  const v = BigInt(t);
  if (neg ? v > BigInt(INT_MAX) + 1n : v > BigInt(INT_MAX)) return { err: -ERANGE };
  return { value: Number(neg ? -v : v) };
}

/**
 * Reads a boolean from its first character: y/Y/t/T/1 true, n/N/f/F/0 false, o/O followed by
 * n/N (on) true or f/F (off) false; anything else -EINVAL. Only those characters count, so
 * "yes", "nope", "10" and "of" are accepted too, as Linux 6.18 does ('t' and 'f' since
 * Linux 6.0).
 * @linux lib/kstrtox.c kstrtobool: y/Y/t/T/1 true, n/N/f/F/0 false, on/off; the first characters only.
 */
export function kstrtobool(s: string): boolean | number {
  switch (s[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case '1':
      return true;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case '0':
      return false;
    case 'o':
    case 'O':
      if (s[1] === 'n' || s[1] === 'N') return true;
      if (s[1] === 'f' || s[1] === 'F') return false;
      return -EINVAL;
    default:
      return -EINVAL;
  }
}

/** @linux lib/string.c sysfs_streq: equal, ignoring one trailing newline on either side. */
export function sysfsStreq(a: string, b: string): boolean {
  const strip = (x: string) => (x.endsWith('\n') ? x.slice(0, -1) : x);
  return strip(a) === strip(b);
}
