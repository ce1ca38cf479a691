/**
 * A scenario run for people: per record, the KSM counters that matter and a table of
 * processes, then every expect with ✓ or ✗. Sees only the plain records of scenario/.
 */
import pc from 'picocolors';
import type { CounterRecord, ExpectResult, ProcRecord, RunResult } from '../scenario/records.ts';
import type { ThesisComparison } from './thesis.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { formatMs } from '../lib/duration.ts';
import { fitText, wrapText } from '../lib/text_width.ts';
import { fitTable } from './fit_table.ts';

type Colors = ReturnType<typeof pc.createColors>;

export interface TableOptions {
  /** Colour the output; default: picocolors' own detection (off for NO_COLOR and non-TTYs). */
  readonly color?: boolean;
  /** The terminal's width: tables wrap or leave columns out to fit it (fit_table.ts); undefined: no limit. */
  readonly width?: number | undefined;
}

/** The /sys/kernel/mm/ksm files worth reading first, in the order people reason about them. */
export const KSM_COUNTERS = [
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'pages_scanned',
  'full_scans',
  'stable_node_chains',
  'stable_node_dups',
  'ksm_zero_pages',
  'general_profit',
] as const;

/**
 * Process columns: header, how to read it from a ProcRecord, and the rank at which it is
 * left out when the terminal is too narrow (fit_table.ts; the flags go first).
 */
const PROC_COLUMNS: ReadonlyArray<readonly [string, (p: ProcRecord) => string, number | undefined]> = [
  ['rmap_items', (p) => String(p.ksm_rmap_items), 3],
  ['merging_pages', (p) => String(p.ksm_merging_pages), undefined],
  ['zero_pages', (p) => String(p.ksm_zero_pages), 4],
  ['profit', (p) => formatBytes(p.ksm_process_profit, 1), 2],
  ['merge_any', (p) => yesNo(p.ksm_merge_any), 6],
  ['mergeable', (p) => yesNo(p.ksm_mergeable), 5],
  ['rss_pages', (p) => String(p.rss_pages), 1],
];

/** Files counted in pages, and in bytes: the KSM tables show them in binary units too. */
const PAGE_FILES: ReadonlySet<string> = new Set([
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'ksm_zero_pages',
]);
const BYTE_FILES: ReadonlySet<string> = new Set(['general_profit']);

/** A KSM file's value as memory ("39.8 MiB"), or '' for what is not memory (full_scans). */
export function memoryOf(name: string, value: number | string | undefined): string {
  if (typeof value !== 'number') return '';
  if (PAGE_FILES.has(name)) return formatBytes(value * PAGE_SIZE, 1);
  return BYTE_FILES.has(name) ? formatBytes(value, 1) : '';
}

/** The whole run as text, ending in a newline. */
export function renderRunResult(result: RunResult, options: TableOptions = {}): string {
  const c = pc.createColors(options.color ?? pc.isColorSupported);
  const parts = [c.bold(`${result.scenario} on ${result.backend}`)];
  for (const record of result.records) parts.push(renderRecord(record, c, options.width));
  if (result.expects.length > 0) parts.push(renderExpects(result.expects, c, options.width));
  parts.push(verdict(result, c));
  return `${parts.join('\n\n')}\n`;
}

/** A /sys/kernel/mm/ksm-like directory as a table: file, value, and the value as memory. */
function filesTable(
  c: Colors,
  dir: string,
  entries: ReadonlyArray<readonly [string, number | string | undefined]>,
  width: number | undefined,
): string {
  return fitTable(
    [{ head: dir }, { head: 'value', align: 'right', wrap: true }, { head: 'memory', align: 'right', drop: 1 }],
    entries.map(([name, value]) => [name, show(value), memoryOf(name, value)]),
    { width, compact: true, headStyle: c.bold },
  );
}

/** One record: a heading, the KSM counters, the processes and KSM+ when present. */
export function renderRecord(record: CounterRecord, c: Colors, width?: number): string {
  const parts = [c.cyan(`record "${record.label}" at ${formatMs(record.time_ms)}`)];
  parts.push(
    filesTable(
      c,
      '/sys/kernel/mm/ksm',
      KSM_COUNTERS.map((name) => [name, record.ksm[name]] as const),
      width,
    ),
  );

  const procNames = Object.keys(record.procs);
  if (procNames.length === 0) parts.push(c.dim('no processes'));
  else {
    const rows: string[][] = [];
    for (const name of procNames) {
      const p = record.procs[name];
      if (p !== undefined) rows.push([name, ...PROC_COLUMNS.map(([, read]) => read(p))]);
    }
    parts.push(
      fitTable(
        [
          { head: 'proc', wrap: true },
          ...PROC_COLUMNS.map(([head, , drop]) => ({
            head,
            align: 'right' as const,
            ...(drop === undefined ? {} : { drop }),
          })),
        ],
        rows,
        { width, compact: true, headStyle: c.bold },
      ),
    );
  }

  if (record.ksmplus !== undefined && !ksmPlusIdle(record.ksmplus)) {
    parts.push(filesTable(c, '/sys/kernel/mm/ksm+', Object.entries(record.ksmplus), width));
  }
  if (record.plus !== undefined) {
    parts.push(filesTable(c, '/run/samepage/ksm+ (the daemon)', Object.entries(record.plus), width));
  }
  return parts.join('\n');
}

