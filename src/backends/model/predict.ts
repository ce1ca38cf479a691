/**
 * `samepage predict`: a snapshot of live processes loaded into the model, one model process
 * per snapshotted process with its mappings and page contents, then KSM (or KSM+) run on it
 * until the counters settle. What comes out is what Linux would report, as the same records
 * `samepage run` prints, plus the virtual time and the scanner's CPU to get there.
 *
 * How the snapshot becomes a model machine:
 *   - every mapping that held a stored page becomes a private anonymous mapping at the same
 *     address (the snapshot holds only anonymous pages of private mappings, which is all KSM
 *     can merge; its protection is not kept: a read-only mapping is writable in the model,
 *     which KSM's decisions never look at);
 *   - every stored page is written with its bytes; each distinct content is held once;
 *     pages the snapshot saw in one physical frame (a forked child's, not yet written) are
 *     one model frame mapped copy-on-write in each, as the fork left them: KSM cannot
 *     merge what is already shared, so counting them twice would overstate the saving;
 *   - KSM: each process calls PR_SET_MEMORY_MERGE(1), as `samepage kernel exec|enable` would
 *     make it do, and run=1; KSM+: every program name goes into processes_to_scan, run=1;
 *     plus: every program name goes to the KSM+ daemon (`samepage plus`), its run=1 and KSM's.
 * A hashes-only snapshot has no bytes: each distinct content gets stand-in bytes (all-zero
 * and all-0xFF contents exact, the others distinct pages seeded by their MD5), so which
 * pages merge is exact, while the trees' order, and so the counts of a scan in progress, can
 * differ from what the real bytes give.
 */
import { PAGE_SIZE } from '../../lib/sizes.ts';
import { splitmix64 } from '../../lib/patterns.ts';
import { readSnapshot, type Snapshot, type SnapshotProcess } from '../../host/snapshot.ts';
import type { CounterRecord, RunResult } from '../../scenario/records.ts';
import type { Scenario } from '../../scenario/types.ts';
import { describeErrno } from '../../lib/errno.ts';
import { createModelBackend, type ModelBackend } from './index.ts';
import { type DaemonFigures, settle, type Policy, type PolicyResult } from './policy.ts';
import { PLUS_DIR } from '../../lib/plus_files.ts';

/** A knob to write before the policy starts: a file under /sys/kernel/mm and its value. */
export interface KnobSetting {
  readonly path: string;
  readonly value: string;
}

export interface PredictOptions {
  readonly policy: Policy;
  readonly settings: readonly KnobSetting[];
  readonly seed: number;
  /** Full scans without change that count as settled (default 3). */
  readonly quiet?: number;
  readonly maxScans?: number;
  /**
   * Progress: pages loaded so far of `total`, then each full scan run. A promise they return
   * is awaited (the command line lets its event loop turn there).
   */
  readonly onLoad?: (done: number, total: number) => Promise<void> | void;
  readonly onScan?: (scans: number) => Promise<void> | void;
  /** Sample the counters for charts as the policy runs (the run's `samples`, for a report). */
  readonly samples?: boolean;
}

