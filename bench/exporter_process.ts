/**
 * `samepage kernel export --listen ADDRESS --top N` as bench/attribution.ts runs it in a
 * process of its own: one ExportReader kept for the server's life (smaps read again only
 * after a change), rendered by report/prometheus.ts, served by startMetricsServer (which
 * scrapes once before it listens). It is the command's own composition of those three,
 * which bench/ may not import from src/cli/.
 *   node dist/bench/exporter_process.js --listen 127.0.0.1:0 [--top 20] [--always-smaps] [--verbose]
 * Prints `serving URL` on stderr once it listens; stops on SIGTERM or SIGINT.
 */
import { ExportReader, parseListen, startMetricsServer } from '../src/host/ksm_export.ts';
import { CONTENT_TYPES, negotiateFormat, renderMetrics } from '../src/report/prometheus.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const listen = parseListen(arg('--listen') ?? '127.0.0.1:0');
if (listen === undefined) throw new Error('--listen HOST:PORT');
/** Each reading's cost on stderr (bench/attribution.ts prints it). */
const VERBOSE = process.argv.includes('--verbose');
const warn = (m: string): void => void process.stderr.write(`exporter: ${m}\n`);
const exporter = new ExportReader({
  top: Number(arg('--top') ?? 20),
  onWarning: warn,
  reader: { alwaysSmaps: process.argv.includes('--always-smaps') },
});
const server = await startMetricsServer(
  listen,
  (accept) => {
    const format = negotiateFormat(accept);
    const reading = exporter.read();
    const st = reading.readStats;
    if (VERBOSE && st !== undefined)
      process.stderr.write(
        `scrape: ${(reading.scrapeSeconds * 1000).toFixed(1)} ms, smaps read for ${st.smapsRead} of ${st.scanned}; ` +
          `${Object.entries(st.phaseMs)
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')}\n`,
      );
    return { body: renderMetrics(reading, format), contentType: CONTENT_TYPES[format] };
  },
  (err) => warn(`a scrape failed: ${err instanceof Error ? err.message : String(err)}`),
);
process.stderr.write(`serving ${server.url}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void server.close());
