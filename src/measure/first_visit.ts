/**
 * Passes of first visits after sleeps, for `samepage bench --calibrate`: what ksmd's batches
 * of first visits cost on the live kernel, against what the model's per-event constants
 * charge them, so that the rest can be fitted (cost.ts firstVisitNs, postSleepNoTreeNs).
 *
 * A page's first visit only takes its checksum (cmp_and_merge_page returns when the checksum
 * differs from the rmap_item's, and a new rmap_item has none), so a batch of first visits
 * searches no tree and pays no tree reload (Ksm.payReload). The kernel still spends more on
 * such a batch after a sleep than warm (docs/cost-model-journal.md, "The reload follows the trees").
 * A first visit happens once per page, so every reading is a new process: FIRST_VISIT_PAGES
 * random pages, madvised while ksmd runs. Linux inserts a new mm just behind ksmd's cursor
 * (__ksm_enter), so the process is first visited in the pass after the one that runs at the
 * madvise, whole. An anchor of ANCHOR_PAGES equal pages, merged into one KSM page first, keeps
 * ksmd scanning between the processes at no tree's cost: a page already on its KSM page
 * returns before any search. Every pass ends a batch (ksm_do_scan stops at the end of a
 * scan), and ksmd sleeps after it, so its CPU read at a change of full_scans is exact.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createKernelBackend } from '../backends/kernel/index.ts';
import type { KernelBackend } from '../backends/kernel/backend.ts';
import { findKsmdPid, holdPollerOffKsmd } from '../host/ksmd_affinity.ts';
import { KsmCounter } from '../host/ksm_sysfs.ts';
import { readSchedstat } from '../host/procfs.ts';
import { type CostModel, WAKEUP_NS } from '../ksm/cost.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { median } from '../lib/statistics.ts';
import type { FirstVisitPoint } from './fit.ts';
import { emptyScenario } from './empty_scenario.ts';
import { ksmWriter, type KsmWrite, type TimerOptions } from './timer.ts';

/** Pages of a measured pass: a fresh process's and the anchor's; a whole number of every batch below. */
export const FIRST_VISIT_PAGES = 10_000;
/** The anchor's equal pages (one KSM page after two passes). */
export const ANCHOR_PAGES = 16;
/** Batch sizes and sleeps: the timing grid's, less 100-page batches after 200 ms (a pass of 20 s). */
export const FIRST_VISIT_PLAN: ReadonlyArray<{ readonly pages: number; readonly sleeps: readonly number[] }> = [
  { pages: 100, sleeps: [1, 5, 20, 50] },
  { pages: 1000, sleeps: [1, 5, 20, 50, 200] },
  { pages: 5000, sleeps: [1, 5, 20, 50, 200] },
];
/** Fresh processes (passes) per batch size and sleep. */
export const FIRST_VISIT_READINGS = 3;
/** Tries to catch a pass's two boundaries before giving up on a reading. */
const TRIES = 3;

/** One pass of first visits: its ksmd CPU, wall time and queueing, read at its two boundaries. */
export interface FirstVisitPass {
  readonly cpuNs: number;
  readonly wallNs: number;
  readonly queuedNs: number;
}

/** One batch size after one sleep: the passes measured. */
export interface FirstVisitRow {
  readonly pages_to_scan: number;
  readonly sleep_millisecs: number;
  /** Batches (wake-ups) of a pass, from one boundary to the next (passBatches). */
  readonly batches: number;
  /** Mean wall time from a batch's end to the next one's start (pass wall less CPU, per batch), ns. */
  readonly slept_ns: number;
  /** ksmd's CPU of each pass, ns. */
  readonly pass_cpu_ns_each: readonly number[];
  /** How long ksmd waited for a CPU over the passes, ms (a busy machine stretches the sleeps). */
  readonly queued_ms: number;
}

/**
 * The batches of a pass of `pages`-page batches between two boundaries: a batch that ends
 * exactly at the pass's last page does not know the pass has ended; the next one finds it,
 * with no page (ksm_do_scan returns when scan_get_next_rmap_item has none), and counts the
 * full scan. So a pass is floor(FIRST_VISIT_PAGES / pages) + 1 wake-ups and sleeps.
 */
export function passBatches(pages: number): number {
  return Math.floor(FIRST_VISIT_PAGES / pages) + 1;
}

/** The batches of a pass that visit pages, and so take checksums. */
export function visitingBatches(pages: number): number {
  return Math.ceil(FIRST_VISIT_PAGES / pages);
}

