/**
 * KSM+'s defaults (thesis, chapter 4 and section 5.1.1) and the constants the thesis leaves
 * open, each exposed as a file of /sys/kernel/mm/ksm+ (see docs/ksmplus.md).
 */
export const KSMPLUS_DEFAULTS = {
  run: 0,
  pagesToScan: 100,
  sleepMillisecs: 600,
  /** Percent of a VMA's pages sampled in its first round. */
  initialCoefficient: 100,
  /** How much the coefficient falls after each round. */
  coefficientStep: 10,
  /**
   * The floor of the coefficient. The thesis's pseudo-code lets it reach 0 and then divides
   * by zero (pages_count / sample_count); 1 keeps at least one sample per 100 pages.
   */
  minCoefficient: 1,
  /**
   * A VMA whose coefficient, decremented after a round and before the floor applies, is
   * below this, with no page of it merged, is marked VM_NOT_MERGEABLE and dropped (the
   * thesis: "coefficient < 10" after "coefficient -= 10").
   */
  dropCoefficient: 10,
} as const;
