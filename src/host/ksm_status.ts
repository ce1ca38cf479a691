/**
 * The live KSM of this machine in one reading, read-only: every file of /sys/kernel/mm/ksm,
 * the /proc/PID/ksm_stat of every process KSM knows about and, when asked, who saves what
 * (src/attribution, from the processes' page tables; root). Reading never changes anything;
 * `samepage kernel status`, `watch` and `export` print it.
 */
import { type Attribution, attribute } from '../attribution/attribute.ts';
import { type AttributionGroup, type GroupBy, groupAttribution } from '../attribution/group.ts';
import { LiveAttributionReader, type LiveReadStats } from './ksm_attribution.ts';
import { type KsmProcessStat, readKsmProcesses } from './ksm_stat.ts';
import { KSM_DIR, readKsmSysfs } from './ksm_sysfs.ts';
import { errorCode } from './procfs.ts';

/** Who saves what in one reading, grouped. */
export interface KsmStatusAttribution {
  readonly by: GroupBy;
  /** The rows shown: top N by saving plus "other" when cut. */
  readonly groups: readonly AttributionGroup[];
  readonly attribution: Attribution;
  /** What reading the page tables cost. */
  readonly stats: LiveReadStats;
}

/** One reading of the machine. */
export interface KsmStatus {
  /** Wall-clock time of the reading, ISO 8601. */
  readonly time: string;
  /** Every file of /sys/kernel/mm/ksm: numbers as numbers, selector files as their selected word. */
  readonly ksm: Readonly<Record<string, number | string>>;
  /** Processes with any KSM activity, by ksm_process_profit descending (then pid). */
  readonly processes: readonly KsmProcessStat[];
  /** Who saves what, when asked for and readable. */
  readonly attribution?: KsmStatusAttribution;
  /** Why the attribution is missing although asked for (not root...). */
  readonly attributionError?: string;
  /** Set when `processes` can only be the reader's own (not root: ksm_stat is mode 0400). */
  readonly processesLimit?: string;
}

export interface KsmStatusOptions {
  /** Also attribute the saving to processes, grouped so; default: no attribution. */
  readonly by?: GroupBy;
  /** With `by`: at most this many rows, the rest summed as "other". */
  readonly top?: number;
  /** Processes that vanish or cannot be read while attributing. */
  readonly onWarning?: (message: string) => void;
  /** The reader to attribute with, when the caller reads again and again (the exporter); default a fresh one. */
  readonly reader?: LiveAttributionReader;
}

/** Why attribution cannot be read, in words. */
function whyNoAttribution(e: unknown): string {
  const code = errorCode(e);
  if (code === 'EACCES' || code === 'EPERM')
    return 'reading /proc/kpageflags and frame numbers needs root (CAP_SYS_ADMIN)';
  if (code === 'ENOENT') return '/proc/kpageflags is missing (CONFIG_PROC_PAGE_MONITOR is off)';
  return e instanceof Error ? e.message : String(e);
}

/** One reading of sysfs and of every process, stamped with the wall clock. */
export function readKsmStatus(dir = KSM_DIR, proc = '/proc', opts: KsmStatusOptions = {}): KsmStatus {
  const time = new Date().toISOString();
  const own = process.getuid?.() !== 0;
  const base = {
    time,
    ksm: readKsmSysfs(dir),
    processes: readKsmProcesses(proc),
    ...(own ? { processesLimit: "other users' /proc/PID/ksm_stat are theirs and root's to read" } : {}),
  };
  if (opts.by === undefined) return base;
  try {
    if (own) throw Object.assign(new Error('not root'), { code: 'EPERM' });
    const reader = opts.reader ?? new LiveAttributionReader({ alwaysSmaps: true });
    const obs = reader.read({
      read: base,
      ...(opts.onWarning === undefined ? {} : { onWarning: opts.onWarning }),
    });
    const attribution = attribute(obs);
    const groups = groupAttribution(attribution, opts.by, opts.top === undefined ? {} : { top: opts.top });
    return { ...base, attribution: { by: opts.by, groups, attribution, stats: obs.stats } };
  } catch (e) {
    return { ...base, attributionError: whyNoAttribution(e) };
  }
}