/** A row from its passes. */
export function firstVisitRow(pages: number, sleepMs: number, passes: readonly FirstVisitPass[]): FirstVisitRow {
  const batches = passBatches(pages);
  const total = (k: keyof FirstVisitPass): number => passes.reduce((t, r) => t + r[k], 0);
  return {
    pages_to_scan: pages,
    sleep_millisecs: sleepMs,
    batches,
    slept_ns: Math.round((total('wallNs') - total('cpuNs')) / (passes.length * batches)),
    pass_cpu_ns_each: passes.map((r) => Math.round(r.cpuNs)),
    queued_ms: Math.round(total('queuedNs') / 1e4) / 100,
  };
}

/**
 * What the model charges such a pass without first-visit charges: every fresh page a visit
 * and a checksum, every anchor page a visit (it returns on its KSM page), every batch a
 * wake-up. No tree reload either: no page of it searches a tree.
 */
export function firstVisitPassNs(cost: CostModel, batches: number): number {
  const fresh = FIRST_VISIT_PAGES - ANCHOR_PAGES;
  return fresh * (cost.visitNs + cost.checksumNs) + ANCHOR_PAGES * cost.visitNs + batches * WAKEUP_NS;
}

/** A row as the first-visit fit takes it, against `cost`'s per-event constants: its median pass. */
export function firstVisitPoint(row: FirstVisitRow, cost: CostModel): FirstVisitPoint {
  const passNs = median(row.pass_cpu_ns_each);
  return {
    firstVisits: FIRST_VISIT_PAGES - ANCHOR_PAGES,
    batches: visitingBatches(row.pages_to_scan),
    sleptNs: row.slept_ns,
    residualNs: passNs - firstVisitPassNs(cost, row.batches),
    passNs,
  };
}

/** full_scans, pages_scanned and ksmd's schedstat, read together at a pass boundary. */
interface Boundary {
  readonly fullScans: number;
  readonly scanned: number;
  readonly runtimeNs: number;
  readonly waitNs: number;
  readonly atNs: number;
}

/** The live counters and ksmd's CPU, read at pass boundaries. */
class Boundaries {
  readonly #fullScans = new KsmCounter('full_scans');
  readonly #scanned = new KsmCounter('pages_scanned');
  readonly #ksmd: number;

  constructor(ksmd: number) {
    this.#ksmd = ksmd;
  }

