/**
 * The workloads behind test/kernel-truth/traces.json, written once against the Backend
 * interface so the same steps run on the live kernel (scripts/kernel-probe.mjs records them)
 * and on the model (test/kernel-traces.test.ts replays them and compares every counter).
 *
 * Each probe starts from run=2 (nothing merged, full_scans 0), takes its `ksm` values, and
 * snapshots the counters with `snap`. `reference` holds the figures that mm/ksm.c, read by
 * hand before the kernel was asked, predicts for that record: the probe prints
 * where the kernel disagrees with them; the test compares the model with the kernel itself.
 */
import type { Backend } from '../../src/scenario/backend.ts';
import type { Pattern } from '../../src/lib/patterns.ts';
import type { CounterRecord } from '../../src/scenario/records.ts';
import { bareScenario } from '../../src/backends/kernel/testing.ts';

const PAGE = 4096;

/** Reference figures of one record: global files by name, process fields as `proc.field`. */
export type Reference = Readonly<Record<string, number | string>>;

export interface ProbeContext {
  /** Records every counter now, with the figures the reference predicts. */
  snap(label: string, reference?: Reference): Promise<void>;
  /** Waits for `n` full scans; throws if they can never complete. */
  wait(n: number): Promise<void>;
}

export interface Probe {
  readonly name: string;
  readonly description: string;
  readonly ksm: ReadonlyArray<readonly [string, string]>;
  readonly body: (b: Backend, t: ProbeContext) => Promise<void>;
}

const FAST: ReadonlyArray<readonly [string, string]> = [
  ['pages_to_scan', '1000'],
  ['sleep_millisecs', '20'],
];

/** '*', as ksm_tests fills its pages. */
const STAR: Pattern = { kind: 'byte', byte: 0x2a };

/** A proc with `pages` pages of `pattern`, MADV_MERGEABLE, and run=1 (applied in waits). */
async function mergeable(b: Backend, proc: string, pages: number, pattern: Pattern): Promise<void> {
  await b.spawn(proc, `sp-${proc}`);
  await b.mmap(proc, 'r', pages * PAGE, false, undefined);
  await b.fill(proc, 'r', pattern, 0, undefined);
  const r = await b.madvise(proc, 'r', 'MADV_MERGEABLE', 0, undefined);
  if (r !== 0) throw new Error(`madvise failed: ${r}`);
  await b.sysfsWrite('ksm/run', '1');
}

/**
 * Which visits of a page that never merges smart_scan processes, from should_skip_rmap_item
 * and skip_age in mm/ksm.c: the first four, then after each processed visit at age a
 * (ages count from 0) skip skip_age(a) visits.
 */
export function smartScanProcessedVisits(visits: number): Set<number> {
  const skipAge = (age: number): number => (age <= 3 ? 1 : age <= 5 ? 2 : age <= 8 ? 4 : 8);
  const processed = new Set<number>();
  let remaining = 0;
  for (let visit = 1, age = 0; visit <= visits; visit++, age = Math.min(age + 1, 255)) {
    if (age < 3) processed.add(visit);
    else if (remaining === 0) {
      remaining = skipAge(age);
      processed.add(visit);
    } else remaining--;
  }
  return processed;
}

const SMART_SCAN_PASSES = 45;

/**
 * Chain pruning, observable at a full-scan boundary. max_page_sharing 3 and smart_scan off
 * (so no visit is skipped). b's 3 pages of '*' become KSM page K1 (full); later a's 3 pages
 * of '*' make K2, and since K1 is full, a chain [K2, K1]. Then every mapping of K1 is written
 * (K1's page is freed: a stale dup at the chain's tail) and a's first page is rewritten with
 * the same byte (a private copy of '*'). In the next pass a's first page, visited before b's
 * pages, searches the stable tree: with pruning due, stable_node_dup walks every dup, drops
 * K1 and collapses the chain into K2; without, it stops at K2 (a candidate at the head) and
 * K1 lingers until b's items are visited, leaving a chain of one dup until the next walk.
 * `pruneMs` is 0 (always due) or an hour (never due within the trace), so the outcome does
 * not depend on timing; `idleMs` holds ksmd that long before the searching pass.
 */
