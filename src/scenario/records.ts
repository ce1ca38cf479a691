/**
 * What a scenario run produces (the `--json` shape of docs/scenario-format.md).
 * Plain data only: report/ renders these without knowing any kernel object.
 */
import type { KsmStat } from '../lib/ksm_files.ts';

/** The counters of one process: its /proc/PID/ksm_stat, and its present pages. */
export interface ProcRecord extends KsmStat {
  readonly rss_pages: number;
}

/** Every file of /sys/kernel/mm/ksm: numbers as numbers, advisor_mode as its selected word. */
export type KsmRecord = Readonly<Record<string, number | string>>;

export interface CounterRecord {
  readonly label: string;
  readonly time_ms: number;
  readonly ksm: KsmRecord;
  readonly procs: Readonly<Record<string, ProcRecord>>;
  readonly ksmplus?: Readonly<Record<string, number | string>>;
  /**
   * The KSM lines of /proc/vmstat (cow_ksm, ksm_swpin_copy): the model's since boot, the
   * kernel backend's since the run started (the counters are the machine's).
   */
  readonly vmstat?: Readonly<Record<string, number>>;
}

export interface ExpectResult {
  readonly step: number;
  readonly path: string;
  readonly expected: number | string;
  readonly actual: number | string | null;
  readonly ok: boolean;
}

/** What a madvise or prctl step returned: a value >= 0 on success, -errno on failure. */
export interface CallResult {
  readonly step: number;
  readonly call: 'madvise' | 'prctl';
  readonly proc: string;
  readonly result: number;
}

export interface RunResult {
  readonly scenario: string;
  readonly backend: string;
  readonly ok: boolean;
  readonly records: readonly CounterRecord[];
  readonly expects: readonly ExpectResult[];
  /** Return values of madvise and prctl steps, in step order (`calls` in --json, after `expects`). */
  readonly calls?: readonly CallResult[];
  /** Why the run stopped before its last step (a failed wait or a step the backend refused). */
  readonly error?: string;
}
