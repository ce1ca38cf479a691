/** Page size of the modelled machine (x86_64, 4 KiB pages). */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'] as const;

/**
 * The largest binary unit that keeps `n` (bytes, either sign) at least 1, and its size:
 * `{ unit: 'MiB', scale: 1048576 }` for 5 MiB; bytes below 1 KiB.
 */
export function binaryUnit(n: number): { readonly unit: (typeof UNITS)[number]; readonly scale: number } {
  let v = Math.abs(n);
  let unit = 0;
  while (v >= 1024 && unit < UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return { unit: UNITS[unit] as (typeof UNITS)[number], scale: 1024 ** unit };
}

/**
 * A byte count for people, in the largest binary unit that keeps the number at least 1:
 * whole bytes as `512 B`, one decimal below 10 (`4.0 KiB`, `1.5 MiB`), none from 10 up
 * (`20 MiB`, `512 GiB`), as `ls -h` does; with `decimals`, that many always (`39.8 MiB`,
 * for figures compared side by side). Negative counts (e.g. a KSM profit) keep the sign.
 */
export function formatBytes(n: number, decimals?: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const { unit: name, scale } = binaryUnit(n);
  let unit = UNITS.indexOf(name);
  const v = Math.abs(n) / scale;
  if (unit === 0) return `${sign}${Math.round(v)} B`;
  let shown = decimals !== undefined ? v.toFixed(decimals) : v < 10 ? v.toFixed(1) : Math.round(v).toString();
  // Rounding can reach 1024 (e.g. 1023.7 KiB): show it as 1.0 of the next unit instead.
  if (Number(shown) >= 1024 && unit < UNITS.length - 1) {
    unit++;
    shown = (Number(shown) / 1024).toFixed(decimals ?? 1);
  }
  return `${sign}${shown} ${UNITS[unit] as string}`;
}
