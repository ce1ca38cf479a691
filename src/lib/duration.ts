/**
 * Durations for people: nanoseconds in the largest unit that keeps the figure readable,
 * with the next unit down where it matters (`1 h 05 min`, `104 days 5 h`). Messages,
 * progress bars, tables and chart axes use it; `--json` keeps exact numbers.
 */

const NS_PER_US = 1e3;
const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;
const NS_PER_MIN = 60 * NS_PER_S;
const NS_PER_H = 60 * NS_PER_MIN;
const NS_PER_DAY = 24 * NS_PER_H;

/** A figure with one decimal below 10, none from 10 up (`2.5 ms`, `25 ms`). */
function figure(value: number, unit: string): string {
  return `${value < 10 ? Number(value.toFixed(1)) : Math.round(value)} ${unit}`;
}

/** `ns` nanoseconds as `350 ns`, `2.5 ms`, `12 s`, `3 min 07 s`, `5 h 02 min`, `104 days 5 h`. */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 0) return `-${formatDuration(-ns)}`;
  if (ns < NS_PER_US) return `${Math.round(ns)} ns`;
  if (ns < NS_PER_MS) return figure(ns / NS_PER_US, 'µs');
  if (ns < NS_PER_S) return figure(ns / NS_PER_MS, 'ms');
  if (ns < NS_PER_MIN) return figure(ns / NS_PER_S, 's');
  const two = (n: number): string => String(n).padStart(2, '0');
  if (ns < NS_PER_H) {
    const s = Math.floor(ns / NS_PER_S);
    return `${Math.floor(s / 60)} min ${two(s % 60)} s`;
  }
  if (ns < NS_PER_DAY) {
    const min = Math.floor(ns / NS_PER_MIN);
    return `${Math.floor(min / 60)} h ${two(min % 60)} min`;
  }
  const h = Math.floor(ns / NS_PER_H);
  const days = Math.floor(h / 24);
  return `${days} day${days === 1 ? '' : 's'} ${h % 24} h`;
}

/**
 * A moment of a run (milliseconds since it started) for people: to the hundredth of a
 * millisecond below 10 ms, the tenth below 1 s, the hundredth of a second below a minute
 * (records a few ms apart stay apart), then as formatDuration (`3 min 34 s`).
 */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || ms >= 60_000) return formatDuration(ms * NS_PER_MS);
  if (ms < 10) return `${Number(ms.toFixed(2))} ms`;
  if (ms < 1000) return `${Number(ms.toFixed(1))} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A unit of time for an axis or a column, and how many milliseconds it holds. */
export interface TimeUnit {
  readonly unit: 'ms' | 's' | 'min' | 'h' | 'days';
  readonly ms: number;
}

/**
 * The unit in which times up to `maxMs` read best on an axis: ms below a second, seconds
 * below 3 minutes, minutes below 3 hours, hours below 3 days, then days (an axis to
 * 200,000 ms reads as 0 to 3.3 min).
 */
export function timeUnit(maxMs: number): TimeUnit {
  const m = Math.abs(maxMs);
  if (m < 1000) return { unit: 'ms', ms: 1 };
  if (m < 180_000) return { unit: 's', ms: 1000 };
  if (m < 3 * 3_600_000) return { unit: 'min', ms: 60_000 };
  if (m < 3 * 86_400_000) return { unit: 'h', ms: 3_600_000 };
  return { unit: 'days', ms: 86_400_000 };
}
