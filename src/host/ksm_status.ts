/**
 * The live KSM of this machine in one reading, read-only: every file of /sys/kernel/mm/ksm
 * and the /proc/PID/ksm_stat of every process KSM knows about. Reading never changes
 * anything; `samepage kernel status` and `watch` print it.
 */
import { type KsmProcessStat, readKsmProcesses } from './ksm_stat.ts';
import { KSM_DIR, readKsmSysfs } from './ksm_sysfs.ts';

/** One reading of the machine. */
export interface KsmStatus {
  /** Wall-clock time of the reading, ISO 8601. */
  readonly time: string;
  /** Every file of /sys/kernel/mm/ksm: numbers as numbers, selector files as their selected word. */
  readonly ksm: Readonly<Record<string, number | string>>;
  /** Processes with any KSM activity, by ksm_process_profit descending (then pid). */
  readonly processes: readonly KsmProcessStat[];
}

/** One reading of sysfs and of every process, stamped with the wall clock. */
export function readKsmStatus(dir = KSM_DIR, proc = '/proc'): KsmStatus {
  return { time: new Date().toISOString(), ksm: readKsmSysfs(dir), processes: readKsmProcesses(proc) };
}
