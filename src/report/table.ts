/**
 * A scenario run for people: per record, the KSM counters that matter and a table of
 * processes, then every expect with ✓ or ✗. Sees only the plain records of scenario/.
 */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { CounterRecord, ExpectResult, ProcRecord, RunResult } from '../scenario/records.ts';
import type { ThesisComparison } from './thesis.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';

type Colors = ReturnType<typeof pc.createColors>;

export interface TableOptions {
  /** Colour the output; default: picocolors' own detection (off for NO_COLOR and non-TTYs). */
  readonly color?: boolean;
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

/** Process columns: header and how to read it from a ProcRecord. */
const PROC_COLUMNS: ReadonlyArray<readonly [string, (p: ProcRecord) => string]> = [
  ['rmap_items', (p) => String(p.ksm_rmap_items)],
  ['merging_pages', (p) => String(p.ksm_merging_pages)],
  ['zero_pages', (p) => String(p.ksm_zero_pages)],
  ['profit', (p) => String(p.ksm_process_profit)],
  ['merge_any', (p) => yesNo(p.ksm_merge_any)],
  ['mergeable', (p) => yesNo(p.ksm_mergeable)],
  ['rss_pages', (p) => String(p.rss_pages)],
];

/** The whole run as text, ending in a newline. */
export function renderRunResult(result: RunResult, options: TableOptions = {}): string {
  const c = pc.createColors(options.color ?? pc.isColorSupported);
  const parts = [c.bold(`${result.scenario} on ${result.backend}`)];
  for (const record of result.records) parts.push(renderRecord(record, c));
  if (result.expects.length > 0) parts.push(renderExpects(result.expects, c));
  parts.push(verdict(result, c));
  return `${parts.join('\n\n')}\n`;
}

/** One record: a heading, the KSM counters, the processes and KSM+ when present. */
export function renderRecord(record: CounterRecord, c: Colors): string {
  const parts = [c.cyan(`record "${record.label}" at ${formatTime(record.time_ms)}`)];

  const ksm = newTable(c, ['/sys/kernel/mm/ksm', 'value'], ['left', 'right']);
  for (const name of KSM_COUNTERS) ksm.push([name, show(record.ksm[name])]);
  parts.push(ksm.toString());

  const procNames = Object.keys(record.procs);
  if (procNames.length === 0) parts.push(c.dim('no processes'));
  else {
    const procs = newTable(
      c,
      ['proc', ...PROC_COLUMNS.map(([header]) => header)],
      ['left', ...PROC_COLUMNS.map(() => 'right' as const)],
    );
    for (const name of procNames) {
      const p = record.procs[name];
      if (p !== undefined) procs.push([name, ...PROC_COLUMNS.map(([, read]) => read(p))]);
    }
    parts.push(procs.toString());
  }

  if (record.ksmplus !== undefined && !ksmPlusIdle(record.ksmplus)) {
    const plus = newTable(c, ['/sys/kernel/mm/ksm+', 'value'], ['left', 'right']);
    for (const [name, value] of Object.entries(record.ksmplus)) plus.push([name, show(value)]);
    parts.push(plus.toString());
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

/**
 * A record's time for people: ms with 2 significant decimals below 10 ms, 1 below 1 s,
 * then seconds (2 decimals below 100 s, whole above). `--json` keeps the exact value.
 */
export function formatTime(ms: number): string {
  if (ms < 10) return `${Number(ms.toFixed(2))} ms`;
  if (ms < 1000) return `${Number(ms.toFixed(1))} ms`;
  const s = ms / 1000;
  return s < 100 ? `${s.toFixed(2)} s` : `${Math.round(s)} s`;
}

/** One line per expect: mark, step, path, expected and actual. */
export function renderExpects(expects: readonly ExpectResult[], c: Colors): string {
  return expects
    .map((e) => {
      const mark = e.ok ? c.green('✓') : c.red('✗');
      const actual = e.actual === null ? 'missing' : String(e.actual);
      const line = `${mark} step ${e.step} ${e.path}: expected ${String(e.expected)}, actual ${actual}`;
      return e.ok ? line : c.red(line);
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
  if (result.ok) return `ok: ${plural(total, 'expect')} held`;
  const expects = failed > 0 ? `${failed} of ${plural(total, 'expect')} failed` : undefined;
  if (result.error === undefined) return `FAILED: ${expects ?? 'no expect failed, yet the run did not succeed'}`;
  return `FAILED: the run stopped at ${result.error}${expects === undefined ? '' : ` (and ${expects} before)`}`;
}

/** The thesis's figures beside samepage's, with the notes needed to read them. */
export function renderThesisComparison(tc: ThesisComparison, options: TableOptions = {}): string {
  const c = pc.createColors(options.color ?? pc.isColorSupported);
  const t = newTable(c, ['figure', 'samepage', 'thesis', 'the thesis says'], ['left', 'right', 'right', 'left']);
  for (const r of tc.rows) t.push([r.what, r.samepage, r.thesis, r.source]);
  return `${c.bold(tc.title)}\n${t.toString()}\n${tc.notes.map((n) => `${c.dim('note:')} ${n}\n`).join('')}`;
}

function newTable(c: Colors, head: string[], colAligns: Array<'left' | 'right'>): Table.Table {
  // cli-table3 colours heads red and borders grey on its own; colour is picocolors' job here
  // so that NO_COLOR and the `color` option hold everywhere.
  return new Table({ head: head.map((h) => c.bold(h)), colAligns, style: { head: [], border: [], compact: true } });
}

function show(value: number | string | undefined): string {
  return value === undefined ? '-' : String(value);
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

/** What the demo's last record means, in words. */
export function renderDemoSummary(result: RunResult): string {
  const last = result.records.at(-1);
  if (last === undefined) return 'The scenario recorded no counters.';
  const n = (name: string): number => Number(last.ksm[name] ?? 0);
  const shared = n('pages_shared');
  const sharing = n('pages_sharing');
  const profit = n('general_profit');
  return (
    `At "${last.label}" (${formatTime(last.time_ms)} of virtual time) ksmd keeps ${shared} shared page` +
    `${shared === 1 ? '' : 's'} standing in for ${sharing} more mapping${sharing === 1 ? '' : 's'} ` +
    `of identical content (pages_shared, pages_sharing): ${formatBytes(sharing * PAGE_SIZE, 1)} of memory saved, ` +
    `${formatBytes(profit, 1)} after KSM's own bookkeeping (general_profit).`
  );
}
