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
  /** advisor_min_pages_to_scan (the advisor's first pages_to_scan), where not the default 500. */
  readonly minPagesToScan?: number;
  /** advisor_max_cpu, where not the default 70. */
  readonly maxCpu?: number;
  /** advisor_max_pages_to_scan, where not the default 30,000. */
  readonly maxPagesToScan?: number;
  /** The region's pages, where not TIMING_PAGES. */
  readonly pages?: number;
}

/** The region's pages: 80 MiB, as the measurements. */
export const TIMING_PAGES = 20_480;
/** The waits, in ms, after each of which a record is taken (at 0.5 s, 2 s and 5 s). */
export const TIMING_WAITS_MS = [500, 1500, 3000] as const;
/** The advisor cells record after each of this many full scans (the advisor retunes at each). */
export const ADVISOR_SCANS = 4;

export const GRID_PAGES_TO_SCAN = [100, 500, 1000, 2000, 5000] as const;
export const GRID_SLEEP_MILLISECS = [1, 5, 20, 50, 200] as const;

/**
 * An advisor cell whose steps do not hang on ksmd's CPU time (worked out from
 * scan_time_advisor's arithmetic for 2 to 4 µs a page and 0 to 0.6 ms a wake-up, and measured
 * on the live kernel: docs/cost-model.md, "The scan-time advisor's cells"). Target 1 s: after
 * scan 1 (500 pages a batch, under 1 s) the advisor's cap of advisor_max_cpu × 1 gives 70
 * (its first CPU figure is ksmd's whole runtime since boot); scan 2 (70 pages a batch, 293
 * batches of 24 ms: 7 s, ksmd under 2 % of it) gives the target term, 500 × the EWMA of the
 * change (231 %) = 1,155, which the CPU floor and cap do not reach while cpu_percent is 1 to
 * 4; scan 3 (under 1 s) the target term again, 1,905, or the CPU floor above it (1,920 at
 * cpu_percent 6) or the 2,000 cap (cpu_percent 5 or less); scan 4 the 2,000 cap.
 */
export const ADVISOR_STEADY: TimingCell = {
  pagesToScan: 0,
  sleepMillisecs: 20,
  smartScan: 0,
  advisor: true,
  targetScanTime: 1,
  maxPagesToScan: 2000,
};

/**
 * An advisor cell that slows ksmd down by the target term with ksmd at a quarter of a CPU or
 * more, where cpu_percent (25 to 40) is far from the 1-2 % whose integer flips the answer:
 * 80,000 pages (312.5 MiB), target 5 s, advisor_min_pages_to_scan 2,000 and advisor_max_cpu
 * 100; about 23 s a run. Scan 1 gives advisor_max_cpu × 1 = 100; scan 2 (800 batches of 24
 * ms: 19.2 s, so scan_time 19 unless the kernel's periods stretch by 4 %; with 81,920 pages
 * they stretched past 20 s on every live run) the target term, 2,269; scans 3 and 4 (1.0 to
 * 1.4 s each) the target term, 1,879 and 1,200, for 2.5 to 5 µs a page.
 */
export const ADVISOR_LARGE: TimingCell = {
  pagesToScan: 0,
  sleepMillisecs: 20,
  smartScan: 0,
  advisor: true,
  targetScanTime: 5,
  minPagesToScan: 2000,
  maxCpu: 100,
  pages: 80_000,
};

/** Every cell: the knob grid with smart_scan on and off, then the advisor cells. */
export function timingGrid(): TimingCell[] {
  const cells: TimingCell[] = [];
  for (const smartScan of [1, 0] as const)
    for (const pagesToScan of GRID_PAGES_TO_SCAN)
      for (const sleepMillisecs of GRID_SLEEP_MILLISECS)
        cells.push({ pagesToScan, sleepMillisecs, smartScan, advisor: false });
  for (const sleepMillisecs of [20, 5] as const)
    cells.push({ pagesToScan: 0, sleepMillisecs, smartScan: 0, advisor: true, targetScanTime: 2 });
  cells.push(ADVISOR_STEADY, ADVISOR_LARGE);
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
    ADVISOR_STEADY,
  ];
}

/**
 * The cell's name: `timing-<pages_to_scan>-<sleep_millisecs>-smart<0|1>`, or
 * `timing-advisor-target<s>-sleep<ms>` with `-min<n>`, `-cpu<n>`, `-max<n>` and `-pages<n>`
 * for the advisor's knobs and the region where they are not the defaults.
 */
export function timingCellName(c: TimingCell): string {
  if (!c.advisor) return `timing-${c.pagesToScan}-${c.sleepMillisecs}-smart${c.smartScan}`;
  const extra = [
    c.minPagesToScan === undefined ? '' : `-min${c.minPagesToScan}`,
    c.maxCpu === undefined ? '' : `-cpu${c.maxCpu}`,
    c.maxPagesToScan === undefined ? '' : `-max${c.maxPagesToScan}`,
    c.pages === undefined ? '' : `-pages${c.pages}`,
  ].join('');
  return `timing-advisor-target${c.targetScanTime ?? 200}-sleep${c.sleepMillisecs}${extra}`;
}

/** The advisor's knobs of an advisor cell, in the order the kernel needs them (the mode last). */
function advisorKnobs(c: TimingCell): string[] {
  return [
    ...(c.minPagesToScan === undefined ? [] : [`  advisor_min_pages_to_scan: ${c.minPagesToScan}`]),
    ...(c.maxCpu === undefined ? [] : [`  advisor_max_cpu: ${c.maxCpu}`]),
    ...(c.maxPagesToScan === undefined ? [] : [`  advisor_max_pages_to_scan: ${c.maxPagesToScan}`]),
    `  advisor_target_scan_time: ${c.targetScanTime ?? 200}`,
    '  advisor_mode: scan-time',
  ];
}

/** The cell as a scenario file (YAML text, docs/scenario-format.md). */
export function timingScenario(c: TimingCell): string {
  const ksm = [
    '  run: 2',
    ...(c.advisor ? [] : [`  pages_to_scan: ${c.pagesToScan}`]),
    `  sleep_millisecs: ${c.sleepMillisecs}`,
    `  smart_scan: ${c.smartScan}`,
    ...(c.advisor ? advisorKnobs(c) : []),
  ];
  const pages = c.pages ?? TIMING_PAGES;
  const mib = (pages * 4096) / 2 ** 20;
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
      ? `  The scan-time advisor's pages_to_scan after each of ${ADVISOR_SCANS} full scans of ${pages} pages of random`
      : `  ksmd's cadence: ${pages} pages of random bytes (${mib} MiB), scanned for ${t / 1000} s of wall time`,
    c.advisor
      ? `  bytes (${mib} MiB), target ${c.targetScanTime ?? 200} s, sleep_millisecs ${c.sleepMillisecs}.`
      : `  at pages_to_scan ${c.pagesToScan}, sleep_millisecs ${c.sleepMillisecs}, smart_scan ${c.smartScan}.`,
    'ksm:',
    ...ksm,
    'steps:',
    '  - spawn: { proc: t, comm: timing }',
    `  - mmap: { proc: t, region: buf, size: ${pages * 4096} }`,
    '  - fill: { proc: t, region: buf, pattern: { random: 7 } }',
    '  - madvise: { proc: t, region: buf, advice: MADV_MERGEABLE }',
    '  - sysfs: { path: ksm/run, value: "1" }',
    ...steps,
    '',
  ].join('\n');
}
