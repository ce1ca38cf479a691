// `node scripts/timing-grid.mjs --remodel GRID.json OUT.json`: the model of this build, with
// the cost model and timer of its calibration files (SAMEPAGE_COST_MODEL, SAMEPAGE_TIMER),
// against the kernel medians a grid file kept. The model is deterministic, so another
// calibration's figures at the hour of a measured grid need no kernel: OUT is GRID with the
// model's figures and verdicts (pages_scanned within 5 %, pages_to_scan within 10 % under the
// advisor) replaced, and `--agreement GRID.json OUT.json` then counts the cells each model
// passes. full_scans keeps GRID's verdict: judging it by the clock needs the kernel's traces.
// Where GRID kept ksmd's CPU (ksmd_cpu_ms), the model's is replaced too, and the model is run
// again at the kernel's speed (src/differential/kernel_speed.ts: its CPU costs scaled until its
// CPU per page scanned is the kernel runs' median), judged on the same values: at_kernel_speed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The median of the kernel runs' CPU per page scanned over the waits, ns (medianNsPerPage):
 * each run's ksmd CPU against its pages_scanned at the cell's last record; undefined where
 * the file does not have both for every run.
 */
function kernelNsPerPage(g, medianNsPerPage) {
  const cpu = g.ksmd_cpu_ms?.kernel_runs ?? [];
  const pages = g.rows.filter((r) => r.path === 'ksm/pages_scanned').at(-1)?.runs ?? [];
  if (cpu.length !== pages.length) return undefined;
  return medianNsPerPage(cpu.map((ms, i) => ({ ranNs: ms * 1e6, pages: pages[i] })));
}

/** Writes OUT; the exit code (2 for bad arguments). */
export async function remodelMain(root, args) {
  if (args.length !== 2) {
    process.stderr.write('usage: node scripts/timing-grid.mjs --remodel GRID.json OUT.json\n');
    return 2;
  }
  const dist = (p) => import(join(root, 'dist/src', p));
  const { timingScenario } = await dist('differential/timing_grid.js');
  const { within } = await dist('differential/tolerance.js');
  const { judgedPath, judgedTolerance } = await dist('differential/grid_agreement.js');
  const { parseScenario } = await dist('scenario/parse.js');
  const { createModelBackend } = await dist('backends/model/index.js');
  const { runScenario } = await dist('scenario/run.js');
  const { cpuMs } = await dist('report/timed_diff.js');
  const { matchKernelSpeed, medianNsPerPage, nsPerPage } = await dist('differential/kernel_speed.js');
  const grid = JSON.parse(readFileSync(args[0], 'utf8'));
  for (const [name, g] of Object.entries(grid)) {
    const parsed = parseScenario(timingScenario(g.cell), `${name}.yaml`);
    if (!parsed.ok) throw new Error(`${name} does not parse`);
    // The kernel's runtime since boot is not in the file; any ksmd that has run for minutes
    // gives the advisor's first step the same cap (docs/cost-model.md, the advisor's cells).
    const runAt = async (factor) => {
      const backend = createModelBackend({
        seed: 0,
        traceScans: true,
        ksmdRuntimeNs: 1e13,
        costScale: factor,
      });
      const run = await runScenario(parsed.scenario, backend, { recordEveryStep: true });
      const ranNs = backend.ksmdRanNs();
      return { factor, run, ranNs, nsPerPage: nsPerPage(ranNs, run) };
    };
    const judged = judgedPath(g);
    const tol = judgedTolerance(g);
    const judge = (run) =>
      g.rows.map((r) => {
        const rec = run.records.find((x) => x.label === r.label);
        const model = rec?.ksm[r.path.replace(/^ksm\//, '')];
        if (model === undefined) return r;
        const ok = r.path === judged && typeof r.kernel === 'number' ? within(r.kernel, model, tol) : r.ok;
        return { ...r, model, ok };
      });
    const first = await runAt(1);
    g.rows = judge(first.run);
    // ksmd's CPU over the waits, where the grid kept the kernel's.
    if (g.ksmd_cpu_ms !== undefined) {
      g.ksmd_cpu_ms = { ...g.ksmd_cpu_ms, model: cpuMs(first.ranNs) };
      const kernel = kernelNsPerPage(g, medianNsPerPage);
      const match =
        kernel === undefined || first.nsPerPage === undefined
          ? undefined
          : await matchKernelSpeed(kernel, first, async (f) => {
              const r = await runAt(f);
              return r.nsPerPage === undefined ? undefined : r;
            });
      if (match !== undefined) {
        // pages_scanned only: full_scans by the clock needs the kernel's traces.
        const out = judge(match.run).filter((r) => r.path === judged && !r.ok);
        g.at_kernel_speed = {
          factor: Math.round(match.factor * 1e4) / 1e4,
          kernel_ns_per_page: Math.round(kernel),
          model_ns_per_page: Math.round(match.nsPerPage),
          matched: match.matched,
          agrees: out.length === 0,
          out: out.map((r) => ({ label: r.label, path: r.path, kernel: r.kernel, model: r.model })),
        };
      }
    }
  }
  writeFileSync(args[1], `${JSON.stringify(grid, null, 2)}\n`);
  return 0;
}
