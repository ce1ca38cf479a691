/**
 * `samepage plus status` and `list` for people: the daemon's cost beside what KSM saves (the
 * net figure), each selected process with what was marked and what ksmd made of it, and
 * each marked range. Plain data in (host/'s LiveStatus, by type only), text out.
 */
import Table from 'cli-table3';
import type { LiveStatus } from '../host/plus_daemon.ts';
import { formatBytes } from '../lib/sizes.ts';

const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };
const style = { head: [], border: [] };

const us = (v: number | null): string => (v === null ? '-' : `${v} us`);
const signedBytes = (n: number): string => `${n} B (${formatBytes(n)})`;

/** The whole text of `samepage plus status`. */
export function renderPlusStatus(s: LiveStatus): string {
  const d = s.daemon;
  const runtime = Math.max(0, d.rss_bytes - d.policy_bytes);
  const summary = new Table({ style, chars: COMPACT });
  summary.push(
    ['daemon', `pid ${d.pid}, up ${d.uptime_s.toFixed(0)} s`, ''],
    [
      'daemon memory (RSS)',
      formatBytes(d.rss_bytes),
      `policy's data ${formatBytes(d.policy_bytes)}, runtime and code ${formatBytes(runtime)}`,
    ],
    [
      'daemon CPU',
      `${d.cpu_s.toFixed(2)} s`,
      d.uptime_s > 0 ? `${((100 * d.cpu_s) / d.uptime_s).toFixed(2)} % of one CPU` : '',
    ],
    [
      'injections',
      String(d.injections),
      `pause p50 ${us(d.pause_p50_us)}, p99 ${us(d.pause_p99_us)}, max ${us(d.pause_max_us)}`,
    ],
    ['KSM run', String(s.kernel.run), ''],
    [
      'pages_sharing + ksm_zero_pages',
      String(s.kernel.pages_sharing + s.kernel.ksm_zero_pages),
      `pages_shared ${s.kernel.pages_shared}`,
    ],
    ["general_profit (the kernel's)", signedBytes(s.kernel.general_profit), 'every KSM user on the machine'],
    [
      'net: general_profit - daemon RSS',
      signedBytes(s.net_profit),
      s.net_profit > 0 ? 'the daemon pays for itself' : 'the daemon costs more than KSM saves',
    ],
  );
  const p = s.policy;
  const sel = `names [${p.names.join(', ')}], pids [${p.pids.join(', ')}], cgroups [${p.cgroups.join(', ')}]`;
  const c = p.counters;
  const lines = [
    summary.toString(),
    `selected: ${sel}; run ${p.knobs.run}, ${p.counters.full_scans} rounds, ${c.pages_scanned} pages read, ${c.duplicates} duplicates found, ${c.marks} ranges marked, ${c.unmarks} given back, ${c.refusals} refusals`,
  ];
  const procs = new Table({
    head: [
      'pid',
      'comm',
      'selected by',
      'regions (dropped)',
      'marked ranges (pages)',
      'rmap_items',
      'merging',
      'process_profit',
      'pause p50/p99',
      'note',
    ],
    style,
    chars: COMPACT,
  });
  for (const q of p.processes) {
    procs.push([
      String(q.pid),
      q.comm,
      q.selected_by,
      `${q.regions} (${q.regions_dropped})`,
      `${q.marked_ranges} (${q.marked_pages})`,
      String(q.rmap_items),
      String(q.merging_pages),
      formatBytes(q.process_profit),
      `${us(q.pause_p50_us)} / ${us(q.pause_p99_us)}`,
      q.skipped ?? (q.merge_any ? 'MERGE_ANY (KSM considers all of it)' : ''),
    ]);
  }
  lines.push(p.processes.length === 0 ? 'no selected process is running' : procs.toString());
  const ranges = new Table({
    head: ['pid', 'range', 'pages', 'present', 'merging', 'ksmd scans', 'why'],
    style,
    chars: COMPACT,
  });
  for (const q of p.processes) {
    for (const r of q.ranges) {
      ranges.push([
        String(q.pid),
        `${r.start}-${r.end}`,
        String(r.pages),
        r.present < 0 ? '-' : String(r.present),
        r.merging < 0 ? '-' : String(r.merging),
        String(r.age_scans),
        r.why,
      ]);
    }
  }
  if (p.totals.marked_ranges > 0) lines.push(ranges.toString());
  return `${lines.join('\n')}\n`;
}

/** `samepage plus list`: what is selected. */
export function renderPlusList(names: readonly string[], pids: readonly number[], cgroups: readonly string[]): string {
  const out = [...names.map((n) => `name ${n}`), ...pids.map((p) => `pid ${p}`), ...cgroups.map((c) => `cgroup ${c}`)];
  return out.length === 0 ? 'nothing is selected\n' : `${out.join('\n')}\n`;
}
