/**
 * What a scenario run produces (the `--json` shape of docs/scenario-format.md).
 * Plain data only: report/ renders these without knowing any kernel object.
 */
import type { AttributionRecord } from '../attribution/record.ts';
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
  /** On the model, once a step used it: every file of the KSM+ daemon's directory (/run/samepage/ksm+). */
  readonly plus?: Readonly<Record<string, number | string>>;
  /**
   * The KSM lines of /proc/vmstat (cow_ksm, ksm_swpin_copy): the model's since boot, the
   * kernel backend's since the run started (the counters are the machine's).
   */
  readonly vmstat?: Readonly<Record<string, number>>;
  /** Who saves what (docs/attribution.md): each process's exact share of KSM's saving. */
  readonly attribution?: AttributionRecord;
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
  /**
   * The charted counters as the run went (scenario/samples.ts), when they were asked for (a
   * report): not part of `--json`, whose records are the contract's.
   */
  readonly samples?: Samples;
}

/**
 * The counters a chart draws, at one moment of a run: a light record (no knobs, no page
 * walk), so it can be taken after every event of the model.
 */
export interface CounterSample {
  readonly time_ms: number;
  /** The label of the record step this sample was taken at, if any. */
  readonly label?: string;
  /** SAMPLED_KSM_FILES of /sys/kernel/mm/ksm. */
  readonly ksm: Readonly<Record<string, number>>;
  /** SAMPLED_KSMPLUS_FILES of /sys/kernel/mm/ksm+ (the model). */
  readonly ksmplus?: Readonly<Record<string, number>>;
  /** ksm_merging_pages of each process alive, by its scenario name. */
  readonly merging: Readonly<Record<string, number>>;
  /** CPU milliseconds each scanner's kernel thread has used so far, by scanner ('ksm', 'ksm+'). */
  readonly cpu_ms?: Readonly<Record<string, number>>;
}

/** A run's samples and how they were taken. */
export interface Samples {
  /**
   * 'change': the model, after every event that changed a sampled counter (the counters hold
   * their value until the next sample, exactly); 'poll': the kernel backend, every 100 ms of
   * a wait and each time its polling saw a full scan end, keeping those that changed and the
   * last unchanged one before a change (values between two samples are unknown); 'record':
   * only the record steps (a run without samples).
   */
  readonly every: 'change' | 'poll' | 'record';
  /**
   * 0 when every sample taken is kept; else the span (ms) of the time buckets a long run's
   * samples were thinned to: each bucket keeps its first and last sample and the records.
   */
  readonly bucket_ms: number;
  readonly points: readonly CounterSample[];
}
