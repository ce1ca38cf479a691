/**
 * What the time charts of a run draw: the run's samples (scenario/samples.ts) when the
 * backend took them, else its records; and what can be said of them before drawing (a
 * chart of one moment, or of a counter that stayed 0, is not drawn).
 */
import type { CounterRecord, CounterSample, RunResult, Samples } from '../scenario/records.ts';
import { formatMs } from '../lib/duration.ts';

/** A record as a sample: its numeric KSM and KSM+ files, each process's merging pages. */
export function recordSample(r: CounterRecord): CounterSample {
  const numbers = (files: Readonly<Record<string, number | string>>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(files)) if (typeof v === 'number') out[k] = v;
    return out;
  };
  const merging: Record<string, number> = {};
  for (const [name, p] of Object.entries(r.procs)) merging[name] = p.ksm_merging_pages;
  return {
    time_ms: r.time_ms,
    label: r.label,
    ksm: numbers(r.ksm),
    ...(r.ksmplus === undefined ? {} : { ksmplus: numbers(r.ksmplus) }),
    merging,
  };
}

/** The samples a run's charts draw: those the backend took, or else one per record. */
export function runSamples(run: Pick<RunResult, 'records' | 'samples'>): Samples {
  return run.samples ?? { every: 'record', bucket_ms: 0, points: run.records.map(recordSample) };
}

/** Whether the samples span some time: one moment gives a chart of one point. */
export function spansTime(s: Samples): boolean {
  const first = s.points[0];
  return first !== undefined && s.points.some((p) => p.time_ms !== first.time_ms);
}

/** Whether some sample has a non-zero value for `read` (undefined: the sample lacks it). */
export function anyNonZero(s: Samples, read: (p: CounterSample) => number | undefined): boolean {
  return s.points.some((p) => {
    const v = read(p);
    return v !== undefined && v !== 0;
  });
}

/** How the line of a chart was sampled, in words, for its subtitle. */
export function samplingNote(s: Samples): string {
  // Thinned (scenario/samples.ts): each bucket of the time axis keeps its first and last sample.
  const thinned = s.bucket_ms > 0 ? `, thinned to the ends of each ${formatMs(s.bucket_ms)}` : '';
  switch (s.every) {
    case 'change':
      return `at every change the model made${thinned}; dots: record steps`;
    case 'poll':
      return `every 100 ms and at each full scan's end${thinned}; dots: record steps`;
    case 'record':
      return 'at the record steps only (straight lines between them)';
  }
}