/**
 * Whether KSM+ was never put to work: no program named, not running, nothing held. The
 * model always has /sys/kernel/mm/ksm+, so a plain KSM run would otherwise show its
 * defaults after every record.
 */
export function ksmPlusIdle(plus: Readonly<Record<string, number | string>>): boolean {
  return (plus.processes_to_scan ?? '') === '' && (plus.run ?? 0) === 0 && (plus.rmap_items ?? 0) === 0;
}

/** One line per expect: mark, step, path, expected and actual (wrapped to `width`, indented). */
export function renderExpects(expects: readonly ExpectResult[], c: Colors, width?: number): string {
  return expects
    .map((e) => {
      const actual = e.actual === null ? 'missing' : String(e.actual);
      const text = `step ${e.step} ${e.path}: expected ${String(e.expected)}, actual ${actual}`;
      const lines = width === undefined ? [text] : wrapText(text, width - 2);
      const body = lines.join('\n  ');
      return `${e.ok ? c.green('✓') : c.red('✗')} ${e.ok ? body : c.red(body)}`;
    })
    .join('\n');
}

function verdict(result: RunResult, c: Colors): string {
  return result.ok ? c.green(runVerdict(result)) : c.red(runVerdict(result));
}

/**
 * Why a run failed, in one line (undefined when it did not): where it stopped and why, or
 * the expects that failed with what they expected and found.
 */
export function runFailure(result: RunResult): string | undefined {
  if (result.ok) return undefined;
  if (result.error !== undefined) return `it stopped at ${result.error}`;
  const failed = result.expects.filter((e) => !e.ok);
  if (failed.length === 0) return 'it did not succeed, though no expect failed';
  const shown = failed
    .slice(0, 3)
    .map(
      (e) =>
        `step ${e.step} ${e.path}: expected ${String(e.expected)}, actual ${e.actual === null ? 'missing' : String(e.actual)}`,
    );
  const more = failed.length > 3 ? `; and ${failed.length - 3} more` : '';
  return `${plural(failed.length, 'expect')} failed: ${shown.join('; ')}${more}`;
}

/**
 * A run's verdict in words: how many expects held, or what failed. A run that stopped early
 * lists the step that stopped it last among its checks (scenario/run.ts): that one is the
 * stop, said with its reason, not a failed expect.
 */
export function runVerdict(result: RunResult): string {
  const checks = result.error === undefined ? result.expects : result.expects.slice(0, -1);
  const failed = checks.filter((e) => !e.ok).length;
  const total = checks.length;
  if (result.ok)
    return total === 0 ? 'ok: the run finished (it has no expects to check)' : `ok: ${plural(total, 'expect')} held`;
  const expects = failed > 0 ? `${failed} of ${plural(total, 'expect')} failed` : undefined;
  if (result.error === undefined) return `FAILED: ${expects ?? 'no expect failed, yet the run did not succeed'}`;
  return `FAILED: the run stopped at ${result.error}${expects === undefined ? '' : ` (and ${expects} before)`}`;
}

/** The thesis comparison after a command's own table (a blank line first), or nothing when there is none. */
export function thesisText(tc: ThesisComparison | undefined, width: number | undefined): string {
  return tc === undefined ? '' : `\n${renderThesisComparison(tc, { width })}`;
}

/** The thesis's figures beside samepage's, with the notes needed to read them. */
export function renderThesisComparison(tc: ThesisComparison, options: TableOptions = {}): string {
  const c = pc.createColors(options.color ?? pc.isColorSupported);
  const t = fitTable(
    [
      { head: 'figure', wrap: true },
      { head: 'samepage', align: 'right', wrap: true },
      { head: 'thesis', align: 'right', wrap: true },
      { head: 'the thesis says', wrap: true },
    ],
    tc.rows.map((r) => [r.what, r.samepage, r.thesis, r.source]),
    { width: options.width, compact: true, headStyle: c.bold },
  );
  const notes = tc.notes.map(
    (n) => `${c.dim('note:')} ${options.width === undefined ? n : wrapText(n, options.width - 6).join('\n      ')}\n`,
  );
  const title = fitText(tc.title, options.width);
  return `${c.bold(title)}\n${t}\n${notes.join('')}`;
}

function show(value: number | string | undefined): string {
  return value === undefined ? '-' : String(value);
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** What the demo's last record means, in words, wrapped to `width` when one is given. */
export function renderDemoSummary(result: RunResult, width?: number): string {
  const text = demoSummary(result);
  return fitText(text, width);
}

function demoSummary(result: RunResult): string {
  const last = result.records.at(-1);
  if (last === undefined) return 'The scenario recorded no counters.';
  const n = (name: string): number => Number(last.ksm[name] ?? 0);
  const shared = n('pages_shared');
  const sharing = n('pages_sharing');
  const profit = n('general_profit');
  return (
    `At "${last.label}" (${formatMs(last.time_ms)} of virtual time) ksmd keeps ${shared} shared page` +
    `${shared === 1 ? '' : 's'} standing in for ${sharing} more mapping${sharing === 1 ? '' : 's'} ` +
    `of identical content (pages_shared, pages_sharing): ${formatBytes(sharing * PAGE_SIZE, 1)} of memory saved, ` +
    `${formatBytes(profit, 1)} after KSM's own bookkeeping (general_profit).`
  );
}
