/**
 * memcmp of 4 KiB pages, as KSM's tree walks need it (mm/ksm.c memcmp_pages orders the
 * stable and unstable trees by memcmp of page contents).
 *
 * Hybrid, because of costs measured on Node 20 when this was written: a call
 * into native Buffer#compare costs ~110-140 ns even when byte 0 differs, while a JS loop over
 * a short prefix costs tens of ns; but a JS loop over a whole equal page costs microseconds.
 * Most pages met in a walk differ in their first bytes, so the first 64 bytes are compared in
 * JS and only pages equal that far go to native code. Buffer#compare is called on the
 * caller's arrays with offsets (it accepts any Uint8Array as `this`), so no subarray view is
 * allocated per call (a view costs ~300 ns).
 */
import { PAGE_SIZE } from './sizes.ts';

const PREFIX = 64;
const nativeCompare = Buffer.prototype.compare;
/** Never written: the comparison target for isZeroPage. */
const ZERO_PAGE = new Uint8Array(PAGE_SIZE);

function checkPage(buf: Uint8Array, off: number, name: string): void {
  if (!(off >= 0 && off + PAGE_SIZE <= buf.length)) {
    throw new RangeError(`${name}: page at offset ${off} does not fit in ${buf.length} bytes`);
  }
}

/**
 * Compares the 4096-byte pages at `a[aOff..]` and `b[bOff..]` like memcmp: -1, 0 or 1 by the
 * first differing byte, taken as unsigned.
 */
export function comparePages(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  checkPage(a, aOff, 'comparePages');
  checkPage(b, bOff, 'comparePages');
  for (let i = 0; i < PREFIX; i++) {
    const x = a[aOff + i] as number;
    const y = b[bOff + i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  // buf.compare(target, targetStart, targetEnd, sourceStart, sourceEnd): `this` is the source.
  return nativeCompare.call(a, b, bOff + PREFIX, bOff + PAGE_SIZE, aOff + PREFIX, aOff + PAGE_SIZE);
}

/** Whether the two 4096-byte pages hold the same bytes. */
export function pagesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  return comparePages(a, aOff, b, bOff) === 0;
}

/** Whether the 4096-byte page at `buf[off..]` is all zero bytes. */
export function isZeroPage(buf: Uint8Array, off: number): boolean {
  checkPage(buf, off, 'isZeroPage');
  for (let i = 0; i < PREFIX; i++) if (buf[off + i] !== 0) return false;
  return nativeCompare.call(buf, ZERO_PAGE, PREFIX, PAGE_SIZE, off + PREFIX, off + PAGE_SIZE) === 0;
}
