/**
 * What a page's content looks like, in the thesis's terms (section 5.3.2): most duplicate
 * pages of desktop programs were all-zero, all-one (every bit set) or a short unit repeated
 * over the whole page (32 bytes for okular, "FFFFFF00" for epiphany).
 *
 * The rule, exactly: a page has period N when page[i] === page[i mod N] for every i in
 * 0..4095 (N need not divide 4096: the last copy of the unit may be cut short). Its class is
 *   - `zero`      when every byte is 0x00,
 *   - `ones`      when every byte is 0xFF,
 *   - `period-N`  for the smallest such N in 1..2048 otherwise (`period-1`: one other byte
 *                 repeated),
 *   - `other`     when no N up to 2048 works (a unit longer than half a page repeats at most
 *                 once, which says little about the content).
 */
import { PAGE_SIZE } from '../lib/sizes.ts';

export type PageClass = 'zero' | 'ones' | 'other' | `period-${number}`;

/** The longest unit that still counts as periodic: half a page. */
export const MAX_PERIOD = PAGE_SIZE / 2;

/**
 * Candidates past this many switch to the linear-time prefix function: a page of mostly one
 * byte (a sparse array, say) would otherwise cost a full compare for each of ~2048 shifts.
 */
const MAX_CANDIDATES = 32;

/** The class of the page at `buf[off .. off + 4096)`. */
export function classifyPage(buf: Uint8Array, off: number, scratch?: Int32Array): PageClass {
  const n = smallestPeriod(buf, off, scratch);
  if (n === 0) return 'other';
  if (n === 1) {
    const b = buf[off]!;
    if (b === 0x00) return 'zero';
    if (b === 0xff) return 'ones';
  }
  return `period-${n}`;
}

/**
 * The smallest N in 1..2048 with page[i] === page[i mod N] for all i, or 0 if there is none.
 * `scratch`, if given, must hold 4096 entries; passing one avoids an allocation for pages
 * that need the slow path.
 */
export function smallestPeriod(buf: Uint8Array, off: number, scratch?: Int32Array): number {
  // A period N needs page[N] === page[0]; memchr finds those shifts, memcmp checks each one
  // (page[N..] against page[..4096-N]), both native, so a typical page costs a few calls.
  const view = Buffer.from(buf.buffer, buf.byteOffset + off, PAGE_SIZE);
  const first = view[0]!;
  let candidates = 0;
  for (let n = view.indexOf(first, 1); n > 0 && n <= MAX_PERIOD; n = view.indexOf(first, n + 1)) {
    if (view.compare(view, 0, PAGE_SIZE - n, n, PAGE_SIZE) === 0) return n;
    if (++candidates > MAX_CANDIDATES) return prefixPeriod(view, scratch ?? new Int32Array(PAGE_SIZE));
  }
  return 0;
}

/**
 * The same answer from the prefix function (Knuth-Morris-Pratt): the smallest period of the
 * whole string is its length minus its longest proper border.
 */
function prefixPeriod(s: Uint8Array, pi: Int32Array): number {
  pi[0] = 0;
  for (let i = 1; i < PAGE_SIZE; i++) {
    let k = pi[i - 1]!;
    while (k > 0 && s[i] !== s[k]) k = pi[k - 1]!;
    if (s[i] === s[k]) k++;
    pi[i] = k;
  }
  const p = PAGE_SIZE - pi[PAGE_SIZE - 1]!;
  return p <= MAX_PERIOD ? p : 0;
}
