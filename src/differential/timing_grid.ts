/**
 * The timing family of the differential suite: one scenario per cell of a grid of ksmd's
 * knobs (pages_to_scan 100 to 5,000, sleep_millisecs 1 to 200, smart_scan on and off, and
 * the scan-time advisor), each an 80 MiB region of random pages (nothing merges, every
 * page is compared in the unstable tree: ksmd's costliest steady state) scanned for 5
 * seconds of wall time, recorded at 0.5 s, 2 s and 5 s. The advisor cells record after each
 * full scan instead, where the advisor retunes pages_to_scan from the scan's duration.
 * `samepage diff --timed` compares them (timed.ts); test/differential-timing.test.ts runs
 * them.
 */

/** One cell of the grid. */
export interface TimingCell {
  readonly pagesToScan: number;
  readonly sleepMillisecs: number;
  readonly smartScan: 0 | 1;
  /** advisor_mode=scan-time (pages_to_scan then starts at advisor_min_pages_to_scan). */
  readonly advisor: boolean;
  /** advisor_target_scan_time, for advisor cells. */
  readonly targetScanTime?: number;
}

/** The region's pages: 80 MiB, as the measurements. */
export const TIMING_PAGES = 20_480;
/** The waits, in ms, after each of which a record is taken (at 0.5 s, 2 s and 5 s). */
export const TIMING_WAITS_MS = [500, 1500, 3000] as const;
/** The advisor cells record after each of this many full scans (the advisor retunes at each). */
export const ADVISOR_SCANS = 4;

export const GRID_PAGES_TO_SCAN = [100, 500, 1000, 2000, 5000] as const;
export const GRID_SLEEP_MILLISECS = [1, 5, 20, 50, 200] as const;

/** Every cell: the knob grid with smart_scan on and off, then the advisor cells. */
export function timingGrid(): TimingCell[] {
  const cells: TimingCell[] = [];
  for (const smartScan of [1, 0] as const)
    for (const pagesToScan of GRID_PAGES_TO_SCAN)
      for (const sleepMillisecs of GRID_SLEEP_MILLISECS)
        cells.push({ pagesToScan, sleepMillisecs, smartScan, advisor: false });
  for (const sleepMillisecs of [20, 5] as const)
    cells.push({ pagesToScan: 0, sleepMillisecs, smartScan: 0, advisor: true, targetScanTime: 2 });
  return cells;
}

/**
 * The cells the differential suite runs by default (SAMEPAGE_DIFF_TIMING=all runs the whole
 * grid): the defaults, each pages_to_scan and each sleep_millisecs at least once, both
 * smart_scan settings, and the advisor.
 */
export function defaultTimingCells(): TimingCell[] {
  const pick = (p: number, s: number, smart: 0 | 1): TimingCell => ({
    pagesToScan: p,
    sleepMillisecs: s,
    smartScan: smart,
    advisor: false,
  });
  return [
    pick(100, 20, 1),
    pick(100, 1, 1),
    pick(500, 5, 0),
    pick(1000, 200, 1),
    pick(2000, 50, 1),
    pick(5000, 1, 0),
    { pagesToScan: 0, sleepMillisecs: 20, smartScan: 0, advisor: true, targetScanTime: 2 },
  ];
}

/** The cell's name: `timing-<pages_to_scan>-<sleep_millisecs>-smart<0|1>` or `timing-advisor-...`. */
export function timingCellName(c: TimingCell): string {
  return c.advisor
    ? `timing-advisor-target${c.targetScanTime ?? 200}-sleep${c.sleepMillisecs}`
    : `timing-${c.pagesToScan}-${c.sleepMillisecs}-smart${c.smartScan}`;
}

/** The cell as a scenario file (YAML text, docs/scenario-format.md). */
export function timingScenario(c: TimingCell): string {
  const ksm = [
    '  run: 2',
    ...(c.advisor ? [] : [`  pages_to_scan: ${c.pagesToScan}`]),
    `  sleep_millisecs: ${c.sleepMillisecs}`,
    `  smart_scan: ${c.smartScan}`,
    ...(c.advisor ? [`  advisor_target_scan_time: ${c.targetScanTime ?? 200}`, '  advisor_mode: scan-time'] : []),
  ];
  const steps: string[] = [];
  let t = 0;
  if (c.advisor) {
    for (let scan = 1; scan <= ADVISOR_SCANS; scan++)
      steps.push('  - wait: { full_scans: 1 }', `  - record: { label: "full scan ${scan}" }`);
  } else {
    for (const ms of TIMING_WAITS_MS) {
      t += ms;
      steps.push(`  - wait: { ms: ${ms} }`, `  - record: { label: "${t / 1000} s" }`);
    }
  }
  return [
    'version: 1',
    `name: ${timingCellName(c)}`,
    'description: >',
    c.advisor
      ? `  The scan-time advisor's pages_to_scan after each of ${ADVISOR_SCANS} full scans of ${TIMING_PAGES} pages of random`
      : `  ksmd's cadence: ${TIMING_PAGES} pages of random bytes (80 MiB), scanned for ${t / 1000} s of wall time`,
    c.advisor
      ? `  bytes (80 MiB), target ${c.targetScanTime ?? 200} s, sleep_millisecs ${c.sleepMillisecs}.`
      : `  at pages_to_scan ${c.pagesToScan}, sleep_millisecs ${c.sleepMillisecs}, smart_scan ${c.smartScan}.`,
    'ksm:',
    ...ksm,
    'steps:',
    '  - spawn: { proc: t, comm: timing }',
    `  - mmap: { proc: t, region: buf, size: ${TIMING_PAGES * 4096} }`,
    '  - fill: { proc: t, region: buf, pattern: { random: 7 } }',
    '  - madvise: { proc: t, region: buf, advice: MADV_MERGEABLE }',
    '  - sysfs: { path: ksm/run, value: "1" }',
    ...steps,
    '',
  ].join('\n');
}
