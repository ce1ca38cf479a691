/**
 * The live KSM of a machine for people: terminal tables for `samepage kernel status` and
 * `watch`, who saves what among its processes, and the lines of `kernel enable`/`exec`
 * (the page of `watch --http` is ksm_live_page.ts). Plain data in (host/'s reading, by
 * type only), text out.
 */
import pc from 'picocolors';
import { describeErrno } from '../lib/errno.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes } from '../lib/sizes.ts';
import { displayWidth, oneLine } from '../lib/text_width.ts';
import { fitTable } from './fit_table.ts';
import { memoryOf } from './table.ts';
import type { AttributionGroup } from '../attribution/group.ts';
import type { MergeReport } from '../host/merge_any.ts';
import type { KsmProcessStat } from '../host/ksm_stat.ts';
import type { KsmStatus, KsmStatusAttribution } from '../host/ksm_status.ts';

/** The counters shown first, in the order people reason about them; the rest follow by name. */
export const FIRST_KSM_KEYS = [
  'run',
  'pages_shared',
  'pages_sharing',
  'pages_unshared',
  'pages_volatile',
  'general_profit',
  'ksm_zero_pages',
  'full_scans',
  'pages_scanned',
] as const;

/** The sysfs file names in display order. */
export function orderedKsmKeys(ksm: Readonly<Record<string, unknown>>): string[] {
  const first = FIRST_KSM_KEYS.filter((k) => k in ksm);
  const rest = Object.keys(ksm)
    .filter((k) => !(FIRST_KSM_KEYS as readonly string[]).includes(k))
    .sort();
  return [...first, ...rest];
}

