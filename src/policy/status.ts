/**
 * The daemon's account of itself, per process and per marked range: what it selected, what
 * it marked, what ksmd made of it (the kernel's own per-process figures, /proc/PID/ksm_stat),
 * and what the policy's data costs. The live driver adds the machine's side (the daemon's
 * RSS and CPU, general_profit and the net figure); `samepage plus status` prints it as tables
 * or --json, and the control directory's counter files read from it.
 */
import { percentile } from '../lib/statistics.ts';
import type { EngineCounters, PlusEngine } from './engine.ts';
import type { PlusHost } from './host.ts';
import type { PlusKnobs } from './knobs.ts';
import { rangePages } from './ranges.ts';

export interface RangeStatus {
  /** [start, end) as hexadecimal addresses, as /proc/PID/maps prints them. */
  readonly start: string;
  readonly end: string;
  readonly pages: number;
  /** Present pages and KSM pages at the last check (-1 before ksmd had its scans). */
  readonly present: number;
  readonly merging: number;
  /** ksmd full scans since the range was marked. */
  readonly age_scans: number;
  readonly why: string;
}

export interface ProcessStatus {
  readonly pid: number;
  readonly comm: string;
  /** "name firefox", "pid 1234", "cgroup /system.slice/x.service". */
  readonly selected_by: string;
  readonly regions: number;
  readonly regions_dropped: number;
  readonly marked_ranges: number;
  readonly marked_pages: number;
  /** The kernel's figures for the process (/proc/PID/ksm_stat); -1 when it could not be read. */
  readonly rmap_items: number;
  readonly merging_pages: number;
  readonly zero_pages: number;
  readonly process_profit: number;
  readonly merge_any: boolean;
  readonly injections: number;
  /** Pause the injections imposed on the process, 50th and 99th percentile, microseconds. */
  readonly pause_p50_us: number | null;
  readonly pause_p99_us: number | null;
  /** Why the process is left alone, if it is. */
  readonly skipped: string | null;
  readonly ranges: readonly RangeStatus[];
}

export interface PolicyStatus {
  readonly knobs: PlusKnobs;
  readonly names: readonly string[];
  readonly pids: readonly number[];
  readonly cgroups: readonly string[];
  readonly counters: EngineCounters;
  readonly processes: readonly ProcessStatus[];
  readonly totals: {
    readonly processes: number;
    readonly marked_ranges: number;
    readonly marked_pages: number;
    readonly rmap_items: number;
    readonly merging_pages: number;
    readonly process_profit: number;
    readonly injections: number;
    readonly pause_p50_us: number | null;
    readonly pause_p99_us: number | null;
  };
  /** What the policy's own data takes: the duplicate index and its other tables. */
  readonly memory: {
    readonly index_entries: number;
    readonly index_bytes: number;
    readonly policy_bytes: number;
  };
}

/** The p-th percentile (0-100) of pauses in ns, in µs to a tenth, or null where there were none. */
export function pauseUs(pausesNs: readonly number[], p: number): number | null {
  const ns = percentile(pausesNs, p);
  return ns === undefined ? null : Math.round(ns / 100) / 10;
}

const hex = (vpn: number): string => (vpn * 4096).toString(16);

/** The policy's status now; reads each process's ksm_stat through `host`. */
export function policyStatus(engine: PlusEngine, host: PlusHost): PolicyStatus {
  const full = host.fullScans();
  const allPauses: number[] = [];
  const processes = engine.processes().map((p): ProcessStatus => {
    const ksm = host.ksmStat(p.pid);
    allPauses.push(...p.pausesNs);
    return {
      pid: p.pid,
      comm: p.comm,
      selected_by: p.why,
      regions: p.regions.length,
      regions_dropped: p.regions.filter((r) => r.dropped).length,
      marked_ranges: p.marked.length,
      marked_pages: rangePages(p.markedRanges()),
      rmap_items: ksm?.rmapItems ?? -1,
      merging_pages: ksm?.mergingPages ?? -1,
      zero_pages: ksm?.zeroPages ?? -1,
      process_profit: ksm?.processProfit ?? 0,
      merge_any: ksm?.mergeAny ?? false,
      injections: p.injections,
      pause_p50_us: pauseUs(p.pausesNs, 50),
      pause_p99_us: pauseUs(p.pausesNs, 99),
      skipped: p.skipped?.why ?? null,
      ranges: p.marked.map(
        (m): RangeStatus => ({
          start: hex(m.start),
          end: hex(m.end),
          pages: m.end - m.start,
          present: m.present,
          merging: m.merging,
          age_scans: full - m.markedAt,
          why: m.why,
        }),
      ),
    };
  });
  const sum = (f: (p: ProcessStatus) => number): number => processes.reduce((n, p) => n + Math.max(0, f(p)), 0);
  const mem = engine.memory();
  return {
    knobs: engine.knobs,
    names: [...engine.selection.names],
    pids: engine.selection.pids.map((p) => p.pid),
    cgroups: [...engine.selection.cgroups],
    counters: { ...engine.counters },
    processes,
    totals: {
      processes: processes.length,
      marked_ranges: sum((p) => p.marked_ranges),
      marked_pages: sum((p) => p.marked_pages),
      rmap_items: sum((p) => p.rmap_items),
      merging_pages: sum((p) => p.merging_pages),
      process_profit: processes.reduce((n, p) => n + p.process_profit, 0),
      injections: sum((p) => p.injections),
      pause_p50_us: pauseUs(allPauses, 50),
      pause_p99_us: pauseUs(allPauses, 99),
    },
    memory: {
      index_entries: mem.indexEntries,
      index_bytes: mem.indexBytes,
      policy_bytes: mem.indexBytes + mem.batchBytes + mem.otherBytes,
    },
  };
}
