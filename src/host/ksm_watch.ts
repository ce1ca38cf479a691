/**
 * `samepage kernel watch`: the live KSM read every interval, a short history of the
 * counters people follow, and a local web server that pushes each reading to its page by
 * Server-Sent Events. Read-only: nothing here writes to sysfs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { GroupBy } from '../attribution/group.ts';
import { type KsmStatus, readKsmStatus } from './ksm_status.ts';
import { KSM_DIR } from './ksm_sysfs.ts';
import { listenOn } from './unusable.ts';

/** One point of the history charts. */
export interface KsmHistoryPoint {
  readonly time: string;
  readonly pages_sharing: number;
  readonly pages_shared: number;
  readonly general_profit: number;
  /** (pages_sharing + ksm_zero_pages) × PAGE_SIZE: what KSM saves before its cost. */
  readonly saved_bytes: number;
  /** Σ ksm_process_profit over the processes: Linux's per-process figures summed. */
  readonly naive_profit: number;
  /** Saved bytes of each attribution row shown (group key to bytes), when attributed. */
  readonly groups?: Readonly<Record<string, number>>;
}

/** What each event carries: the reading and the history up to it. */
export interface KsmWatchSample {
  readonly seq: number;
  readonly status: KsmStatus;
  readonly history: readonly KsmHistoryPoint[];
}

export interface KsmSamplerOptions {
  readonly intervalMs: number;
  /** Points kept for the chart; default 120. */
  readonly historyLength?: number;
  /** The reader; tests may pass their own. Default: this machine, attributed `by`. */
  readonly read?: () => KsmStatus;
  /** Who saves what, grouped so (default reader only). */
  readonly by?: GroupBy;
  /** At most this many attribution rows, the rest as "other" (default reader only). */
  readonly top?: number;
  /** A reading failed (sysfs vanished...): told, and the sampler carries on. */
  readonly onError?: (err: unknown) => void;
}

function num(v: number | string | undefined): number {
  return typeof v === 'number' ? v : 0;
}

/** Reads every interval and tells its listeners; the first reading is taken at once. */
export class KsmSampler {
  readonly #opts: KsmSamplerOptions;
  readonly #history: KsmHistoryPoint[] = [];
  readonly #listeners = new Set<(s: KsmWatchSample) => void>();
  #timer: NodeJS.Timeout | undefined;
  #latest: KsmWatchSample | undefined;
  #seq = 0;

  constructor(opts: KsmSamplerOptions) {
    this.#opts = opts;
  }

  get latest(): KsmWatchSample {
    return this.#latest ?? this.sample();
  }

  /** Takes one reading now, records it and tells every listener. */
  sample(): KsmWatchSample {
    const o = this.#opts;
    const status = (
      o.read ??
      (() =>
        readKsmStatus(KSM_DIR, '/proc', {
          ...(o.by === undefined ? {} : { by: o.by }),
          ...(o.top === undefined ? {} : { top: o.top }),
        }))
    )();
    const groups = status.attribution?.groups;
    this.#history.push({
      time: status.time,
      pages_sharing: num(status.ksm.pages_sharing),
      pages_shared: num(status.ksm.pages_shared),
      general_profit: num(status.ksm.general_profit),
      saved_bytes: (num(status.ksm.pages_sharing) + num(status.ksm.ksm_zero_pages)) * PAGE_SIZE,
      naive_profit: status.processes.reduce((t, p) => t + p.ksm_process_profit, 0),
      ...(groups === undefined ? {} : { groups: Object.fromEntries(groups.map((g) => [g.key, g.saved_bytes])) }),
    });
    const keep = this.#opts.historyLength ?? 120;
    if (this.#history.length > keep) this.#history.splice(0, this.#history.length - keep);
    const s: KsmWatchSample = { seq: ++this.#seq, status, history: [...this.#history] };
    this.#latest = s;
    for (const l of this.#listeners) l(s);
    return s;
  }

  onSample(listener: (s: KsmWatchSample) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    if (this.#latest === undefined) this.#safeSample();
    this.#timer = setInterval(() => this.#safeSample(), this.#opts.intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #safeSample(): void {
    try {
      this.sample();
    } catch (err) {
      this.#opts.onError?.(err);
    }
  }
}

export interface WatchServer {
  readonly port: number;
  readonly url: string;
  /** Ends every event stream and closes the server. */
  close(): Promise<void>;
}

/** The path of the event stream. */
export const EVENTS_PATH = '/events';

export interface WatchServerOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /**
   * Events per stream before the server ends it; the page's EventSource then reconnects
   * after `retryMs` and gets the latest reading at once. Bounded streams keep the page
   * working where a never-ending response is a problem: headless Chromium's virtual time
   * does not advance while a fetch is pending, and proxies drop idle long responses.
   * Default 5.
   */
  readonly eventsPerStream?: number;
  /** The `retry:` the page's EventSource waits before reconnecting; default 1000 ms. */
  readonly retryMs?: number;
}

/**
 * Serves `page(sample)` at / and the sampler's readings as `text/event-stream` at /events
 * (the latest reading at once, then each new one), on 127.0.0.1 only.
 */
export async function startWatchServer(
  sampler: KsmSampler,
  page: (s: KsmWatchSample) => string,
  options: WatchServerOptions,
): Promise<WatchServer> {
  const perStream = options.eventsPerStream ?? 5;
  const retryMs = options.retryMs ?? 1000;
  const port = options.port;
  const streams = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      const body = page(sampler.latest);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === EVENTS_PATH) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(`retry: ${retryMs}\n\n`);
      let sent = 0;
      const send = (s: KsmWatchSample): void => {
        res.write(`id: ${s.seq}\nevent: ksm\ndata: ${JSON.stringify(s)}\n\n`);
        if (++sent >= perStream) {
          done();
          res.end();
        }
      };
      const off = sampler.onSample(send);
      streams.add(res);
      const done = (): void => {
        off();
        streams.delete(res);
      };
      send(sampler.latest);
      req.on('close', done);
      res.on('close', done);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
  });
  await listenOn(server, port, '127.0.0.1');
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
