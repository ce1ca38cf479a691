/**
 * The duplicate-page statistics (the thesis's parser module) and snapshots of live
 * processes, and the statistics of a snapshot file: what `samepage stats` and `samepage
 * snapshot` read, with a callback per page for their progress bars.
 */
import { selectComms } from '../lib/comm.ts';
import { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { LiveReader, type LiveProcess, openNamedProcesses } from './live.ts';
import { addSnapshotPages, readSnapshot, type WriteSnapshotSummary, writeSnapshot } from './snapshot.ts';

/** Which live processes, and who hears of the reading. */
export interface LiveSelection {
  readonly pids: readonly number[];
  readonly names: readonly string[];
  readonly onWarning: (message: string) => void;
  /** Told the number of pages about to be read. */
  readonly onStart?: (pages: number) => void;
  /** Called after each page read. */
  readonly onPage?: () => void;
}

/** Opens the selected processes, gives them to `use`, and closes them whatever happens. */
function withProcesses<T>(sel: LiveSelection, use: (procs: readonly LiveProcess[]) => T): T {
  const reader = new LiveReader({ onWarning: sel.onWarning });
  try {
    const procs = openNamedProcesses(reader, sel.pids, sel.names, sel.onWarning);
    try {
      sel.onStart?.(procs.reduce((n, p) => n + p.pageCount, 0));
      return use(procs);
    } finally {
      for (const p of procs) p.close();
    }
  } finally {
    reader.close();
  }
}

/**
 * The statistics of the selected processes' present anonymous pages, and what was left out:
 * mappings of the shared zero page and swapped-out pages.
 */
export function liveStatistics(sel: LiveSelection): {
  stats: DuplicateStatistics;
  zeroPages: number;
  swappedPages: number;
} {
  return withProcesses(sel, (procs) => {
    const stats = new DuplicateStatistics();
    for (const p of procs) {
      for (const page of p.pages()) {
        stats.add(page);
        sel.onPage?.();
      }
    }
    return {
      stats,
      zeroPages: procs.reduce((n, p) => n + p.zeroPages, 0),
      swappedPages: procs.reduce((n, p) => n + p.swappedPages, 0),
    };
  });
}

/** Writes a snapshot of the selected processes to `output` (host/snapshot.ts). */
export function snapshotLiveProcesses(
  output: string,
  sel: LiveSelection,
  opts: { readonly hashesOnly: boolean },
): WriteSnapshotSummary {
  return withProcesses(sel, (procs) => {
    try {
      return writeSnapshot(
        output,
        procs.map((p) => ({
          pid: p.pid,
          comm: p.owner.comm,
          vmas: p.maps,
          zeroPages: p.zeroPages,
          swappedPages: p.swappedPages,
          pages: () => p.pages(),
        })),
        { hashesOnly: opts.hashesOnly, ...(sel.onPage === undefined ? {} : { onPage: sel.onPage }) },
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === undefined ? String(e) : `Cannot write the snapshot ${output}: ${(e as Error).message}`);
    }
  });
}

/** The statistics of a snapshot file's pages, of every process or of the comms `procs`. */
export async function snapshotStatistics(
  file: string,
  procs: readonly string[] | undefined,
  warn: (message: string) => void = () => undefined,
): Promise<DuplicateStatistics> {
  const r = await readSnapshot(file);
  if (!r.ok) throw new Error(r.problem);
  try {
    const wanted =
      procs === undefined
        ? undefined
        : selectComms(
            procs,
            r.snapshot.processes.map((p) => p.comm),
            file,
            warn,
          );
    const stats = new DuplicateStatistics();
    addSnapshotPages(stats, r.snapshot, (p) => wanted === undefined || wanted.has(p.comm));
    return stats;
  } finally {
    r.snapshot.close();
  }
}