/** What the policy would achieve on the snapshotted processes. */
export interface Prediction {
  readonly policy: Policy;
  readonly processes: number;
  /** Anonymous pages loaded, and how many distinct contents they hold. */
  readonly pages: number;
  readonly distinct_pages: number;
  /** Pages merging would free: pages_sharing + ksm_zero_pages of the scanner. */
  readonly saving_pages: number;
  readonly pages_shared: number;
  readonly pages_sharing: number;
  readonly ksm_zero_pages: number;
  readonly rmap_items: number;
  readonly rmap_item_bytes: number;
  /** general_profit in bytes (for KSM+: pages_sharing * 4096 - rmap_items * 64). */
  readonly general_profit: number;
  /** Virtual seconds until the counters last changed, and scanner CPU seconds in all. */
  readonly settle_s: number;
  /**
   * Virtual seconds until pages_sharing (and the processes' merged pages) last changed: on
   * a live machine, the wall time from run=1 until the saving stops moving.
   */
  readonly merged_settle_s: number;
  readonly cpu_s: number;
  /** Virtual seconds the scanner ran in all (settling and the quiet scans after): cpu_s's span. */
  readonly run_s: number;
  readonly full_scans: number;
  /** Whether the contents were stand-ins for a hashes-only snapshot. */
  readonly synthetic_contents: boolean;
  /** plus: what the daemon marked, read and cost (docs/ksmplus-live.md). */
  readonly daemon?: DaemonFigures;
  /** Whether the counters settled; when not, why (the figures are then where it stopped). */
  readonly settled: boolean;
  readonly unsettled?: string;
  readonly by_process: Readonly<
    Record<
      string,
      {
        readonly pid: number;
        readonly comm: string;
        readonly pages: number;
        readonly ksm_merging_pages: number;
        readonly ksm_process_profit: number;
      }
    >
  >;
}

export interface PredictResult {
  readonly prediction: Prediction;
  /** Records as `samepage run` prints them: "loaded", one per full scan, "settled". */
  readonly run: RunResult;
}

/** A problem with the snapshot or the settings, said in words (the CLI exits 2). */
export class PredictError extends Error {
  override readonly name = 'PredictError';
}

/** The model's name of a snapshotted process: its comm and pid, unique within a snapshot. */
export function procName(p: Pick<SnapshotProcess, 'comm' | 'pid'>): string {
  return `${p.comm}:${p.pid}`;
}

/**
 * Resolves `--set` knobs: `name=value` is a file of the policy's directory (ksm or ksm+),
 * `dir/name=value` names the directory. run is the policy's to set.
 */
export function parseKnob(text: string, policy: Policy): KnobSetting {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new PredictError(`--set "${text}": expected knob=value, e.g. pages_to_scan=1000`);
  const name = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  const dir = policy === 'ksm' ? 'ksm' : policy === 'ksm+' ? 'ksm+' : PLUS_DIR;
  const path = name.includes('/') ? name : `${dir}/${name}`;
  if (/^(ksm|ksm\+|\/run\/samepage\/ksm\+)\/run$/.test(path))
    throw new PredictError(`--set ${name}: run is switched on by the policy; it cannot be set`);
  return { path, value };
}

/** Mappings that hold pages, checked: sorted, page aligned, not overlapping, pages inside. */
function mappingsOf(p: SnapshotProcess): Array<{ start: number; end: number }> {
  const used: Array<{ start: number; end: number }> = [];
  const vmas = [...p.vmas].sort((a, b) => a.start - b.start);
  let j = 0;
  const order = Array.from(p.addresses.keys()).sort((a, b) => p.addresses[a]! - p.addresses[b]!);
  let last = -1;
  for (const i of order) {
    const addr = p.addresses[i]!;
    if (addr % PAGE_SIZE !== 0)
      throw new PredictError(`process ${p.pid}: page address 0x${addr.toString(16)} is not page aligned`);
    if (addr === last) throw new PredictError(`process ${p.pid}: two pages at 0x${addr.toString(16)}`);
    last = addr;
    while (j < vmas.length && vmas[j]!.end <= addr) j++;
    const v = vmas[j];
    if (v === undefined || v.start > addr)
      throw new PredictError(`process ${p.pid}: page 0x${addr.toString(16)} lies in no mapping`);
    const prev = used.at(-1);
    if (prev === undefined || prev.start !== v.start) {
      if (v.start % PAGE_SIZE !== 0 || v.end % PAGE_SIZE !== 0 || v.end <= v.start) {
        throw new PredictError(
          `process ${p.pid}: mapping 0x${v.start.toString(16)}-0x${v.end.toString(16)} is not page aligned`,
        );
      }
      if (prev !== undefined && prev.end > v.start)
        throw new PredictError(`process ${p.pid}: mappings overlap at 0x${v.start.toString(16)}`);
      used.push({ start: v.start, end: v.end });
    }
  }
  return used;
}

