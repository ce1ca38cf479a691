/**
 * `samepage bench` for people: the model-versus-kernel table of a bench, and the constants
 * and scans of a calibration (--json prints the same results as they are).
 */
import { wrapText } from '../lib/text_width.ts';
import { median } from '../lib/statistics.ts';
import { fitTable, type TableColumn } from './fit_table.ts';
import type { BenchRun } from '../measure/bench.ts';
import type { CalibrationFile, TimerFile } from '../measure/calibrate.ts';

/**
 * Columns for fitTable: heads wrap at their spaces (cells are numbers, which never do); on a
 * narrow terminal the columns named in `drop` leave first, the earliest of them last.
 */
function columns(head: readonly string[], drop: readonly string[] = []): TableColumn[] {
  return head.map((h, i) => ({
    head: h,
    align: i === 0 ? ('left' as const) : ('right' as const),
    wrap: true,
    ...(drop.includes(h) ? { drop: drop.indexOf(h) + 1 } : {}),
  }));
}

/**
 * Prose under a table, wrapped to the terminal's width: its lines are joined first (only a
 * blank line parts paragraphs), else each line broken at about 110 columns wraps on its own.
 */
function prose(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return `${wrapText(text.replace(/([^\n])\n(?=[^\n])/g, '$1 '), width).join('\n')}\n`;
}

function fmt(n: number | null | undefined): string {
  return n === null || n === undefined ? 'n/a' : n.toLocaleString('en-US');
}

/** The bench's table, the reason the ratio is unavailable if it is, and how it was measured. */
export function renderBench(run: BenchRun, width?: number): string {
  const { results, calibrated } = run;
  const head = [
    'workload',
    'pages × scans',
    'model pages/CPU-s',
    'kernel pages/CPU-s',
    'ratio model/kernel',
    'first scan',
    'later scans',
    'kernel ns/visit',
    'model virtual ns/visit',
  ];
  if (calibrated) head.push('calibrated ns/visit');
  head.push('counters equal');
  const rows: string[][] = [];
  for (const r of results) {
    const row = [
      r.workload,
      `${fmt(r.pages)} × ${r.scans}`,
      fmt(r.model_pages_per_cpu_s),
      fmt(r.kernel_pages_per_cpu_s),
      r.ratio === null ? 'n/a' : r.ratio.toFixed(2),
      r.first_scan_ratio === null ? 'n/a' : r.first_scan_ratio.toFixed(2),
      r.later_scans_ratio === null ? 'n/a' : r.later_scans_ratio.toFixed(2),
      fmt(r.kernel_ns_per_visit),
      fmt(r.model_virtual_ns_per_visit),
    ];
    if (calibrated) row.push(fmt(r.model_calibrated_ns_per_visit));
    row.push(r.counters_equal === null ? 'n/a' : r.counters_equal ? 'yes' : 'NO');
    rows.push(row);
  }
  const drop = [
    'pages × scans',
    'model pages/CPU-s',
    'kernel pages/CPU-s',
    'kernel ns/visit',
    'model virtual ns/visit',
    'calibrated ns/visit',
  ];
  let out = `${fitTable(columns(head, drop), rows, { width })}\n`;
  const why = results.find((r) => r.ratio_unavailable !== undefined)?.ratio_unavailable;
  if (why !== undefined) out += `\nThe ratio is unavailable: ${why}.\n`;
  for (const r of results) {
    if (r.counter_differences !== undefined) {
      const list = Object.entries(r.counter_differences).map(
        ([k, v]) => `${k} model ${fmt(v.model)} kernel ${fmt(v.kernel)}`,
      );
      out += `${r.workload}: counters differ: ${list.join(', ')}\n`;
    }
  }
  out += prose(
    '\nModel: CPU time of the thread running it (schedstat; process_ratio in --json counts all its threads) over the\n' +
      `measured full scans only (setup excluded), each scan the median of ${run.measuredRuns} runs taken in rounds ${run.roundPauseS} s apart,\n` +
      `each right after an unmeasured run of the same workload (JIT warm-up; ${run.warmupRuns} before the first), the process\n` +
      "held on one CPU. Kernel: ksmd's CPU time over the same scans (/proc/<ksmd>/schedstat in ns; utime+stime in clock\n" +
      'ticks where it is missing). ratio > 1: the model is faster than ksmd.\n',
    width,
  );
  return out;
}

