/**
 * The control directory of the KSM+ daemon for stock kernels (`samepage plus`): where the
 * live daemon serves it, and its files with whether each takes writes. Declared here, once,
 * because the policy that implements the files (src/policy/control.ts, tested against this
 * list), the scenario format that reads and writes them on the model, and the live daemon
 * all name them.
 */

/** Where the live daemon keeps its control files; a scenario names them by this path too. */
export const PLUS_DIR = '/run/samepage/ksm+';

/** Every file of the control directory, 'rw' (a knob or a selection) or 'ro' (a counter), in listing order. */
export const PLUS_FILES = {
  processes_to_scan: 'rw',
  pids_to_scan: 'rw',
  cgroups_to_scan: 'rw',
  run: 'rw',
  pages_to_scan: 'rw',
  sleep_millisecs: 'rw',
  round_millisecs: 'rw',
  initial_coefficient: 'rw',
  coefficient_step: 'rw',
  min_coefficient: 'rw',
  drop_coefficient: 'rw',
  merge_gap: 'rw',
  demote_scans: 'rw',
  max_ranges: 'rw',
  index_rounds: 'rw',
  pages_shared: 'ro',
  pages_sharing: 'ro',
  general_profit: 'ro',
  rmap_items: 'ro',
  merging_pages: 'ro',
  process_profit: 'ro',
  pages_scanned: 'ro',
  full_scans: 'ro',
  vma_nodes: 'ro',
  marked_ranges: 'ro',
  marked_pages: 'ro',
  processes: 'ro',
  daemon_rss: 'ro',
  net_profit: 'ro',
} as const satisfies Readonly<Record<string, 'ro' | 'rw'>>;

export type PlusFile = keyof typeof PLUS_FILES;

export const PLUS_FILE_NAMES: readonly PlusFile[] = Object.keys(PLUS_FILES) as PlusFile[];

/** The files whose text is a list of names, pids or cgroups rather than a number. */
export const PLUS_LIST_FILES: readonly PlusFile[] = ['processes_to_scan', 'pids_to_scan', 'cgroups_to_scan'];

export function isPlusFile(name: string): name is PlusFile {
  return Object.hasOwn(PLUS_FILES, name);
}

export function isPlusWritableFile(name: string): boolean {
  return isPlusFile(name) && PLUS_FILES[name] === 'rw';
}