function cell(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** What `run` means, for the terminal. */
function runWord(v: unknown): string {
  return v === 0 ? '0 (stopped)' : v === 1 ? '1 (running)' : v === 2 ? '2 (unmerged, stopped)' : String(v);
}

/** A sysfs value for people: `run` in words, pages and bytes also as memory ("10200 (39.8 MiB)"). */
function sysfsCell(name: string, v: number | string | undefined): string {
  if (name === 'run') return runWord(v);
  const memory = memoryOf(name, v);
  return memory === '' || v === 0 ? cell(v) : `${cell(v)} (${memory})`;
}

export interface LiveTextOptions {
  readonly color?: boolean;
  /** At most this many process rows; default all. */
  readonly maxProcesses?: number;
  /** The terminal's width (fit_table.ts); undefined: no limit. */
  readonly width?: number | undefined;
}

/**
 * Process columns: head, how to read it, whether it is a number, and the rank at which it
 * is left out on a narrow terminal (the flags first; pid, comm and merging_pages stay).
 */
const PROCESS_COLUMNS: ReadonlyArray<
  readonly [string, (p: KsmProcessStat) => string, 'left' | 'right', number | undefined]
> = [
  ['pid', (p) => String(p.pid), 'right', undefined],
  ['comm', (p) => p.comm, 'left', undefined],
  ['rmap_items', (p) => String(p.ksm_rmap_items), 'right', 3],
  ['zero_pages', (p) => String(p.ksm_zero_pages), 'right', 4],
  ['merging_pages', (p) => String(p.ksm_merging_pages), 'right', undefined],
  ['process_profit', (p) => formatBytes(p.ksm_process_profit, 1), 'right', 2],
  ['merge_any', (p) => cell(p.ksm_merge_any), 'left', 6],
  ['mergeable', (p) => cell(p.ksm_mergeable), 'left', 5],
];

/**
 * Two tables: /sys/kernel/mm/ksm (two file/value pairs per row, or one where the terminal
 * is too narrow for two) and the processes, fitted to `opts.width`.
 */
export function renderLiveStatusText(s: KsmStatus, opts: LiveTextOptions = {}): string {
  const c = pc.createColors(opts.color ?? pc.isColorSupported);
  const fit = { width: opts.width, compact: true, headStyle: c.bold };
  const entries = orderedKsmKeys(s.ksm).map((k) => [k, sysfsCell(k, s.ksm[k])]);
  const half = Math.ceil(entries.length / 2);
  const pairs = entries.slice(0, half).map((left, i) => [...left, ...(entries[i + half] ?? ['', ''])]);
  const pair = [{ head: 'file' }, { head: 'value', wrap: true }];
  let sys = fitTable([...pair, ...pair], pairs, { ...fit, width: undefined });
  const tooWide = opts.width !== undefined && Math.max(...sys.split('\n').map(displayWidth)) > opts.width;
  if (tooWide) sys = fitTable(pair, entries, fit);
  let out = `${c.bold('/sys/kernel/mm/ksm')} at ${s.time}\n${sys}\n`;
  if (s.attribution !== undefined) return out + renderAttributionText(s.attribution, opts);
  if (s.attributionError !== undefined) out += `Who saves what is not shown: ${s.attributionError}.\n`;
  if (s.processes.length === 0) {
    out +=
      s.processesLimit === undefined
        ? 'No process uses KSM (no /proc/PID/ksm_stat shows any activity).\n'
        : `No process of yours uses KSM (${s.processesLimit}: run as root to see every process).\n`;
    return out;
  }
  if (s.processesLimit !== undefined) out += `Your processes only (${s.processesLimit}):\n`;
  const shown = opts.maxProcesses === undefined ? s.processes : s.processes.slice(0, opts.maxProcesses);
  const procs = fitTable(
    PROCESS_COLUMNS.map(([head, , align, drop]) => ({
      head,
      align,
      ...(head === 'comm' ? { wrap: true } : {}),
      ...(drop === undefined ? {} : { drop }),
    })),
    shown.map((p) => PROCESS_COLUMNS.map(([, read]) => read(p))),
    fit,
  );
  out += `${c.bold('Processes using KSM')} (/proc/PID/ksm_stat, by ksm_process_profit)\n${procs}\n`;
  if (shown.length < s.processes.length) out += `... and ${s.processes.length - shown.length} more\n`;
  return out;
}

/** Bytes for a table cell: human units, and the sign of a profit. */
function bytesCell(n: number): string {
  return formatBytes(n);
}

/** The first columns of an attribution row, which name it. */
function rowNames(a: KsmStatusAttribution, g: AttributionGroup): string[] {
  if (a.by === 'process') return [g.key, g.comm ?? '', g.cgroup ?? ''];
  return [g.key === '' ? '(unknown)' : g.key, String(g.processes)];
}

/**
 * Who saves what: one row per process, cgroup or comm (the top N and "other"), with the
 * exactly attributed saving, its cost in rmap_items, the profit, Linux's per-process
 * profit summed beside it, and ksmd's CPU apportioned by rmap_items; then the totals
 * against the kernel's counters.
 */
export function renderAttributionText(a: KsmStatusAttribution, opts: LiveTextOptions = {}): string {
  const c = pc.createColors(opts.color ?? pc.isColorSupported);
  const names = a.by === 'process' ? ['pid', 'comm', 'cgroup'] : [a.by, 'procs'];
  const state = new Map(a.attribution.processes.map((p) => [String(p.pid), p.state]));
  const notes = a.by === 'process' && a.attribution.processes.some((p) => p.state !== 'exact');
  const head = [
    ...names,
    'saved',
    'pages',
    'zero_pages',
    'rmap_items',
    'profit',
    'ksm_process_profit',
    'ksmd_share',
    ...(notes ? ['state'] : []),
  ];
  const left = (h: string) => h === 'comm' || h === 'cgroup' || h === 'state' || (h === a.by && h !== 'process');
  // On a narrow terminal the detail goes first: the cgroup path wraps, then the cost columns leave.
  const dropRank: Record<string, number> = { ksm_process_profit: 4, ksmd_share: 3, zero_pages: 2, pages: 1 };
  const columns = head.map((h) => ({
    head: h,
    align: left(h) ? ('left' as const) : ('right' as const),
    ...(h === 'cgroup' || h === a.by ? { wrap: true } : {}),
    ...(dropRank[h] === undefined ? {} : { drop: dropRank[h] }),
  }));
  const rows = opts.maxProcesses === undefined ? a.groups : a.groups.slice(0, opts.maxProcesses);
  const cells = rows.map((g) => [
    ...rowNames(a, g),
    bytesCell(g.saved_bytes),
    g.saved_pages.toFixed(2),
    String(g.ksm_zero_pages),
    String(g.ksm_rmap_items),
    bytesCell(g.profit_bytes),
    bytesCell(g.ksm_process_profit),
    `${(100 * g.ksmd_work_share).toFixed(1)} %`,
    ...(notes ? [state.get(g.key) === 'exact' ? '' : (state.get(g.key) ?? '')] : []),
  ]);
  const t = fitTable(columns, cells, { width: opts.width, compact: true, headStyle: c.bold });
  const title = `${c.bold(`Who saves what, by ${a.by}`)} (a KSM page mapped n times credits each mapping (n-1)/n of a page)`;
  let out = `${title}\n${rows.length === 0 ? 'No process uses KSM (no /proc/PID/ksm_stat shows any activity).' : t}\n`;
  if (rows.length < a.groups.length) out += `... and ${a.groups.length - rows.length} more rows\n`;
  return out + renderAttributionTotals(a);
}

/** The attribution's sums against the kernel's counters, and the naive sum beside them. */
export function renderAttributionTotals(a: KsmStatusAttribution): string {
  const t = a.attribution.totals;
  const kernel = t.pages_sharing + t.ksm_zero_pages;
  let out =
    `Saved: ${formatBytes(t.attributed_bytes)}, ${plural(t.attributed_pages, 'page')} over ${plural(a.attribution.processes.length, 'process', 'processes')}; ` +
    `the kernel counts pages_sharing ${t.pages_sharing} + ksm_zero_pages ${t.ksm_zero_pages} = ${kernel}`;
  out +=
    t.residual_pages === 0
      ? ' (equal)\n'
      : ` (residual ${t.residual_pages}: ksmd has not yet rescanned pages that changed or processes that exited)\n`;
  if (t.unscanned_mappings > 0)
    out += `Not yet scanned by ksmd (forked children): ${t.unscanned_mappings} mappings of KSM pages, not credited\n`;
  const over = t.naive_profit_bytes - t.attributed_profit_bytes;
  out +=
    `Profit: attributed ${formatBytes(t.attributed_profit_bytes)} (general_profit ${formatBytes(t.general_profit)}); ` +
    `Linux's per-process ksm_process_profit summed: ${formatBytes(t.naive_profit_bytes)}` +
    (over > 0 && t.attributed_profit_bytes > 0
      ? `, ${formatBytes(over)} (${((100 * over) / t.attributed_profit_bytes).toFixed(1)} %) too much: it credits every mapper with the whole page\n`
      : '\n');
  if (t.ksmd_cpu_seconds !== undefined)
    out += `ksmd: ${t.ksmd_cpu_seconds.toFixed(2)} s of CPU since boot; ksmd_share is each row's part of its work now (its rmap_items of all, each visited once a full scan)\n`;
  return out;
}

/** `kernel enable`/`disable`: one line per process, the call and its result or why not. */
export function renderMergeReports(reports: readonly MergeReport[], enable: boolean): string {
  const call = `prctl(PR_SET_MEMORY_MERGE, ${enable ? 1 : 0})`;
  return reports
    .map((r) => {
      if (!r.ok) return `${r.pid} (${oneLine(r.comm)}): not done: ${r.error ?? '?'}\n`;
      const res = r.result === 0 ? '0' : `${r.result ?? '?'} (${describeErrno(r.result ?? 0)})`;
      const flag = r.ksm_merge_any === undefined ? '' : `; ksm_merge_any: ${r.ksm_merge_any ? 'yes' : 'no'}`;
      return `${r.pid} (${oneLine(r.comm)}): ${call} = ${res}${flag}\n`;
    })
    .join('');
}

/** What merged in `seconds`: pages_sharing growth and the processes' own counts, one line. */
export function renderMergeSummary(
  before: { readonly sharing: number; readonly shared: number },
  after: { readonly sharing: number; readonly shared: number },
  processes: readonly KsmProcessStat[],
  seconds: number,
): string {
  const mine = processes.map(
    (s) =>
      `${s.pid} (${oneLine(s.comm)}): ksm_merging_pages ${s.ksm_merging_pages}, ksm_process_profit ${s.ksm_process_profit}`,
  );
  const delta = (n: number): string => (n >= 0 ? `+${n}` : String(n));
  return (
    `after ${seconds} s: pages_sharing ${after.sharing} (${delta(after.sharing - before.sharing)}), ` +
    `pages_shared ${after.shared} (${delta(after.shared - before.shared)})` +
    (mine.length > 0 ? `; ${mine.join('; ')}` : '')
  );
}