/** The line under the reload table that gives its growth with the trees (absent in older files). */
function treeFit(f: CalibrationFile, width: number | undefined): string {
  const tree = f.post_sleep?.tree;
  if (tree === undefined) return '';
  return `\n${prose(
    `The reload grows with the trees: a batch whose trees hold n nodes pays min(1, n / ${fmt(f.cost.postSleepTreeNodes)})^${f.cost.postSleepTreeExp} of it, ` +
      `fitted in logarithms to ${tree.points} rows of the regions measured (residual ${tree.rms_log}); "fitted µs" is the mean over each row's pass.`,
    width,
  ).trimEnd()}`;
}

/**
 * The calibration: the constants before and after, every scan's measured and fitted time,
 * then the timer before and after and ksmd's cadence on the kernel against the model.
 */
export function renderCalibration(
  f: CalibrationFile,
  previous: CalibrationFile['cost'],
  timer?: TimerFile,
  previousTimer?: TimerFile['timer'],
  width?: number,
): string {
  const keys = Object.keys(f.cost) as (keyof CalibrationFile['cost'])[];
  const t = fitTable(
    columns(['constant', 'until now', 'calibrated']),
    keys.map((k) => [k, fmt(previous[k]), fmt(f.cost[k])]),
    { width },
  );
  // With rounds, the spread of each scan's CPU over them: how much the host moved meanwhile.
  const rounds = f.scans.some((x) => x.kernel_cpu_rounds_s !== undefined);
  const scanHead = [
    'workload',
    'scan',
    'pages',
    'kernel CPU s',
    ...(rounds ? ['rounds s'] : []),
    'fitted s',
    'current s',
    'visits',
    'skips',
    'checksums',
    'memcmp≠',
    'memcmp=',
    'merges',
    'frees',
    'deep steps',
  ];
  const scanRows = f.scans.map((x) => [
    x.workload,
    String(x.scan),
    fmt(x.pages_scanned),
    x.kernel_cpu_s.toFixed(2),
    ...(rounds ? [roundsRange(x.kernel_cpu_rounds_s)] : []),
    x.fitted_cpu_s.toFixed(2),
    x.default_cpu_s.toFixed(2),
    // Every event kind in the order counted (measure/model.ts, cost.ts's COST_KEYS).
    ...(Object.keys(x.events) as (keyof typeof x.events)[]).map((k) => fmt(x.events[k])),
  ]);
  const s = fitTable(
    columns(scanHead, [
      'deep steps',
      'frees',
      'merges',
      'memcmp=',
      'memcmp≠',
      'checksums',
      'skips',
      'current s',
      'rounds s',
    ]),
    scanRows,
    {
      width,
    },
  );
  // The reload after a sleep: measured extra of a batch against the fitted form's.
  const reload =
    f.post_sleep === undefined
      ? ''
      : `\n\n${fitTable(
          columns([
            'region pages',
            'pages_to_scan',
            'sleep_millisecs',
            'slept ms',
            'extra µs',
            f.post_sleep.measured === 'interleaved' ? 'rounds µs' : 'passes µs',
            'fitted µs',
            'ksmd queued ms',
          ]),
          f.post_sleep.rows.map((r) => [
            // readCalibration gives old files' rows their region; a file made otherwise may lack it.
            r.region_pages === undefined ? '' : fmt(r.region_pages),
            fmt(r.pages_to_scan),
            fmt(r.sleep_millisecs),
            (r.slept_ns / 1e6).toFixed(2),
            fmt(Math.round(r.extra_ns / 1000)),
            passesRange(r.extra_ns_each),
            fmt(Math.round(r.fitted_ns / 1000)),
            r.queued_ms.toFixed(2),
          ]),
          { width },
        )}${treeFit(f, width)}`;
  // Passes of first visits: the kernel's CPU of a pass against the model's with the fit.
  const firstVisits =
    f.first_visit === undefined
      ? ''
      : `\n\n${fitTable(
          columns(['pages_to_scan', 'sleep_millisecs', 'slept ms', 'pass CPU ms', 'passes ms', 'fitted ms']),
          f.first_visit.rows.map((r) => [
            fmt(r.pages_to_scan),
            fmt(r.sleep_millisecs),
            (r.slept_ns / 1e6).toFixed(2),
            (median(r.pass_cpu_ns_each) / 1e6).toFixed(2),
            `${(Math.min(...r.pass_cpu_ns_each) / 1e6).toFixed(2)} to ${(Math.max(...r.pass_cpu_ns_each) / 1e6).toFixed(2)}`,
            (r.fitted_pass_ns / 1e6).toFixed(2),
          ]),
          { width },
        )}`;
  const visits = Object.entries(f.kernel_ns_per_visit).map(
    ([w, ns]) => `  ${w}: ${fmt(ns)} ns of ksmd CPU per page visited`,
  );
  return (
    `Kernel ${f.machine.kernel_release}, ${f.machine.cpu_model}, ${f.pages} pages per workload` +
    `${(f.workload_rounds ?? 1) > 1 ? `, measured ${f.workload_rounds} rounds (each scan the median)` : ''}\n\n` +
    `${visits.join('\n')}\n\n${t}\n\n${s}${reload}${firstVisits}\n\n${prose(`${f.method}\n`, width)}` +
    (timer === undefined ? '' : renderTimer(timer, previousTimer, width))
  );
}

/** The least and the most of a scan's CPU over its rounds, s (none where it was measured once). */
function roundsRange(each: readonly number[] | undefined): string {
  return each === undefined ? '' : `${Math.min(...each).toFixed(2)} to ${Math.max(...each).toFixed(2)}`;
}

/** The least and the most of a row's extras by pass or by round, µs (a row of one: its own; older files: none). */
function passesRange(each: readonly number[] | undefined): string {
  if (each === undefined || each.length === 0) return '';
  const us = each.map((ns) => Math.round(ns / 1000));
  return us.length === 1 ? fmt(us[0]!) : `${fmt(Math.min(...us))} to ${fmt(Math.max(...us))}`;
}

/** The timer's parameters before and after, and the cadence it gives against the kernel's. */
function renderTimer(f: TimerFile, previous: TimerFile['timer'] | undefined, width: number | undefined): string {
  const t = fitTable(
    columns(['timer', 'until now', 'calibrated']),
    [
      ['hz', fmt(previous?.hz), `${fmt(f.timer.hz)} (${f.hz_source})`],
      ['wakeupLatencyNs', fmt(previous?.wakeupLatencyNs), fmt(f.timer.wakeupLatencyNs)],
      ['timerWakeLatencyNs', fmt(previous?.timerWakeLatencyNs), fmt(f.timer.timerWakeLatencyNs)],
      ['workFlushNs', fmt(previous?.workFlushNs), fmt(f.timer.workFlushNs)],
    ],
    { width },
  );
  const c = fitTable(
    columns(['sleep_millisecs', 'kernel ms per batch', 'model ms per batch', 'ksmd waited for a CPU, ms']),
    f.cadence.map((x) => [
      String(x.sleep_millisecs),
      x.kernel_ms.toFixed(3),
      x.model_ms.toFixed(3),
      x.ksmd_queued_ms.toFixed(1),
    ]),
    { width },
  );
  return `\n${t}\n\n${c}\n\n${prose(`${f.method}\n`, width)}`;
}
