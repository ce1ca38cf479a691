/** Page size of the modelled machine (x86_64, 4 KiB pages). */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;

const MULTIPLIERS: Readonly<Record<string, number>> = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const SIZE_SYNTAX = /^(\d+)\s*(KiB|MiB|GiB)?$/;
const HINT = 'expected a whole number of bytes, optionally with a KiB, MiB or GiB suffix';

/**
 * Parses a size as scenario files write it: a non-negative whole number of bytes, given as a
 * number or as text with an optional binary suffix (`4096`, `"64KiB"`, `"20 MiB"`, `"1GiB"`).
 * Returns the byte count, or an error message for the user (negatives, fractions, decimal or
 * unknown suffixes, and values past 2^53 are refused). Page alignment is the caller's check.
 */
export function parseSize(text: string | number): number | string {
  if (typeof text === 'number') {
    if (!Number.isFinite(text)) return `Invalid size ${text}: ${HINT}`;
    if (text < 0) return `Invalid size ${text}: a size cannot be negative`;
    if (!Number.isInteger(text)) return `Invalid size ${text}: ${HINT}`;
    if (!Number.isSafeInteger(text)) return `Invalid size ${text}: too large`;
    return text;
  }
  const trimmed = text.trim();
  const m = SIZE_SYNTAX.exec(trimmed);
  if (m === null) {
    if (/^-\s*\d/.test(trimmed)) return `Invalid size "${text}": a size cannot be negative`;
    return `Invalid size "${text}": ${HINT}`;
  }
  const value = Number(m[1]) * (MULTIPLIERS[m[2] ?? ''] as number);
  if (!Number.isSafeInteger(value)) return `Invalid size "${text}": too large`;
  return value;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * A byte count for people, in the largest binary unit that keeps the number at least 1:
 * whole bytes as `512 B`, one decimal below 10 (`4.0 KiB`, `1.5 MiB`), none from 10 up
 * (`20 MiB`, `512 GiB`), as `ls -h` does. Negative counts (e.g. a KSM profit) keep the sign.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  if (unit === 0) return `${sign}${Math.round(v)} B`;
  let shown = v < 10 ? v.toFixed(1) : Math.round(v).toString();
  // Rounding can reach 1024 (e.g. 1023.7 KiB): show it as 1.0 of the next unit instead.
  if (Number(shown) >= 1024 && unit < UNITS.length - 1) {
    unit++;
    shown = (Number(shown) / 1024).toFixed(1);
  }
  return `${sign}${shown} ${UNITS[unit] as string}`;
}
