/**
 * The paths a scenario reads (`expect`, the shell's `cat`): a file under /sys/kernel/mm, or
 * a file of one of the scenario's procs under /proc/<proc>/. These are names in the
 * scenario's world, which each backend maps to its own: the model to its attribute tables,
 * the kernel backend to the live files of the agent that plays the proc.
 */

/** Where a scenario's sysfs paths live (`ksm/run` is short for /sys/kernel/mm/ksm/run). */
export const SYS_MM = '/sys/kernel/mm/';
const PROC = '/proc/';

/** A scenario path: `file` relative to /sys/kernel/mm, or a proc's `file` (`ksm_stat/ksm_rmap_items`). */
export type ScenarioPath =
  | { readonly kind: 'sysfs'; readonly file: string }
  | { readonly kind: 'proc'; readonly proc: string; readonly file: string };

/** Splits a scenario path, or undefined when it is neither under /sys/kernel/mm nor /proc/<proc>/. */
export function parseScenarioPath(path: string): ScenarioPath | undefined {
  if (path.startsWith(SYS_MM)) return { kind: 'sysfs', file: path.slice(SYS_MM.length) };
  if (!path.startsWith(PROC)) return undefined;
  const slash = path.indexOf('/', PROC.length);
  if (slash <= PROC.length || slash === path.length - 1) return undefined;
  return { kind: 'proc', proc: path.slice(PROC.length, slash), file: path.slice(slash + 1) };
}
