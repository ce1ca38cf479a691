/**
 * The daemon's control files: the thesis's /sys/kernel/mm/ksm+ interface (section 4.1.2)
 * for a daemon, so its scripts run with the directory changed. Each file has a `show` (its
 * text) and, when writable, a `store` that returns 0 or -errno as a sysfs file would:
 *
 *   processes_to_scan   "+ NAME" selects a program (exact comm), "- NAME" drops it and gives
 *                       back its ranges; reading lists the names, oldest first
 *   pids_to_scan        "+ PID" / "- PID": one process (checked by its start time)
 *   cgroups_to_scan     "+ /path" / "- /path": every process in a cgroup or below it
 *   run, pages_to_scan, sleep_millisecs, initial_coefficient, coefficient_step,
 *   min_coefficient, drop_coefficient, merge_gap, demote_scans, max_ranges, index_rounds
 *                       the knobs (policy/knobs.ts)
 *   pages_shared, pages_sharing, general_profit      the kernel's, as /sys/kernel/mm/ksm has them
 *   rmap_items, merging_pages, process_profit        summed over the selected processes (ksm_stat)
 *   pages_scanned, full_scans, vma_nodes, marked_ranges, marked_pages, processes
 *                       the daemon's (vma_nodes: regions still sampled, the thesis's name)
 *   daemon_rss, net_profit    the daemon's resident memory in bytes, and general_profit less it
 *
 * The live daemon serves them as regular files under /run/samepage/ksm+/
 * (src/host/plus_control.ts); a scenario on the model reads and writes them by that path.
 */
import { parseProcessesToScan } from '../lib/processes_to_scan.ts';
import type { PlusEngine } from './engine.ts';
import type { PlusHost } from './host.ts';
import { KNOB_SPECS } from './knobs.ts';
import { checkCgroup } from './selection.ts';
import { policyStatus, type PolicyStatus } from './status.ts';

const EINVAL = 22;
const ESRCH = 3;

/** One file of the control directory. */
export interface ControlFile {
  readonly name: string;
  show(): string;
  store?: (text: string) => number;
}

/** The machine's side of the counters, from the driver. */
export interface MachineFigures {
  readonly pages_shared: number;
  readonly pages_sharing: number;
  readonly general_profit: number;
  /** The daemon's resident memory in bytes (on the model: the policy's own data). */
  readonly daemon_rss: number;
}

/** "+ VALUE" / "- VALUE": the sign and the value, or undefined. */
function signed(text: string): { add: boolean; value: string } | undefined {
  const m = /^([+-])[ \t]*(.*?)[ \t]*\n?$/s.exec(text);
  if (m === null || m[2]!.length === 0 || m[2]!.includes('\n')) return undefined;
  return { add: m[1] === '+', value: m[2]! };
}

/** The control files of `engine`, in the order a listing shows them. */
export function controlFiles(engine: PlusEngine, host: PlusHost, machine: () => MachineFigures): ControlFile[] {
  let cached: { at: number; status: PolicyStatus } | undefined;
  // One status per round of reads: a `grep . *` reads every file, each would walk ksm_stat.
  const status = (): PolicyStatus => {
    const at = engine.batches;
    if (cached === undefined || cached.at !== at) cached = { at, status: policyStatus(engine, host) };
    return cached.status;
  };
  const lines = (values: readonly (string | number)[]): string => values.map((v) => `${v}\n`).join('');
  const ro = (name: string, value: () => number): ControlFile => ({ name, show: () => `${value()}\n` });
  const files: ControlFile[] = [
    {
      name: 'processes_to_scan',
      show: () => lines(engine.selection.names),
      store: (text) => {
        const w = parseProcessesToScan(text);
        if (w === undefined) return -EINVAL;
        if (w.add) engine.addName(w.name);
        else engine.removeName(w.name);
        return 0;
      },
    },
    {
      name: 'pids_to_scan',
      show: () => lines(engine.selection.pids.map((p) => p.pid)),
      store: (text) => {
        const w = signed(text);
        if (w === undefined || !/^\d{1,10}$/.test(w.value) || Number(w.value) <= 1) return -EINVAL;
        const pid = Number(w.value);
        if (!w.add) {
          engine.removePid(pid);
          return 0;
        }
        const info = host.process(pid);
        if (info === undefined) return -ESRCH;
        engine.addPid({ pid, start: info.start });
        return 0;
      },
    },
    {
      name: 'cgroups_to_scan',
      show: () => lines(engine.selection.cgroups),
      store: (text) => {
        const w = signed(text);
        if (w === undefined || checkCgroup(w.value) !== undefined) return -EINVAL;
        if (w.add) engine.addCgroup(w.value);
        else engine.removeCgroup(w.value);
        return 0;
      },
    },
    ...KNOB_SPECS.map(
      (spec): ControlFile => ({
        name: spec.name,
        show: () => `${engine.knobs[spec.name]}\n`,
        store: (text) => engine.setKnob(spec.name, text),
      }),
    ),
    ro('pages_shared', () => machine().pages_shared),
    ro('pages_sharing', () => machine().pages_sharing),
    ro('general_profit', () => machine().general_profit),
    ro('rmap_items', () => status().totals.rmap_items),
    ro('merging_pages', () => status().totals.merging_pages),
    ro('process_profit', () => status().totals.process_profit),
    ro('pages_scanned', () => engine.counters.pages_scanned),
    ro('full_scans', () => engine.counters.full_scans),
    ro('vma_nodes', () => engine.processes().reduce((n, p) => n + p.regions.filter((r) => !r.dropped).length, 0)),
    ro('marked_ranges', () => status().totals.marked_ranges),
    ro('marked_pages', () => status().totals.marked_pages),
    ro('processes', () => engine.processes().length),
    ro('daemon_rss', () => machine().daemon_rss),
    ro('net_profit', () => machine().general_profit - machine().daemon_rss),
  ];
  return files;
}
