/**
 * The thesis's sampling of one VMA (Zhou Xiao, "Linux 桌面环境下内存去重技术的研究与实现",
 * 2013, section 4.2.2, vma_node_do_sampling): `sample_count = pages × coefficient / 100`,
 * `gap = pages / sample_count` (integer division, as its C does), and one random page in each
 * whole interval of `gap` pages. With coefficients above 50 the gap is 1 and every page is
 * taken. Shared by the model's KSM+ (src/ksmplus/) and the daemon for stock kernels
 * (src/policy/), so both sample alike.
 */

/** The gap of a round: pages per sample, at least 1 (the thesis divides by zero at 0 %). */
export function sampleGap(pages: number, coefficient: number): number {
  const sampleCount = Math.max(1, Math.floor((pages * coefficient) / 100));
  return Math.max(1, Math.floor(pages / sampleCount));
}

/**
 * The page indices a round samples, in rising order; `below(n)` is a uniform integer in
 * [0, n) from the caller's seeded generator, called once per sample (also when the gap is
 * 1), so a generator's sequence does not depend on the gap.
 * @thesis 4.2.2 vma_node_do_sampling (sampling part)
 */
export function samplePageIndices(pages: number, coefficient: number, below: (n: number) => number): number[] {
  const out: number[] = [];
  forEachSample(pages, coefficient, below, (i) => out.push(i));
  return out;
}

/** How many pages a round samples (one per whole interval of the gap). */
export function sampleCount(pages: number, coefficient: number): number {
  return Math.floor(pages / sampleGap(pages, coefficient));
}

/** Calls `fn` with each sampled page index in rising order, as samplePageIndices lists them. */
export function forEachSample(
  pages: number,
  coefficient: number,
  below: (n: number) => number,
  fn: (index: number) => void,
): void {
  const gap = sampleGap(pages, coefficient);
  for (let left = 0; left + gap <= pages; left += gap) fn(left + below(gap));
}
