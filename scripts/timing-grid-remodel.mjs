// `node scripts/timing-grid.mjs --remodel GRID.json OUT.json`: the model of this build, with
// the cost model and timer of its calibration files (SAMEPAGE_COST_MODEL, SAMEPAGE_TIMER),
// against the kernel medians a grid file kept. The model is deterministic, so another
// calibration's figures at the hour of a measured grid need no kernel: OUT is GRID with the
// model's figures and verdicts (pages_scanned within 5 %, pages_to_scan within 10 % under the
// advisor) replaced, and `--agreement GRID.json OUT.json` then counts the cells each model
// passes. full_scans keeps GRID's verdict: judging it by the clock needs the kernel's traces.
// Where GRID kept ksmd's CPU (ksmd_cpu_ms), the model's is replaced too.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes OUT; the exit code (2 for bad arguments). */
export async function remodelMain(root, args) {
  if (args.length !== 2) {
    process.stderr.write('usage: node scripts/timing-grid.mjs --remodel GRID.json OUT.json\n');
    return 2;
  }
  const dist = (p) => import(join(root, 'dist/src', p));
  const { timingScenario } = await dist('differential/timing_grid.js');
  const { DEFAULT_TOLERANCE, within } = await dist('differential/timed.js');
  const { parseScenario } = await dist('scenario/parse.js');
  const { createModelBackend } = await dist('backends/model/index.js');
  const { runScenario } = await dist('scenario/run.js');
  const { cpuMs } = await dist('report/timed_diff.js');
  const grid = JSON.parse(readFileSync(args[0], 'utf8'));
  for (const [name, g] of Object.entries(grid)) {
    const parsed = parseScenario(timingScenario(g.cell), `${name}.yaml`);
    if (!parsed.ok) throw new Error(`${name} does not parse`);
    // The kernel's runtime since boot is not in the file; any ksmd that has run for minutes
    // gives the advisor's first step the same cap (docs/cost-model.md, the advisor's cells).
    const backend = createModelBackend({ seed: 0, traceScans: true, ksmdRuntimeNs: 1e13 });
    const run = await runScenario(parsed.scenario, backend, { recordEveryStep: true });
    const judged = g.cell.advisor ? 'ksm/pages_to_scan' : 'ksm/pages_scanned';
    const tol = g.cell.advisor ? DEFAULT_TOLERANCE.advisor : DEFAULT_TOLERANCE.counters;
    g.rows = g.rows.map((r) => {
      const rec = run.records.find((x) => x.label === r.label);
      const model = rec?.ksm[r.path.replace(/^ksm\//, '')];
      if (model === undefined) return r;
      const ok = r.path === judged && typeof r.kernel === 'number' ? within(r.kernel, model, tol) : r.ok;
      return { ...r, model, ok };
    });
    // ksmd's CPU over the timed waits, where the grid kept the kernel's.
    if (g.ksmd_cpu_ms !== undefined) g.ksmd_cpu_ms = { ...g.ksmd_cpu_ms, model: cpuMs(backend.ksmdRanNs()) };
  }
  writeFileSync(args[1], `${JSON.stringify(grid, null, 2)}\n`);
  return 0;
}
