/**
 * The paths a scenario reads (`expect`, the shell's `cat`): a file under /sys/kernel/mm, a
 * file of one of the scenario's procs under /proc/<proc>/, or a KSM line of /proc/vmstat.
 * These are names in the scenario's world, which each backend maps to its own: the model to
 * its attribute tables, the kernel backend to the live files of the agent that plays the proc.
 */
import { PLUS_DIR } from '../lib/plus_files.ts';
import { KSM_VMSTAT_FIELDS, type KsmVmstatField } from '../sysfs/proc_vmstat.ts';

/** Where a scenario's sysfs paths live (`ksm/run` is short for /sys/kernel/mm/ksm/run). */
export const SYS_MM = '/sys/kernel/mm/';
const PROC = '/proc/';
const VMSTAT = '/proc/vmstat';
/** The KSM+ daemon's control files (lib/plus_files.ts), named by their full path. */
export const PLUS_PREFIX = `${PLUS_DIR}/`;

/**
 * A scenario path: `file` relative to /sys/kernel/mm, a file of the KSM+ daemon's control
 * directory, a proc's `file` (`ksm_stat/ksm_rmap_items`), or /proc/vmstat (the machine's,
 * whole or one KSM line).
 */
export type ScenarioPath =
  | { readonly kind: 'sysfs'; readonly file: string }
  | { readonly kind: 'plus'; readonly file: string }
  | { readonly kind: 'proc'; readonly proc: string; readonly file: string }
  | { readonly kind: 'vmstat'; readonly field: KsmVmstatField | undefined };

/** Splits a scenario path, or undefined when it is under none of /sys/kernel/mm, the daemon's directory and /proc/<proc>/. */
export function parseScenarioPath(path: string): ScenarioPath | undefined {
  if (path.startsWith(SYS_MM)) return { kind: 'sysfs', file: path.slice(SYS_MM.length) };
  if (path.startsWith(PLUS_PREFIX)) return { kind: 'plus', file: path.slice(PLUS_PREFIX.length) };
  if (path === VMSTAT) return { kind: 'vmstat', field: undefined };
  // A KSM line of /proc/vmstat; a proc named vmstat keeps its other files.
  const line = path.startsWith(`${VMSTAT}/`) ? path.slice(VMSTAT.length + 1) : undefined;
  if (line !== undefined && (KSM_VMSTAT_FIELDS as readonly string[]).includes(line))
    return { kind: 'vmstat', field: line as KsmVmstatField };
  if (!path.startsWith(PROC)) return undefined;
  const slash = path.indexOf('/', PROC.length);
  if (slash <= PROC.length || slash === path.length - 1) return undefined;
  return { kind: 'proc', proc: path.slice(PROC.length, slash), file: path.slice(slash + 1) };
}
