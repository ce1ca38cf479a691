/**
 * The calibration's workloads measured in rounds (`bench --calibrate --rounds N`): every
 * workload once a round, the order reversed every other round, and each measured scan's
 * ksmd CPU the median of its rounds.
 *
 * Why: the per-event constants are fitted to the workloads' scans, and this host's speed
 * moves 20-45 % within an hour and, measured in rounds on 2026-12-05, 15-20 % within half a
 * minute. Measured once, a slow stretch under one workload sets the constants that workload
 * separates (the set of 2026-12-05 17:21 came to about 4 µs a page for a warm 1,000-page
 * batch against the kernel's 2.3; docs/cost-model-journal.md, "The reload's split,
 * interleaved"). In rounds, a workload's readings are a round apart (about 15 s at 65,536
 * pages), so a stretch that slows one of them is outvoted by the others; reversing the order
 * every other round puts every workload at the same mean time over two rounds, so a steady
 * drift moves all of them alike instead of the last ones most. A slow stretch longer than
 * the rounds is not outvoted: a calibration of five rounds put visitNs at 214 ns against
 * 127-146 (journal: "The workloads in rounds").
 */
import { median } from '../lib/statistics.ts';
import type { KernelRun, KernelRunOptions, KernelScan } from './kernel.ts';
import type { Workload } from './workloads.ts';

/**
 * The most rounds `--rounds` takes. A round is about 15 s at 65,536 pages and grows with
 * `--pages`; the median is bought against drift of seconds to a minute, and rounds beyond
 * a handful only stretch the calibration over more of the host's slower swings.
 */
export const MAX_ROUNDS = 9;

/** The workloads' order in round `round` (0-based): as given, reversed every other round. */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...items] : [...items].reverse();
}

/** One workload's scans over its rounds, merged, and what did not agree between rounds. */
export interface MergedRun {
  readonly run: KernelRun;
  /** ksmd's CPU seconds of each measured scan in every round, in round order. */
  readonly cpuRoundsS: readonly (readonly number[])[];
  /** Why rounds disagree on what they scanned (the merged scan keeps the first round's pages). */
  readonly disagreements: readonly string[];
}

/**
 * A workload's runs, one a round, as one run: each scan's CPU and wall time the median of
 * its rounds; the time other work used, the most any round saw (unknown if any round's is).
 * The runs scan the same pages (the workload is deterministic); where they do not, the first
 * round's counts are kept and the difference named. Every run must have the same number of
 * measured scans: the fit pairs each with the model's scan of the same index.
 */
export function mergeRounds(name: string, runs: readonly KernelRun[]): MergedRun {
  const first = runs[0];
  if (first === undefined) throw new Error(`Workload ${name}: no rounds to merge`);
  const n = first.scans.length;
  runs.forEach((r, i) => {
    if (r.scans.length !== n)
      throw new Error(`Workload ${name}: round ${i + 1} measured ${r.scans.length} scans, round 1 ${n}`);
  });
  const disagreements: string[] = [];
  const scans: KernelScan[] = first.scans.map((s, i) => {
    const each = runs.map((r) => r.scans[i]!);
    each.forEach((o, r) => {
      if (o.pagesScanned !== s.pagesScanned)
        disagreements.push(
          `${name} scan ${i + 1}: round ${r + 1} scanned ${o.pagesScanned} pages, round 1 ${s.pagesScanned}`,
        );
    });
    const busy = each.map((o) => o.othersBusyMs);
    return {
      ...s,
      cpuS: median(each.map((o) => o.cpuS)),
      wallS: median(each.map((o) => o.wallS)),
      othersBusyMs: busy.some((b) => b === undefined) ? undefined : Math.max(...(busy as number[])),
    };
  });
  return {
    run: { ...first, scans, cpuSource: runs.some((r) => r.cpuSource === 'ticks') ? 'ticks' : first.cpuSource },
    cpuRoundsS: first.scans.map((_, i) => runs.map((r) => r.scans[i]!.cpuS)),
    disagreements,
  };
}

/**
 * Every workload measured `rounds` times in roundOrder, merged (mergeRounds), in the order
 * given. `measure` runs one workload on the kernel (calibrate.ts runKernelQuietly: again
 * while other work is busy, HostUnusable when it stays busy).
 */
export async function measureWorkloadRounds(
  workloads: readonly Workload[],
  rounds: number,
  opts: KernelRunOptions,
  measure: (w: Workload, opts: KernelRunOptions) => Promise<KernelRun>,
): Promise<Map<string, MergedRun>> {
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS)
    throw new RangeError(`rounds must be a whole number from 1 to ${MAX_ROUNDS}, not ${rounds}`);
  const runs = new Map<string, KernelRun[]>(workloads.map((w) => [w.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const w of roundOrder(workloads, r)) {
      if (rounds > 1) opts.progress(`round ${r + 1} of ${rounds}: ${w.name}`);
      runs.get(w.name)!.push(await measure(w, opts));
    }
  }
  const merged = new Map<string, MergedRun>();
  for (const w of workloads) {
    const m = mergeRounds(w.name, runs.get(w.name)!);
    for (const d of m.disagreements) opts.warn(d);
    merged.set(w.name, m);
  }
  return merged;
}
