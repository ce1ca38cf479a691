#!/usr/bin/env node
// Runs the probes of test/kernel-truth/probes.ts (traces worked out by hand from mm/ksm.c
// before the kernel was asked, and more) on the live kernel through the
// kernel backend, prints the counters beside the reference's figures, and saves everything
// to test/kernel-truth/traces.json (with the date and `uname -r`), which
// test/kernel-traces.test.ts replays on the model. `--only a,b` re-records those probes and
// keeps the other traces of the file.
//
//   node --import tsx scripts/kernel-probe.mjs [--out FILE] [--only NAME,...]
//
// Needs root and a writable /sys/kernel/mm/ksm; every knob is restored afterwards.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The backend is TypeScript: load it through tsx, re-running ourselves under it if needed. */
async function loadBackend() {
  try {
    const kernel = await import('../src/backends/kernel/index.ts');
    const testing = await import('../src/backends/kernel/testing.ts');
    const probes = await import('../test/kernel-truth/probes.ts');
    return { ...kernel, ...testing, ...probes };
  } catch (err) {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || process.env.SAMEPAGE_PROBE_REEXEC) throw err;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
      {
        stdio: 'inherit',
        cwd: root,
        env: { ...process.env, SAMEPAGE_PROBE_REEXEC: '1' },
      },
    );
    process.exit(r.status ?? 1);
  }
}

const { createKernelBackend, BackendUnavailable, PROBES, runProbe } = await loadBackend();

const outIndex = process.argv.indexOf('--out');
const outFile = outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'test', 'kernel-truth', 'traces.json');

/** Global counters worth printing, in the reference's S/G/U/V notation plus the rest. */
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
    pages_to_scan: k.pages_to_scan,
  };
}

/** ksmd's CPU time since boot in ns (schedstat's first field: what task_sched_runtime reads). */
function ksmdRuntimeNs() {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'ksmd') continue;
      return Number(readFileSync(`/proc/${entry}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the process went away */
    }
  }
  return undefined;
}

/** One probe on a fresh kernel backend (start writes run=2), with when and where it ran. */
async function trace(probe) {
  const backend = createKernelBackend({
    onWarning: (m) => process.stderr.write(`warning (${probe.name}): ${m}\n`),
    lockWaitMs: 120_000,
  });
  // The scan-time advisor's first step counts ksmd's whole runtime (see probes.ts).
  let runtime;
  const records = await runProbe(backend, probe, () => {
    runtime = ksmdRuntimeNs();
  });
  return {
    name: probe.name,
    description: probe.description,
    ksm: Object.fromEntries(probe.ksm),
    ksmd_runtime_ns: runtime,
    records,
  };
}

const only =
  process.argv.indexOf('--only') > 0 ? process.argv[process.argv.indexOf('--only') + 1].split(',') : undefined;
const traces = [];
try {
  for (const probe of PROBES) if (only === undefined || only.includes(probe.name)) traces.push(await trace(probe));
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
      .map(
        ([p, s]) =>
          `${p}: rmap ${s.ksm_rmap_items} merging ${s.ksm_merging_pages} zero ${s.ksm_zero_pages} rss ${s.rss_pages}`,
      )
      .join('; ');
    process.stdout.write(`  ${rec.label}: ${JSON.stringify(pick(rec))} ${procs}\n`);
    for (const d of diffs) process.stdout.write(`    DISAGREES: ${d}\n`);
  }
}

const uname = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim() || release();
const now = new Date().toISOString();
for (const t of traces) Object.assign(t, { recorded: now, uname_r: uname });
// With --only, the other traces of the file stay as they were recorded; PROBES sets the order.
const kept = only !== undefined && existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')).traces : [];
const byName = new Map([...kept, ...traces].map((t) => [t.name, t]));
const result = {
  generated: now,
  uname_r: uname,
  source: 'scripts/kernel-probe.mjs running the probes of test/kernel-truth/probes.ts',
  notes:
    'Each trace starts from run=2 (all unmerged, full_scans 0). pages_scanned and pages_skipped are growth since the ' +
    "trace's start. ksmd is held (run=0) between waits. `reference` lists the figures probes.ts predicts for that " +
    "record. ksmd_runtime_ns is ksmd's CPU time since boot when the trace started.",
  traces: PROBES.map((p) => byName.get(p.name)).filter((t) => t !== undefined),
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\n${disagreements} disagreement(s) with the reference; wrote ${outFile}\n`);
