/**
 * The files of /sys/kernel/mm/ksm+, the KSM+ interface of the thesis (Zhou Xiao, 2013) as
 * the model has it: its four knobs, the sampling constants it hard-codes made knobs, and
 * KSM's counters for the KSM+ scanner plus vma_nodes. Declared once, as lib/ksm_files.ts
 * declares KSM's: the model's attribute table (src/sysfs/ksmplus_sysfs.ts) is tested
 * against it and the scenario schema accepts exactly these names.
 */
export const KSMPLUS_SYSFS_FILES = {
  coefficient_step: 'rw',
  drop_coefficient: 'rw',
  full_scans: 'ro',
  general_profit: 'ro',
  initial_coefficient: 'rw',
  min_coefficient: 'rw',
  pages_scanned: 'ro',
  pages_shared: 'ro',
  pages_sharing: 'ro',
  pages_to_scan: 'rw',
  pages_unshared: 'ro',
  pages_volatile: 'ro',
  processes_to_scan: 'rw',
  rmap_items: 'ro',
  run: 'rw',
  sleep_millisecs: 'rw',
  vma_nodes: 'ro',
} as const satisfies Readonly<Record<string, 'ro' | 'rw'>>;

/** The names of KSMPLUS_SYSFS_FILES, in name order. */
export const KSMPLUS_FILES: readonly string[] = Object.keys(KSMPLUS_SYSFS_FILES).sort();

/** Whether `name` is a file of /sys/kernel/mm/ksm+. */
export function isKsmPlusFile(name: string): boolean {
  return Object.hasOwn(KSMPLUS_SYSFS_FILES, name);
}