  read(): Boundary {
    const s = readSchedstat(this.#ksmd);
    if (s === undefined) throw new Error(`first visits: /proc/${this.#ksmd}/schedstat is gone`);
    return {
      fullScans: this.#fullScans.read(),
      scanned: this.#scanned.read(),
      runtimeNs: s.runtimeNs,
      waitNs: s.waitNs,
      atNs: performance.now() * 1e6,
    };
  }

  /** Every boundary from now until `done` holds of the last one, polled each millisecond. */
  async until(done: (b: Boundary, seen: readonly Boundary[]) => boolean, limitMs: number): Promise<Boundary[]> {
    const seen: Boundary[] = [];
    let last = this.#fullScans.read();
    const begin = performance.now();
    for (;;) {
      if (performance.now() - begin > limitMs) throw new Error(`first visits: no pass ended in ${limitMs} ms`);
      await sleep(1);
      const f = this.#fullScans.read();
      if (f === last) continue;
      const b = this.read();
      last = b.fullScans;
      seen.push(b);
      if (done(b, seen)) return seen;
    }
  }

  close(): void {
    this.#fullScans.close();
    this.#scanned.close();
  }
}

/**
 * The pass between two consecutive boundaries that visited the whole fresh process and the
 * anchor (one full scan of FIRST_VISIT_PAGES pages), if the poll caught both its ends.
 */
export function passOf(seen: readonly Boundary[]): FirstVisitPass | undefined {
  for (let i = 1; i < seen.length; i++) {
    const a = seen[i - 1]!;
    const b = seen[i]!;
    if (b.fullScans - a.fullScans === 1 && b.scanned - a.scanned === FIRST_VISIT_PAGES)
      return { cpuNs: b.runtimeNs - a.runtimeNs, wallNs: b.atNs - a.atNs, queuedNs: b.waitNs - a.waitNs };
  }
  return undefined;
}

/** One pass of a fresh process's first visits at the knobs in force; the process exits after. */
async function firstVisitPass(
  backend: KernelBackend,
  bounds: Boundaries,
  name: string,
  seed: number,
  passLimitMs: number,
): Promise<FirstVisitPass | undefined> {
  await backend.spawn(name, 'sp-firstvisit');
  let pass: FirstVisitPass | undefined;
  try {
    await backend.mmap(name, 'r', (FIRST_VISIT_PAGES - ANCHOR_PAGES) * PAGE_SIZE, false, undefined);
    await backend.fill(name, 'r', { kind: 'random', seed: BigInt(seed) }, 0, undefined);
    const start = bounds.read();
    if ((await backend.madvise(name, 'r', 'MADV_MERGEABLE', 0, undefined)) !== 0)
      throw new Error('first visits: madvise(MADV_MERGEABLE) failed on the kernel');
    // The passes running at the madvise, the fresh one, and one more to be sure of its end.
    const seen = await bounds.until((b) => b.scanned - start.scanned >= FIRST_VISIT_PAGES + ANCHOR_PAGES, passLimitMs);
    pass = passOf([start, ...seen]);
  } finally {
    await backend.exit(name);
  }
  // The next pass frees the exited process's rmap_items; the one after is the anchor's alone.
  await bounds.until((_b, seen) => seen.length >= 2, passLimitMs);
  return pass;
}

/** Merges the anchor: two passes make its equal pages one KSM page. */
async function mergeAnchor(backend: KernelBackend, write: KsmWrite, bounds: Boundaries): Promise<void> {
  await backend.spawn('anchor', 'sp-anchor');
  await backend.mmap('anchor', 'r', ANCHOR_PAGES * PAGE_SIZE, false, undefined);
  await backend.fill('anchor', 'r', { kind: 'byte', byte: 0x5a }, 0, undefined);
  if ((await backend.madvise('anchor', 'r', 'MADV_MERGEABLE', 0, undefined)) !== 0)
    throw new Error('first visits: madvise(MADV_MERGEABLE) failed on the kernel');
  write('pages_to_scan', '100');
  write('sleep_millisecs', '1');
  write('run', '1');
  const sharing = new KsmCounter('pages_sharing');
  try {
    await bounds.until(() => sharing.read() === ANCHOR_PAGES - 1, 10_000);
  } finally {
    sharing.close();
  }
}

/** Measures passes of first visits after each sleep of the plan on the live kernel. */
export async function measureFirstVisits(opts: TimerOptions): Promise<FirstVisitRow[]> {
  const backend = createKernelBackend({ lockWaitMs: opts.lockWaitMs, onWarning: opts.warn });
  const write = ksmWriter(backend);
  const rows: FirstVisitRow[] = [];
  try {
    opts.progress('first visits: waiting for the KSM lock and starting');
    await backend.start(emptyScenario('calibrate-first-visits', (FIRST_VISIT_PAGES * 2 + 4096) * PAGE_SIZE));
    const ksmd = findKsmdPid();
    if (ksmd === undefined || readSchedstat(ksmd) === undefined)
      throw new Error('first visits: no ksmd with /proc/<pid>/schedstat to read its CPU time from');
    const restoreSelf = holdPollerOffKsmd(ksmd, 'first visits', opts.warn);
    const bounds = new Boundaries(ksmd);
    try {
      write('smart_scan', '0');
      await mergeAnchor(backend, write, bounds);
      let seed = 1;
      for (const { pages, sleeps } of FIRST_VISIT_PLAN) {
        write('pages_to_scan', String(pages));
        for (const s of sleeps) {
          opts.progress(`first visits: ${pages} pages a batch after sleeps of ${s} ms`);
          write('sleep_millisecs', String(s));
          const limitMs = 10_000 + 4 * passBatches(pages) * (s + 10);
          const passes: FirstVisitPass[] = [];
          for (let tries = 0; passes.length < FIRST_VISIT_READINGS && tries < FIRST_VISIT_READINGS * TRIES; tries++) {
            const pass = await firstVisitPass(backend, bounds, `f${seed}`, seed++, limitMs);
            if (pass !== undefined) passes.push(pass);
          }
          if (passes.length === 0)
            throw new Error(`first visits: no pass at ${pages} pages and ${s} ms had both its ends seen`);
          rows.push(firstVisitRow(pages, s, passes));
        }
      }
    } finally {
      // backend.stop() puts every KSM file back in any case; run=0 first stops ksmd now.
      try {
        write('run', '0');
      } finally {
        bounds.close();
        restoreSelf();
      }
    }
  } finally {
    await backend.stop();
  }
  return rows;
}
