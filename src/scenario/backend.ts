import type { Advice, Pattern, PrctlOption, Scenario, WaitUnit } from './types.ts';
import type { CounterRecord, Samples } from './records.ts';
import type { ScanTrace } from './scan_trace.ts';

/**
 * What a scenario needs from a machine. The model backend answers on virtual time; the
 * kernel backend drives real processes and the real sysfs. Every method addresses memory by
 * (proc, region, offset): region names are the backend's to resolve (fork inherits them).
 */
export interface Backend {
  readonly name: 'model' | 'kernel';
  /** Prepare the machine: the kernel backend saves sysfs and writes run=2 here. */
  start(scenario: Scenario): Promise<void>;
  spawn(proc: string, comm: string): Promise<void>;
  mmap(proc: string, region: string, size: number, shared: boolean, node: number | undefined): Promise<void>;
  fill(proc: string, region: string, pattern: Pattern, offset: number, size: number | undefined): Promise<void>;
  write(proc: string, region: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** SHA-256 (lower-case hex) of the bytes read from the range. */
  readSha256(proc: string, region: string, offset: number, size: number): Promise<string>;
  /** Returns madvise's result: 0 or -errno. */
  madvise(proc: string, region: string, advice: Advice, offset: number, size: number | undefined): Promise<number>;
  /** Returns prctl's result: a value >= 0, or -errno. */
  prctl(proc: string, option: PrctlOption, arg: number): Promise<number>;
  fork(proc: string, child: string): Promise<void>;
  exec(proc: string, comm: string): Promise<void>;
  munmap(proc: string, region: string): Promise<void>;
  exit(proc: string): Promise<void>;
  /** Writes a file under /sys/kernel/mm/ (path relative to it, e.g. `ksm/run`): 0 or -errno. */
  sysfsWrite(path: string, value: string): Promise<number>;
  /** Reads a file under /sys/kernel/mm/ or a /proc/<proc>/ path; undefined if it does not exist. */
  readPath(path: string): Promise<string | undefined>;
  /**
   * Advances time: until `count` full scans or batches of ksmd have run, or by `count`
   * milliseconds. Resolves to undefined when done, or to the reason the wait can never
   * finish (ksmd stopped, nothing registered, past the model clock's end, wall-clock
   * timeout). `onProgress` is told how far it got now and then; a promise it returns is
   * awaited (the command line lets its event loop turn there).
   */
  wait(
    unit: WaitUnit,
    count: number,
    onProgress?: (p: WaitProgress) => Promise<void> | void,
  ): Promise<string | undefined>;
  /** All counters now, labelled. */
  record(label: string): Promise<CounterRecord>;
  /** Virtual (model) or elapsed (kernel) milliseconds since start. */
  timeMs(): number;
  /**
   * When the backend was asked to sample the charted counters (scenario/samples.ts): the
   * samples so far, closed by one taken now. Called before stop.
   */
  samples?(): Promise<Samples | undefined>;
  /**
   * When the backend was asked to trace full_scans (scenario/scan_trace.ts): its course over
   * ksmd's time and where each record stands on it.
   */
  scanTrace?(): ScanTrace | undefined;
  /** Undo everything: the kernel backend kills its processes and restores sysfs. */
  stop(): Promise<void>;
}

/** How far a wait has got: full scans or batches done (or ms waited), and the time it has taken. */
export interface WaitProgress {
  readonly done: number;
  /** Virtual (model) or elapsed (kernel) milliseconds since the wait began. */
  readonly elapsedMs: number;
}

/** Thrown by a backend for a step that cannot be carried out (unknown proc or region...). */
export class StepError extends Error {
  override readonly name = 'StepError';
}
