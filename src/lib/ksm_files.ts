/**
 * The files through which Linux 6.18 shows KSM to user space: /sys/kernel/mm/ksm
 * (mm/ksm.c ksm_attrs) and the fields of /proc/PID/ksm_stat (fs/proc/base.c
 * proc_pid_ksm_stat). Declared once, here, because three sides use them: the model's
 * attribute table (src/sysfs/ksm_sysfs.ts) is typed by this list and tested against it,
 * the scenario schema accepts exactly these names, and host/ reads them on the live machine.
 */

/**
 * Every file of /sys/kernel/mm/ksm and whether it takes writes ('rw') or only shows a
 * counter ('ro'). merge_across_nodes exists only with CONFIG_NUMA; the model always has it.
 */
export const KSM_SYSFS_FILES = {
  advisor_max_cpu: 'rw',
  advisor_max_pages_to_scan: 'rw',
  advisor_min_pages_to_scan: 'rw',
  advisor_mode: 'rw',
  advisor_target_scan_time: 'rw',
  full_scans: 'ro',
  general_profit: 'ro',
  ksm_zero_pages: 'ro',
  max_page_sharing: 'rw',
  merge_across_nodes: 'rw',
  pages_scanned: 'ro',
  pages_shared: 'ro',
  pages_sharing: 'ro',
  pages_skipped: 'ro',
  pages_to_scan: 'rw',
  pages_unshared: 'ro',
  pages_volatile: 'ro',
  run: 'rw',
  sleep_millisecs: 'rw',
  smart_scan: 'rw',
  stable_node_chains: 'ro',
  stable_node_chains_prune_millisecs: 'rw',
  stable_node_dups: 'ro',
  use_zero_pages: 'rw',
} as const satisfies Readonly<Record<string, 'ro' | 'rw'>>;

export type KsmSysfsFile = keyof typeof KSM_SYSFS_FILES;

/** The names of KSM_SYSFS_FILES, in name order (as `ls` lists the directory). */
export const KSM_FILES: readonly KsmSysfsFile[] = (Object.keys(KSM_SYSFS_FILES) as KsmSysfsFile[]).sort();

/** The files of /sys/kernel/mm/ksm that accept a write, in name order. */
export const KSM_WRITABLE_FILES: readonly KsmSysfsFile[] = KSM_FILES.filter((f) => KSM_SYSFS_FILES[f] === 'rw');

/** Whether `name` is a file of /sys/kernel/mm/ksm. */
export function isKsmFile(name: string): name is KsmSysfsFile {
  return Object.hasOwn(KSM_SYSFS_FILES, name);
}

/** Whether `name` is a file of /sys/kernel/mm/ksm that accepts a write. */
export function isKsmWritableFile(name: string): name is KsmSysfsFile {
  return isKsmFile(name) && KSM_SYSFS_FILES[name] === 'rw';
}

/** The six fields of /proc/PID/ksm_stat, in the order Linux prints them. */
export const KSM_STAT_FIELDS = [
  'ksm_rmap_items',
  'ksm_zero_pages',
  'ksm_merging_pages',
  'ksm_process_profit',
  'ksm_merge_any',
  'ksm_mergeable',
] as const;

export type KsmStatField = (typeof KSM_STAT_FIELDS)[number];

/** The six fields of /proc/PID/ksm_stat as values: counts, and the two yes/no as booleans. */
export interface KsmStat {
  readonly ksm_rmap_items: number;
  readonly ksm_zero_pages: number;
  readonly ksm_merging_pages: number;
  readonly ksm_process_profit: number;
  readonly ksm_merge_any: boolean;
  readonly ksm_mergeable: boolean;
}

/** Whether `name` is a field of /proc/PID/ksm_stat. */
export function isKsmStatField(name: string): name is KsmStatField {
  return (KSM_STAT_FIELDS as readonly string[]).includes(name);
}