export function chainPruneProbe(name: string, pruneMs: string, due: boolean, idleMs = 0): Probe {
  return {
    name,
    description:
      `stable_node_chains_prune_millisecs=${pruneMs}: a chain [K2, K1] whose tail dup K1 goes stale, ` +
      `then met by a stable tree search ${due ? 'with pruning due' : 'with pruning not due'}` +
      (idleMs > 0 ? ` (ksmd held ${idleMs} ms before the search)` : ''),
    ksm: [...FAST, ['max_page_sharing', '3'], ['smart_scan', '0'], ['stable_node_chains_prune_millisecs', pruneMs]],
    body: async (b, { snap, wait }) => {
      // a is registered first, so ksmd visits a's pages before b's in every pass.
      await b.spawn('a', 'sp-a');
      await b.mmap('a', 'r', 3 * PAGE, false, undefined);
      await b.fill('a', 'r', { kind: 'word-index' }, 0, undefined);
      if ((await b.madvise('a', 'r', 'MADV_MERGEABLE', 0, undefined)) !== 0) throw new Error('madvise a failed');
      await mergeable(b, 'b', 3, STAR);
      await wait(2);
      await snap('K1 from b', { pages_shared: 1, pages_sharing: 2, pages_unshared: 3, stable_node_chains: 0 });
      await b.fill('a', 'r', STAR, 0, undefined);
      await wait(1);
      await snap('a changed', { pages_shared: 1, pages_sharing: 2, pages_unshared: 0, pages_volatile: 3 });
      await wait(1);
      await snap('chain of K2 and K1', {
        pages_shared: 2,
        pages_sharing: 4,
        stable_node_chains: 1,
        stable_node_dups: 2,
      });
      for (let page = 0; page < 3; page++) await b.write('b', 'r', page * PAGE, Uint8Array.of(page + 1));
      await b.write('a', 'r', 0, Uint8Array.of(0x2a));
      if (idleMs > 0) {
        await b.sysfsWrite('ksm/run', '0');
        await b.wait('ms', idleMs);
        await b.sysfsWrite('ksm/run', '1');
      }
      await wait(1);
      await snap(
        'after the search',
        due
          ? { pages_shared: 1, pages_sharing: 2, pages_volatile: 3, stable_node_chains: 0, stable_node_dups: 0 }
          : { pages_shared: 1, pages_sharing: 2, pages_volatile: 3, stable_node_chains: 1, stable_node_dups: 1 },
      );
      await wait(1);
      await snap('one pass later', {
        pages_shared: 1,
        pages_sharing: 2,
        pages_unshared: 3,
        stable_node_chains: 0,
        stable_node_dups: 0,
      });
    },
  };
}