/**
 * Stand-in bytes for content `index` of a hashes-only snapshot: exact for all-zero and
 * all-0xFF pages; otherwise the MD5 followed by splitmix64 words seeded from it, so distinct
 * contents stay distinct and never equal zero or ones.
 */
function standInPage(snap: Snapshot, index: number, out: Uint8Array): void {
  const cls = snap.classOf(index);
  if (cls === 'zero' || cls === 'ones') {
    out.fill(cls === 'zero' ? 0 : 0xff);
    return;
  }
  const md5 = snap.md5(index);
  out.set(md5, 0);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const seed = view.getBigUint64(0, true) ^ view.getBigUint64(8, true);
  for (let w = 2; w < PAGE_SIZE / 8; w++) view.setBigUint64(w * 8, splitmix64(seed + BigInt(w)), true);
}

/** Pages of every process of the snapshot. */
function snapshotPages(snap: Snapshot): number {
  return snap.processes.reduce((n, p) => n + p.addresses.length, 0);
}

/** A scenario shell for the model backend: a machine big enough, no steps. */
function machineFor(snap: Snapshot, name: string): Scenario {
  const pages = snapshotPages(snap);
  // Room for every page, for copies made when merged pages are written, and slack.
  const frames = pages * 2 + 4096;
  return {
    version: 1,
    name,
    description: undefined,
    machine: { ram: frames * PAGE_SIZE, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  };
}

/** Loads the snapshot's processes into a started model backend; returns the pages loaded. */
async function loadSnapshot(
  backend: ModelBackend,
  snap: Snapshot,
  onLoad?: (done: number, total: number) => Promise<void> | void,
): Promise<number> {
  const total = snapshotPages(snap);
  const ids = new Int32Array(snap.contentCount).fill(-1);
  const scratch = new Uint8Array(PAGE_SIZE);
  /** Snapshot frame number -> where it was first mapped. */
  const firstMapping = new Map<number, { proc: string; addr: number }>();
  let done = 0;
  try {
    for (const p of snap.processes) {
      const name = procName(p);
      await backend.spawn(name, p.comm);
      mappingsOf(p).forEach((m, i) => {
        backend.mmapAt(name, `map${i}`, m.start, m.end - m.start);
      });
      for (let i = 0; i < p.addresses.length; i++) {
        const addr = p.addresses[i]!;
        const frame = p.frames[i]!;
        const first = frame === 0 ? undefined : firstMapping.get(frame);
        if (first !== undefined) {
          backend.sharePage(name, addr, first.proc, first.addr);
        } else {
          if (frame !== 0) firstMapping.set(frame, { proc: name, addr });
          const c = p.contents[i]!;
          if (ids[c] === -1) {
            const bytes = snap.page(c);
            if (bytes === undefined) standInPage(snap, c, scratch);
            ids[c] = backend.internPage(bytes ?? scratch, 0);
          }
          backend.writePage(name, addr, ids[c]!);
        }
        if (++done % 4096 === 0) await onLoad?.(done, total);
      }
    }
    await onLoad?.(done, total);
    return done;
  } finally {
    for (const id of ids) if (id !== -1) backend.releasePage(id);
  }
}

/** Runs the prediction: load, switch the policy on for every process, settle. */
export async function predictSnapshot(snap: Snapshot, source: string, opts: PredictOptions): Promise<PredictResult> {
  if (snap.processes.length === 0) throw new PredictError(`${source} holds no process`);
  const backend = createModelBackend({ seed: opts.seed, samples: opts.samples === true });
  const scenario = machineFor(snap, source);
  await backend.start(scenario);
  for (const k of opts.settings) {
    const err = await backend.sysfsWrite(k.path, k.value);
    if (err !== 0) {
      const why = err === -2 ? 'no such file' : describeErrno(err);
      throw new PredictError(`--set ${k.path}=${k.value}: the write fails with ${why}`);
    }
  }
  const pages = await loadSnapshot(backend, snap, opts.onLoad);
  const loaded = await backend.record('loaded');
  if (opts.policy === 'ksm') {
    for (const p of snap.processes) await backend.prctl(procName(p), 'PR_SET_MEMORY_MERGE', 1);
  } else {
    const dir = opts.policy === 'ksm+' ? 'ksm+' : PLUS_DIR;
    for (const comm of new Set(snap.processes.map((p) => p.comm)))
      await backend.sysfsWrite(`${dir}/processes_to_scan`, `+ ${comm}`);
    await backend.sysfsWrite(`${dir}/run`, '1');
    if (opts.policy === 'plus') await backend.sysfsWrite('ksm/run', '1');
  }
  const run: RunResult = { scenario: source, backend: 'model', ok: true, records: [loaded], expects: [] };
  const settleOpts: { quiet?: number; maxScans?: number; onScan?: (n: number) => Promise<void> | void } = {};
  if (opts.quiet !== undefined) settleOpts.quiet = opts.quiet;
  if (opts.maxScans !== undefined) settleOpts.maxScans = opts.maxScans;
  if (opts.onScan !== undefined) settleOpts.onScan = opts.onScan;
  const result = await settle(backend, opts.policy, run, settleOpts);
  const settled = await backend.record('settled');
  const records: CounterRecord[] = [loaded, ...result.timeline, settled];
  return {
    prediction: summarize(snap, backend, result, pages, settled),
    run: { ...result.run, records },
  };
}

function summarize(
  snap: Snapshot,
  backend: ModelBackend,
  r: PolicyResult,
  pages: number,
  last: CounterRecord,
): Prediction {
  const sys = backend.system();
  const zero = r.policy === 'ksm+' ? sys.ksmplus.engine.zeroPages : sys.ksm.zeroPages;
  const distinct = new Set<number>();
  for (const p of snap.processes) for (const c of p.contents) distinct.add(c);
  const byProcess: Record<string, Prediction['by_process'][string]> = {};
  for (const p of snap.processes) {
    const rec = last.procs[procName(p)];
    byProcess[procName(p)] = {
      pid: p.pid,
      comm: p.comm,
      pages: p.addresses.length,
      ksm_merging_pages: rec?.ksm_merging_pages ?? 0,
      ksm_process_profit: rec?.ksm_process_profit ?? 0,
    };
  }
  return {
    policy: r.policy,
    processes: snap.processes.length,
    pages,
    distinct_pages: distinct.size,
    saving_pages: r.pages_sharing + zero,
    pages_shared: r.pages_shared,
    pages_sharing: r.pages_sharing,
    ksm_zero_pages: zero,
    rmap_items: r.rmap_items,
    rmap_item_bytes: r.rmap_item_bytes,
    general_profit: r.profit,
    settle_s: r.settle_s,
    merged_settle_s: r.merged_settle_s,
    cpu_s: r.cpu_s,
    run_s: r.run_s,
    full_scans: r.full_scans,
    synthetic_contents: snap.hashesOnly,
    settled: r.settled,
    ...(r.unsettled === undefined ? {} : { unsettled: r.unsettled }),
    by_process: byProcess,
    ...(r.daemon === undefined ? {} : { daemon: r.daemon }),
  };
}

/**
 * predictSnapshot on the snapshot file `file`, whose checksum is verified first
 * (`onVerify`: bytes checked of the total); the snapshot is closed after, whatever happens.
 */
export async function predictSnapshotFile(
  file: string,
  opts: PredictOptions & { readonly onVerify?: (done: number, total: number) => Promise<void> | void },
): Promise<PredictResult> {
  const read = await readSnapshot(file, opts);
  if (!read.ok) throw new Error(read.problem);
  try {
    return await predictSnapshot(read.snapshot, file, opts);
  } finally {
    read.snapshot.close();
  }
}
