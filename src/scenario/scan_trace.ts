/**
 * full_scans over the time ksmd ran, as a backend saw it change: what the timed comparison
 * (differential/timed.ts) judges a step counter by. full_scans moves in whole passes, so at
 * a pass boundary a clock difference of one batch shows as a whole full scan; comparing the
 * times at which each side reached a value instead of the values at one time judges it by
 * its clock.
 *
 * The time axis is ksmd's: the milliseconds spent inside waits, the only time ksmd runs on
 * either backend (the kernel backend holds ksm/run at 0 between waits, the model's clock
 * stands still between them). A record is placed on that axis where it was taken. After a
 * wait for full scans the two sides meet on an event rather than at a time, so records from
 * then on have no place on the axis (`undefined`): they are compared by value only.
 *
 * The model adds a point at every event that changed full_scans (exact); the kernel backend
 * polls /sys/kernel/mm/ksm/full_scans every few milliseconds during a timed wait and adds
 * the first reading that showed a new value (so its times are late by up to one poll).
 */

/** One run's trace. */
export interface ScanTrace {
  /** ksmd time (ms) at which each record was taken, in record order; undefined after a wait for full scans. */
  readonly recordAtMs: ReadonlyArray<number | undefined>;
  /** [ksmd time in ms, full_scans] at the start of the first wait and at each change seen, in time order. */
  readonly fullScans: ReadonlyArray<readonly [number, number]>;
}

/** full_scans at ksmd time `ms` by the trace (the last point at or before it; 0 before the first). */
export function fullScansAt(trace: ScanTrace, ms: number): number {
  let value = 0;
  for (const [t, v] of trace.fullScans) {
    if (t > ms) break;
    value = v;
  }
  return value;
}

/** When the trace first showed full_scans >= `value` (ms of ksmd time); undefined if it never did. */
export function fullScansReachedAt(trace: ScanTrace, value: number): number | undefined {
  for (const [t, v] of trace.fullScans) if (v >= value) return t;
  return undefined;
}

/** Builds a ScanTrace as a backend runs: begin and end each wait, tell it each reading, mark each record. */
export class ScanTraceRecorder {
  /** ksmd time before the current wait. */
  #waitedMs = 0;
  #aligned = true;
  readonly #points: Array<readonly [number, number]> = [];
  readonly #records: Array<number | undefined> = [];

  /** A reading of full_scans `elapsedMs` into the current wait; kept if it changed. */
  see(elapsedMs: number, value: number): void {
    const last = this.#points.at(-1);
    if (last === undefined || last[1] !== value) this.#points.push([this.#waitedMs + elapsedMs, value]);
  }

  /** The current wait is over after `durationMs`; `byFullScans` when it waited for full scans. */
  endWait(durationMs: number, byFullScans: boolean): void {
    this.#waitedMs += durationMs;
    if (byFullScans) this.#aligned = false;
  }

  /** A record is taken now. */
  record(): void {
    this.#records.push(this.#aligned ? this.#waitedMs : undefined);
  }

  result(): ScanTrace {
    return { recordAtMs: [...this.#records], fullScans: [...this.#points] };
  }
}
