#!/usr/bin/env node
// Runs the worked traces of ../shared/reference/linux-6.18-ksm.md section 12 on the live
// kernel through the kernel backend, prints the counters beside the reference's figures,
// and saves everything to test/kernel-truth/traces.json (with the date and `uname -r`), so
// model tests can assert kernel-measured numbers instead of hand-derived ones.
//
//   node --import tsx scripts/kernel-probe.mjs [--out FILE]
//
// Needs root and a writable /sys/kernel/mm/ksm; every knob is restored afterwards.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The backend is TypeScript: load it through tsx, re-running ourselves under it if needed. */
async function loadBackend() {
  try {
    const kernel = await import('../src/backends/kernel/index.ts');
    const testing = await import('../src/backends/kernel/testing.ts');
    return { ...kernel, ...testing };
  } catch (err) {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || process.env.SAMEPAGE_PROBE_REEXEC) throw err;
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      cwd: root,
      env: { ...process.env, SAMEPAGE_PROBE_REEXEC: '1' },
    });
    process.exit(r.status ?? 1);
  }
}

const { createKernelBackend, BackendUnavailable, bareScenario } = await loadBackend();

const outIndex = process.argv.indexOf('--out');
const outFile = outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'test', 'kernel-truth', 'traces.json');
const PAGE = 4096;
const FAST = [
  ['pages_to_scan', '1000'],
  ['sleep_millisecs', '20'],
];

/** Global counters worth comparing, in the reference's S/G/U/V notation plus the rest. */
function pick(rec) {
  const k = rec.ksm;
  return {
    full_scans: k.full_scans,
    pages_shared: k.pages_shared,
    pages_sharing: k.pages_sharing,
    pages_unshared: k.pages_unshared,
    pages_volatile: k.pages_volatile,
    pages_scanned: k.pages_scanned,
    pages_skipped: k.pages_skipped,
    ksm_zero_pages: k.ksm_zero_pages,
    stable_node_chains: k.stable_node_chains,
    stable_node_dups: k.stable_node_dups,
    general_profit: k.general_profit,
  };
}

/** One trace: a fresh backend (start writes run=2), the body, always stopped. */
async function trace(name, description, ksm, body) {
  const backend = createKernelBackend({
    onWarning: (m) => process.stderr.write(`warning (${name}): ${m}\n`),
    lockWaitMs: 120_000,
  });
  const records = [];
  const snap = async (label, reference) => {
    const rec = await backend.record(label);
    const { time_ms: _time, ...stable } = rec;
    records.push({ ...stable, reference: reference ?? {} });
  };
  const wait = async (n) => {
    const reason = await backend.wait(n, undefined);
    if (reason !== undefined) throw new Error(`${name}: ${reason}`);
  };
  await backend.start(bareScenario(name, ksm));
  try {
    await body(backend, { snap, wait });
  } finally {
    await backend.stop();
  }
  return { name, description, ksm: Object.fromEntries(ksm), records };
}

/** A proc with `pages` pages of `pattern`, MADV_MERGEABLE, and run=1 (applied in waits). */
async function mergeable(b, proc, pages, pattern) {
  await b.spawn(proc, `sp-${proc}`);
  await b.mmap(proc, 'r', pages * PAGE, false, undefined);
  await b.fill(proc, 'r', pattern, 0, undefined);
  const r = await b.madvise(proc, 'r', 'MADV_MERGEABLE', 0, undefined);
  if (r !== 0) throw new Error(`madvise failed: ${r}`);
  await b.sysfsWrite('ksm/run', '1');
}

const STAR = { kind: 'byte', byte: 0x2a }; // '*', as ksm_tests uses