export const PROBES: readonly Probe[] = [
  {
    name: 'ten-identical-pages',
    description: "10 pages of '*' (ksm_tests -M -p 10): pages_to_scan=10 as in ksm_tests, one full scan per wait",
    ksm: [
      ['pages_to_scan', '10'],
      ['sleep_millisecs', '20'],
    ],
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 10, STAR);
      await wait(1);
      await snap('pass 1', {
        full_scans: 1,
        pages_shared: 0,
        pages_sharing: 0,
        pages_unshared: 0,
        pages_volatile: 10,
        'a.ksm_rmap_items': 10,
      });
      await wait(1);
      await snap('pass 2', {
        full_scans: 2,
        pages_shared: 1,
        pages_sharing: 9,
        pages_unshared: 0,
        pages_volatile: 0,
        general_profit: 36224,
        'a.ksm_rmap_items': 10,
        'a.ksm_merging_pages': 10,
      });
    },
  },
  {
    name: 'two-merged-pages-both-written',
    description:
      "2 pages of '*' merged over 2 full scans, then byte 0 of page 0 set to '-' and of page 1 to '+' (ksm_tests -U), one more full scan",
    ksm: FAST,
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 2, STAR);
      await wait(2);
      await snap('merged', { pages_shared: 1, pages_sharing: 1 });
      await b.write('a', 'r', 0, Uint8Array.of(0x2d));
      await b.write('a', 'r', PAGE, Uint8Array.of(0x2b));
      await snap('written, before the next scan', { pages_shared: 1, pages_sharing: 1 });
      await wait(1);
      await snap('pass after the writes', {
        pages_shared: 0,
        pages_sharing: 0,
        pages_unshared: 0,
        pages_volatile: 2,
        'a.ksm_rmap_items': 2,
      });
    },
  },
  {
    name: 'two-merged-pages-one-written',
    description: "2 pages of '*' merged, then only page 0 written; the KSM page keeps one mapping",
    ksm: FAST,
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 2, STAR);
      await wait(2);
      await b.write('a', 'r', 0, Uint8Array.of(0x2d));
      await wait(1);
      await snap('pass after the write', { pages_shared: 1, pages_sharing: 0 });
      await wait(1);
      await snap('one pass later', { pages_shared: 1, pages_sharing: 0 });
    },
  },
  {
    name: 'ten-zero-pages-use-zero-pages',
    description: '10 pages filled with zeros, use_zero_pages=1, passes 1 to 3',
    ksm: [...FAST, ['use_zero_pages', '1']],
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 10, { kind: 'zero' });
      await wait(1);
      await snap('pass 1', { pages_volatile: 10, ksm_zero_pages: 0 });
      await wait(1);
      await snap('pass 2', {
        pages_shared: 0,
        pages_sharing: 0,
        ksm_zero_pages: 10,
        pages_volatile: 10,
        general_profit: 40320,
        'a.ksm_rmap_items': 10,
      });
      await wait(1);
      await snap('pass 3', { pages_volatile: 0, ksm_zero_pages: 10, general_profit: 40960, 'a.ksm_rmap_items': 0 });
    },
  },
  {
    // Section 12 trace 4: which passes process the page (V on its first, U after) and
    // which skip it (V, pages_skipped + 1).
    name: 'one-unique-static-page-smart-scan',
    description: `one page of random content (seed 1), never merged, smart_scan=1, passes 1 to ${SMART_SCAN_PASSES}`,
    ksm: [...FAST, ['smart_scan', '1']],
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 1, { kind: 'random', seed: 1n });
      const processed = smartScanProcessedVisits(SMART_SCAN_PASSES);
      let skipped = 0;
      for (let pass = 1; pass <= SMART_SCAN_PASSES; pass++) {
        await wait(1);
        if (!processed.has(pass)) skipped++;
        const unshared = pass > 1 && processed.has(pass) ? 1 : 0;
        await snap(`pass ${pass}`, {
          pages_unshared: unshared,
          pages_volatile: 1 - unshared,
          pages_skipped: skipped,
          pages_scanned: pass - skipped,
        });
      }
    },
  },
  {
    name: 'fork-after-ten-merged-pages',
    description: "10 pages of '*' merged over 2 full scans, then fork; one and two more full scans",
    ksm: FAST,
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 10, STAR);
      await wait(2);
      await snap('merged', { pages_shared: 1, pages_sharing: 9 });
      await b.fork('a', 'c');
      await snap('forked', { pages_shared: 1, pages_sharing: 9, 'c.ksm_merging_pages': 0, 'c.ksm_rmap_items': 0 });
      await wait(1);
      await snap('pass after fork', {
        pages_shared: 1,
        pages_sharing: 19,
        'c.ksm_merging_pages': 10,
        'c.ksm_rmap_items': 10,
      });
      await wait(1);
      await snap('second pass after fork', { pages_shared: 1, pages_sharing: 19 });
    },
  },
  ...[512, 513].map(
    (pages): Probe => ({
      name: `${pages}-identical-pages`,
      description: `${pages} pages of 0xcf (ksm_functional_tests' 2 MiB), max_page_sharing 256, 2 full scans`,
      ksm: FAST,
      body: async (b, { snap, wait }) => {
        await mergeable(b, 'a', pages, { kind: 'byte', byte: 0xcf });
        await wait(2);
        await snap('pass 2', {
          pages_shared: 2,
          pages_sharing: 510,
          pages_unshared: pages - 512,
          stable_node_chains: 1,
          stable_node_dups: 2,
          'a.ksm_merging_pages': 512,
        });
      },
    }),
  ),
  {
    // scan_time_advisor in mm/ksm.c, by hand: every pass here takes under a second, so
    // scan_time is 1, factor = 200*100/1 = 20000 and change = 1*100/1 = 100, smoothed from
    // a context of 0 to 30, then 51, 65.7... So pages = pages_to_scan*100/20000*change/100
    // is 0 while pages_to_scan < 200, and the floor per_page_cost*10 (KSM_ADVISOR_MIN_CPU)
    // decides. per_page_cost = pages_to_scan/cpu_percent: in the first pass the CPU time
    // counted is ksmd's whole runtime since boot (the context starts at 0), so it depends on
    // the machine (about 2 when ksmd has run 2.5 s); in later passes ksmd uses a few ms per
    // second (cpu_percent 1), so pages_to_scan grows tenfold per pass up to
    // advisor_max_pages_to_scan.
    name: 'advisor-scan-time',
    description:
      "100 pages of '*' with advisor_mode=scan-time (defaults otherwise), pages_to_scan after each of 5 full scans",
    ksm: [
      ['sleep_millisecs', '20'],
      ['advisor_mode', 'scan-time'],
    ],
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 100, STAR);
      await snap('switched', { pages_to_scan: 500, advisor_mode: 'scan-time' });
      await wait(1);
      await snap('pass 1');
      for (let pass = 2; pass <= 5; pass++) {
        const before = Number(await b.readPath('/sys/kernel/mm/ksm/pages_to_scan'));
        await wait(1);
        await snap(`pass ${pass}`, { pages_to_scan: Math.min(before * 10, 30000) });
      }
    },
  },
  {
    // scan_time_advisor's C types, from mm/ksm.c: pages_to_scan * 100 is computed in unsigned
    // int (wraps at 2^32), advisor_target_scan_time * 100 in unsigned long (184467440737095517
    // * 100 wraps to 84), per_page_cost * advisor_max_cpu in unsigned long, and the result goes
    // into the unsigned int pages_to_scan (low 32 bits). Every pass is one batch of well under
    // a second (scan_time 1); after the first (which counts ksmd's whole runtime), ksmd's CPU
    // share is 1%, so the floor per_page_cost * 10 = pages_to_scan * 10 decides and grows
    // tenfold per pass until it passes 2^32 and is cut to its low 32 bits.
    name: 'advisor-c-types',
    description:
      "100 pages of '*' with the scan-time advisor at extreme limits: pages_to_scan after each of 6 full scans",
    ksm: [
      ['sleep_millisecs', '20'],
      ['advisor_max_cpu', '4294967295'],
      ['advisor_max_pages_to_scan', '18446744073709551615'],
      ['advisor_target_scan_time', '184467440737095517'],
      ['advisor_min_pages_to_scan', '4294967295'],
      ['advisor_mode', 'scan-time'],
    ],
    body: async (b, { snap, wait }) => {
      await mergeable(b, 'a', 100, STAR);
      await snap('switched', { pages_to_scan: 4294967295, advisor_mode: 'scan-time' });
      for (let pass = 1; pass <= 6; pass++) {
        await wait(1);
        await snap(`pass ${pass}`);
      }
    },
  },
  chainPruneProbe('chain-prune-due', '0', true),
  chainPruneProbe('chain-prune-not-due', '3600000', false),
  // The default period: the search comes some 20 ms after the chain's creation, or after
  // ksmd was held for 2.5 s (margins wide enough for a real machine's timing).
  chainPruneProbe('chain-prune-2000-soon', '2000', false),
  chainPruneProbe('chain-prune-2000-after-idle', '2000', true, 2500),
];

/** A record of a probe: the counters (no time: the kernel's is wall time) and the prediction. */
export type ProbeRecord = Omit<CounterRecord, 'time_ms'> & { readonly reference: Reference };

/**
 * Runs a probe on a backend from start to stop. `afterStart` runs once the backend has
 * reset KSM and written the probe's values, before the first step.
 */
export async function runProbe(b: Backend, probe: Probe, afterStart?: () => void): Promise<ProbeRecord[]> {
  const records: ProbeRecord[] = [];
  const snap = async (label: string, reference: Reference = {}): Promise<void> => {
    const { time_ms: _time, ...counters } = await b.record(label);
    records.push({ ...counters, reference });
  };
  const wait = async (n: number): Promise<void> => {
    const reason = await b.wait('full_scans', n);
    if (reason !== undefined) throw new Error(`${probe.name}: ${reason}`);
  };
  await b.start(bareScenario(probe.name, probe.ksm));
  try {
    afterStart?.();
    await probe.body(b, { snap, wait });
  } finally {
    await b.stop();
  }
  return records;
}
