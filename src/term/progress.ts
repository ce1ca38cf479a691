/**
 * Progress bars on stderr for long work (cli-progress draws only on a terminal). One place
 * that gives the terminal back as it was (cursor shown, line wrap on) when a bar stops, also
 * when the user presses Ctrl-C or the process is told to end mid-bar, and that lets the event
 * loop turn now and then during long synchronous work, so that such a signal is heard.
 */
import cliProgress from 'cli-progress';
import { formatDuration } from '../lib/duration.ts';
import type { RunProgress } from '../scenario/run.ts';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** Wall milliseconds of model work between two turns of the event loop. */
const YIELD_MS = 50;
/**
 * Wall milliseconds between two updates of a bar: cli-progress reckons the ETA from the last
 * ETA_UPDATES updates, timed to the millisecond, so they must be spread (the last few seconds).
 */
const UPDATE_MS = 200;
const ETA_UPDATES = 20;

export interface ProgressOptions {
  /**
   * Whether the work awaits the promises show() and tick() return, so that a signal is heard
   * mid-bar. Default true. Work that runs synchronously to its end cannot be interrupted
   * gracefully: its bar leaves the cursor and line wrap alone, so Ctrl-C (which then ends
   * the process at once) leaves the terminal as it was.
   */
  readonly interruptible?: boolean;
}

export class Progress {
  readonly #stream: NodeJS.WritableStream;
  readonly #interruptible: boolean;
  #bar: cliProgress.SingleBar | undefined;
  #phase = '';
  #lastYield = performance.now();
  #lastUpdate = 0;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.stop();
    this.#stream.write(`\nsamepage: stopped by ${signal}\n`);
    // Whoever else listens (the kernel backend's cleanup) ends the process; alone, die of
    // the signal as if nobody had listened.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };

  constructor(stream: NodeJS.WritableStream, opts: ProgressOptions = {}) {
    this.#stream = stream;
    this.#interruptible = opts.interruptible ?? true;
  }

  /**
   * Shows `value` of `total` for `phase` (a new phase starts a new bar), with `detail` after
   * the percentage. Returns a promise to await when it is time to let the event loop turn.
   */
  show(phase: string, value: number, total: number, detail = ''): Promise<void> | undefined {
    if (this.#phase !== phase || this.#bar === undefined) {
      this.stop();
      this.#bar = new cliProgress.SingleBar(
        {
          stream: this.#stream,
          format: `${phase} {bar} {percentage}% {detail}| ETA {eta_formatted}`,
          hideCursor: this.#interruptible,
          linewrap: !this.#interruptible,
          clearOnComplete: true,
          etaBuffer: ETA_UPDATES,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, value, { detail });
      this.#phase = phase;
      this.#lastUpdate = performance.now();
      if (this.#interruptible) for (const s of SIGNALS) process.on(s, this.#onSignal);
    } else if (performance.now() - this.#lastUpdate >= UPDATE_MS) {
      this.#lastUpdate = performance.now();
      this.#bar.setTotal(total);
      this.#bar.update(value, { detail });
    }
    return this.tick();
  }

  /** A promise to await when the event loop has not turned for a while, else undefined. */
  tick(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.#lastYield < YIELD_MS) return undefined;
    this.#lastYield = now;
    return new Promise((resolve) => setImmediate(resolve));
  }

  /** Removes the bar and gives the terminal back. */
  stop(): void {
    if (this.#bar === undefined) return;
    this.#bar.stop();
    this.#bar = undefined;
    this.#phase = '';
    for (const s of SIGNALS) process.off(s, this.#onSignal);
  }
}

/**
 * The progress of a scenario run: a bar while a wait runs, with how far it got in virtual
 * (model) or elapsed (kernel) time, and the wall time left.
 */
export function waitProgress(stream: NodeJS.WritableStream): {
  update: (event: RunProgress) => Promise<void> | undefined;
  stop: () => void;
} {
  const progress = new Progress(stream);
  const update = (event: RunProgress): Promise<void> | undefined => {
    if (event.kind === 'step') {
      progress.stop(); // a new step: the wait, if any, is over
      return progress.tick();
    }
    const elapsed = formatDuration(event.elapsedMs * 1e6);
    if (event.unit === 'ms') {
      return progress.show('wait', event.done, event.target, `${elapsed} of ${formatDuration(event.target * 1e6)} `);
    }
    const what = event.unit === 'batches' ? 'batches' : 'full scans';
    return progress.show('wait', event.done, event.target, `${event.done}/${event.target} ${what} in ${elapsed} `);
  };
  return { update, stop: () => progress.stop() };
}

/** `read` with a page progress bar on `stream` (its hooks: the total, then one call a page). */
export function withPageProgress<T>(
  stream: NodeJS.WritableStream,
  read: (bar: { readonly onStart: (total: number) => void; readonly onPage: () => void }) => T,
): T {
  const bar = pageProgress(stream);
  try {
    return read({ onStart: bar.start, onPage: bar.tick });
  } finally {
    bar.stop();
  }
}

/** A page progress bar on stderr, redrawn every 256 pages. */
export function pageProgress(stream: NodeJS.WritableStream): {
  start: (total: number) => void;
  tick: () => void;
  stop: () => void;
} {
  // The reading is synchronous: the bar leaves the terminal's cursor and line wrap alone.
  const bar = new Progress(stream, { interruptible: false });
  let total = 0;
  let done = 0;
  return {
    start: (pages) => {
      total = pages;
      bar.show('reading', 0, total, 'pages ');
    },
    tick: () => {
      if (++done % 256 === 0) bar.show('reading', done, total, 'pages ');
    },
    stop: () => bar.stop(),
  };
}

/** A snapshot's progress into the model: its checksum, its load, then full scans until settled. */
export function snapshotProgress(stream: NodeJS.WritableStream): {
  verify: (d: number, t: number) => Promise<void> | undefined;
  load: (d: number, t: number) => Promise<void> | undefined;
  scan: (n: number, max: number) => Promise<void> | undefined;
  stop: () => void;
} {
  const bar = new Progress(stream);
  const mib = 2 ** 20;
  return {
    verify: (d, t) => bar.show('checking the checksum', Math.floor(d / mib), Math.ceil(t / mib), 'MiB '),
    load: (d, t) => bar.show('loading pages', d, t),
    scan: (n, max) => bar.show('full scans (until settled)', n, max),
    stop: () => bar.stop(),
  };
}