const traces = [];
try {
  traces.push(
    await trace(
      'ten-identical-pages',
      "10 pages of '*' (ksm_tests -M -p 10): pages_to_scan=10 as in ksm_tests, one full scan per wait",
      [
        ['pages_to_scan', '10'],
        ['sleep_millisecs', '20'],
      ],
      async (b, { snap, wait }) => {
        await mergeable(b, 'a', 10, STAR);
        await wait(1);
        await snap('pass 1', { full_scans: 1, pages_shared: 0, pages_sharing: 0, pages_unshared: 0, pages_volatile: 10, 'a.ksm_rmap_items': 10 });
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
    ),
  );

  traces.push(
    await trace(
      'two-merged-pages-both-written',
      "2 pages of '*' merged over 2 full scans, then byte 0 of page 0 set to '-' and of page 1 to '+' (ksm_tests -U), one more full scan",
      FAST,
      async (b, { snap, wait }) => {
        await mergeable(b, 'a', 2, STAR);
        await wait(2);
        await snap('merged', { pages_shared: 1, pages_sharing: 1 });
        await b.write('a', 'r', 0, Uint8Array.of(0x2d));
        await b.write('a', 'r', PAGE, Uint8Array.of(0x2b));
        await snap('written, before the next scan', { pages_shared: 1, pages_sharing: 1 });
        await wait(1);
        await snap('pass after the writes', { pages_shared: 0, pages_sharing: 0, pages_unshared: 0, pages_volatile: 2, 'a.ksm_rmap_items': 2 });
      },
    ),
  );

  traces.push(
    await trace(
      'two-merged-pages-one-written',
      "2 pages of '*' merged, then only page 0 written; the KSM page keeps one mapping",
      FAST,
      async (b, { snap, wait }) => {
        await mergeable(b, 'a', 2, STAR);
        await wait(2);
        await b.write('a', 'r', 0, Uint8Array.of(0x2d));
        await wait(1);
        await snap('pass after the write', { pages_shared: 1, pages_sharing: 0 });
        await wait(1);
        await snap('one pass later', { pages_shared: 1, pages_sharing: 0 });
      },
    ),
  );

  traces.push(
    await trace(
      'ten-zero-pages-use-zero-pages',
      '10 pages filled with zeros, use_zero_pages=1, passes 1 to 3',
      [...FAST, ['use_zero_pages', '1']],
      async (b, { snap, wait }) => {
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
    ),
  );

  // Section 12 trace 4: which pass processes (U) and which skips (V, pages_skipped+1).
  const staticRef = { 1: 'V', 2: 'U', 3: 'U', 4: 'U', 5: 'skip', 6: 'U', 7: 'skip', 8: 'skip', 9: 'U', 10: 'skip', 11: 'skip', 12: 'skip', 13: 'skip', 14: 'U', 15: 'skip' };
  traces.push(
    await trace(
      'one-unique-static-page-smart-scan',
      'one page of random content (seed 1), never merged, smart_scan=1, passes 1 to 15',
      [...FAST, ['smart_scan', '1']],
      async (b, { snap, wait }) => {
        await mergeable(b, 'a', 1, { kind: 'random', seed: 1n });
        let skipped = 0;
        for (let pass = 1; pass <= 15; pass++) {
          await wait(1);
          const want = staticRef[pass];
          const ref =
            want === 'V'
              ? { pages_unshared: 0, pages_volatile: 1, pages_skipped: skipped }
              : want === 'U'
                ? { pages_unshared: 1, pages_volatile: 0, pages_skipped: skipped }
                : { pages_unshared: 0, pages_volatile: 1, pages_skipped: ++skipped };
          await snap(`pass ${pass}`, ref);
        }
      },
    ),
  );

  traces.push(
    await trace(
      'fork-after-ten-merged-pages',
      "10 pages of '*' merged over 2 full scans, then fork; one and two more full scans",
      FAST,
      async (b, { snap, wait }) => {
        await mergeable(b, 'a', 10, STAR);
        await wait(2);
        await snap('merged', { pages_shared: 1, pages_sharing: 9 });
        await b.fork('a', 'c');
        await snap('forked', { pages_shared: 1, pages_sharing: 9, 'c.ksm_merging_pages': 0, 'c.ksm_rmap_items': 0 });
        await wait(1);
        await snap('pass after fork', { pages_shared: 1, pages_sharing: 19, 'c.ksm_merging_pages': 10, 'c.ksm_rmap_items': 10 });
        await wait(1);
        await snap('second pass after fork', { pages_shared: 1, pages_sharing: 19 });
      },
    ),
  );

  for (const pages of [512, 513]) {
    traces.push(
      await trace(
        `${pages}-identical-pages`,
        `${pages} pages of 0xcf (ksm_functional_tests' 2 MiB), max_page_sharing 256, 2 full scans`,
        FAST,
        async (b, { snap, wait }) => {
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
      ),
    );
  }
} catch (err) {
  if (err instanceof BackendUnavailable) {
    process.stderr.write(`kernel-probe: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

/** Compares each record with its reference figures (proc fields as `proc.field`). */
function actual(rec, key) {
  const dot = key.indexOf('.');
  return dot < 0 ? rec.ksm[key] : rec.procs[key.slice(0, dot)]?.[key.slice(dot + 1)];
}
let disagreements = 0;
for (const t of traces) {
  process.stdout.write(`\n${t.name}: ${t.description}\n`);
  for (const rec of t.records) {
    const diffs = [];
    for (const [key, want] of Object.entries(rec.reference)) {
      const got = actual(rec, key);
      if (got !== want) diffs.push(`${key} kernel ${got} reference ${want}`);
    }
    rec.agrees_with_reference = diffs.length === 0;
    disagreements += diffs.length;
    const procs = Object.entries(rec.procs)
      .map(([p, s]) => `${p}: rmap ${s.ksm_rmap_items} merging ${s.ksm_merging_pages} zero ${s.ksm_zero_pages} rss ${s.rss_pages}`)
      .join('; ');
    process.stdout.write(`  ${rec.label}: ${JSON.stringify(pick(rec))} ${procs}\n`);
    for (const d of diffs) process.stdout.write(`    DISAGREES: ${d}\n`);
  }
}

const uname = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim() || release();
const result = {
  generated: new Date().toISOString(),
  uname_r: uname,
  source: 'scripts/kernel-probe.mjs; traces of ../shared/reference/linux-6.18-ksm.md section 12',
  notes:
    'Each trace starts from run=2 (all unmerged, full_scans 0). pages_scanned and pages_skipped are growth since the ' +
    "trace's start. ksmd is held (run=0) between waits. `reference` lists the document's figures for that record.",
  traces,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\n${disagreements} disagreement(s) with the reference; wrote ${outFile}\n`);
