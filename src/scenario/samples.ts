/**
 * The counters a report charts, sampled as a run goes rather than only at its `record`
 * steps: the model samples after every event that changed one of them (so a chart is the
 * exact step function of what the model did), the kernel backend as its waits poll (every
 * 100 ms and at each full scan's end). A run that lasts long gets thinned into time buckets that keep their
 * first and last sample, so a chart keeps every level the counters held for a while and
 * the time it was reached, to within a bucket, in bounded memory.
 */
import type { CounterSample, Samples } from './records.ts';

/** The files of /sys/kernel/mm/ksm a sample holds: the page counters, the profit and the scans. */
export const SAMPLED_KSM_FILES = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'ksm_zero_pages',
  'general_profit',
  'full_scans',
] as const;

/** The files of /sys/kernel/mm/ksm+ a sample holds (KSM+ places no KSM zero pages; it counts its rmap_items). */
export const SAMPLED_KSMPLUS_FILES = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'rmap_items',
  'general_profit',
  'full_scans',
] as const;

/**
 * Samples kept before a run is thinned: a chart is some 600 pixels wide, and a few thousand
 * points keep its SVG around a hundred KiB.
 */
export const SAMPLE_CAP = 4000;

/** Collects the samples of one run (see the module comment). */
export class SampleRecorder {
  readonly #every: Samples['every'];
  readonly #cap: number;
  #points: CounterSample[] = [];
  #bucketMs = 0;
  /**
   * Polled samples ('poll') are joined by straight lines: the last unchanged one before a
   * change is kept, so a counter that held still is drawn level up to the poll before it
   * moved rather than as a ramp from its previous change.
   */
  #held: CounterSample | undefined;

  constructor(every: Samples['every'], cap = SAMPLE_CAP) {
    if (cap < 8) throw new RangeError(`A sample cap below 8 leaves no room to thin, got ${cap}`);
    this.#every = every;
    this.#cap = cap;
  }

  /**
   * Keeps `sample` when `always` (a record step, a wait's start or end) or when one of its
   * counters differs from the last sample kept; an unchanged one adds nothing to a chart
   * (but see #held).
   */
  add(sample: CounterSample, always = false): void {
    const last = this.#points.at(-1);
    if (!always && sample.label === undefined && last !== undefined && sameCounters(last, sample)) {
      if (this.#every === 'poll') this.#held = sample;
      return;
    }
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) this.#keep(held);
    this.#keep(sample);
  }

  #keep(sample: CounterSample): void {
    const points = this.#points;
    const last = points.at(-1);
    // Thinning: within a bucket, a new sample stands in for the previous one unless that one
    // is the bucket's first or a record's.
    const before = points.at(-2);
    if (
      this.#bucketMs > 0 &&
      last !== undefined &&
      before !== undefined &&
      last.label === undefined &&
      this.#bucket(last) === this.#bucket(sample) &&
      this.#bucket(before) === this.#bucket(sample)
    ) {
      points[points.length - 1] = sample;
      return;
    }
    points.push(sample);
    if (points.length > this.#cap) this.#thin();
  }

  /** What was kept so far, in time order. */
  result(): Samples {
    return { every: this.#every, bucket_ms: this.#bucketMs, points: [...this.#points] };
  }

  #bucket(s: CounterSample): number {
    return Math.floor(s.time_ms / this.#bucketMs);
  }

  /**
   * Widens the buckets until the samples fit in three quarters of the cap: each bucket keeps
   * its first and last sample and every record's. The first width makes about cap / 4
   * buckets of the span so far; each later one doubles it.
   */
  #thin(): void {
    const first = this.#points[0]!;
    const span = Math.max(this.#points.at(-1)!.time_ms - first.time_ms, Number.MIN_VALUE);
    if (this.#bucketMs === 0) this.#bucketMs = span / (this.#cap / 4);
    for (;;) {
      this.#points = this.#points.filter((p, i, all) => {
        if (p.label !== undefined) return true;
        const prev = all[i - 1];
        const next = all[i + 1];
        return (
          prev === undefined ||
          next === undefined ||
          this.#bucket(prev) !== this.#bucket(p) ||
          this.#bucket(next) !== this.#bucket(p)
        );
      });
      // Records alone can outnumber the cap: once one bucket spans the run, stop widening.
      if (this.#points.length <= (this.#cap * 3) / 4 || this.#bucketMs > span) return;
      this.#bucketMs *= 2;
    }
  }
}

/** Whether two samples hold the same counters (time, label and CPU aside). */
export function sameCounters(a: CounterSample, b: CounterSample): boolean {
  return (
    sameNumbers(a.ksm, b.ksm) && sameNumbers(a.ksmplus ?? {}, b.ksmplus ?? {}) && sameNumbers(a.merging, b.merging)
  );
}

function sameNumbers(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => a[k] === b[k]);
}
