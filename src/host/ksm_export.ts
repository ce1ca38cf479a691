/**
 * `samepage kernel export`: an HTTP endpoint for Prometheus. Each GET of /metrics reads the
 * machine afresh (sysfs, ksm_stat, the attribution from page tables, ksmd's CPU time) and
 * answers in the format the scraper accepts (report/prometheus.ts renders it). Read-only:
 * nothing here writes to sysfs or touches a process.
 *
 * A server reads with one ExportReader for its whole life, which keeps the attribution
 * reader's buffers and what /proc/PID/smaps said (read again only when a process's maps or
 * KSM counters change: host/mergeable_vmas.ts), and it scrapes a few times before it
 * listens, so that Prometheus's first scrape runs optimised code, not V8's first
 * compilation of it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AttributionGroup, groupAttribution } from '../attribution/group.ts';
import type { AttributionTotals } from '../attribution/attribute.ts';
import { LiveAttributionReader, type LiveReaderOptions, type LiveReadStats } from './ksm_attribution.ts';
import { readKsmStatus } from './ksm_status.ts';
import { KSM_DIR } from './ksm_sysfs.ts';
import { hostPort, listenOn } from './unusable.ts';

/** What one scrape read: report/prometheus.ts's MetricsInput, field for field. */
export interface ExportReading {
  readonly ksm: Readonly<Record<string, number | string>>;
  readonly ksmdCpuSeconds?: number;
  readonly attribution?: {
    readonly totals: AttributionTotals;
    readonly processes: readonly AttributionGroup[];
    readonly cgroups: readonly AttributionGroup[];
  };
  readonly attributionError?: string;
  /** What reading the page tables cost (for the benchmark; not exported). */
  readonly readStats?: LiveReadStats;
  readonly scrapeSeconds: number;
  readonly exporterCpuSeconds: number;
}

export interface ExportOptions {
  /** Per-process and per-cgroup rows at most (the rest is one "other" series each). */
  readonly top: number;
  readonly onWarning?: (message: string) => void;
  /** The attribution reader, kept between scrapes by ExportReader; default a fresh one. */
  readonly reader?: LiveAttributionReader;
}

/** Reads the machine for one scrape. */
export function readExport(opts: ExportOptions): ExportReading {
  const t0 = performance.now();
  const s = readKsmStatus(KSM_DIR, '/proc', {
    by: 'process',
    top: opts.top,
    ...(opts.onWarning === undefined ? {} : { onWarning: opts.onWarning }),
    ...(opts.reader === undefined ? {} : { reader: opts.reader }),
  });
  const a = s.attribution;
  const cpu = a?.attribution.totals.ksmd_cpu_seconds;
  const scrapeSeconds = (performance.now() - t0) / 1000;
  const usage = process.cpuUsage();
  return {
    ksm: s.ksm,
    ...(cpu === undefined ? {} : { ksmdCpuSeconds: cpu }),
    ...(a === undefined
      ? {}
      : {
          attribution: {
            totals: a.attribution.totals,
            processes: a.groups,
            cgroups: groupAttribution(a.attribution, 'cgroup', { top: opts.top }),
          },
          readStats: a.stats,
        }),
    ...(s.attributionError === undefined ? {} : { attributionError: s.attributionError }),
    scrapeSeconds,
    exporterCpuSeconds: (usage.user + usage.system) / 1e6,
  };
}

/** The scrapes of one exporter: readExport with one attribution reader kept throughout. */
export class ExportReader {
  readonly #opts: ExportOptions;

  constructor(opts: Omit<ExportOptions, 'reader'> & { readonly reader?: LiveReaderOptions }) {
    const { reader, ...rest } = opts;
    this.#opts = { ...rest, reader: new LiveAttributionReader(reader) };
  }

  read(): ExportReading {
    return readExport(this.#opts);
  }
}

/** A host and port to listen on: `127.0.0.1:9847`, `[::1]:9847`, `0.0.0.0:9847`. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses HOST:PORT (an IPv6 host in brackets); undefined when it is not one. */
export function parseListen(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The body and content type of one scrape, given the request's Accept header. */
export type ScrapeHandler = (accept: string | undefined) => { body: string; contentType: string };

/**
 * Scrapes run (and dropped) before a server listens: V8 compiles the hot loops of a scrape
 * in tiers over its first few runs (the first scrape served was 111-126 ms, the later ones
 * 66-99 ms, when none ran before; docs/performance.md).
 */
export const WARM_UP_SCRAPES = 3;

/**
 * Serves `scrape` at /metrics (GET and HEAD), a short page at /, 404 elsewhere. A scrape
 * that throws answers 500 with the message, and the server carries on. `warmUp` scrapes
 * are run (and dropped) before the server listens, so that the first one served is as
 * fast as the rest; one that fails is reported to `onError`, and the server starts all
 * the same.
 */
export async function startMetricsServer(
  listen: ListenAddress,
  scrape: ScrapeHandler,
  onError: (err: unknown) => void = () => undefined,
  warmUp = WARM_UP_SCRAPES,
): Promise<MetricsServer> {
  for (let i = 0; i < warmUp; i++) {
    try {
      scrape(undefined);
    } catch (err) {
      onError(err);
      break;
    }
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      let out: { body: string; contentType: string };
      try {
        out = scrape(req.headers.accept);
      } catch (err) {
        onError(err);
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end(`Reading KSM failed: ${err instanceof Error ? err.message : String(err)}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': out.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : out.body);
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<!doctype html><title>samepage exporter</title><h1>samepage kernel export</h1><p><a href="/metrics">/metrics</a>: KSM and who saves what, for Prometheus.</p>\n',
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
  });
  await listenOn(server, listen.port, listen.host);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${hostPort(listen.host, port)}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
