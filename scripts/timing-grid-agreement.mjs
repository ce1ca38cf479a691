// `node scripts/timing-grid.mjs --agreement EARLIER.json LATER.json`: the kernel against
// itself on the timing grid (src/differential/grid_agreement.ts), as a Markdown table.
// `node scripts/timing-grid.mjs --verdicts GRID.json...`: each file's cells strictly within
// tolerance, within tolerance or the range of the kernel runs, and, where the file has it, of
// the model at the kernel's speed (src/differential/grid_verdicts.ts).
// `node scripts/timing-grid.mjs --spread GRID.json...`: the cells where no one model value is
// within tolerance of every file's kernel median (src/differential/grid_spread.ts).
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const dist = (p) => import(join(import.meta.dirname, '..', 'dist/src/differential', p));
const { gridAgreement, gridFileSchema } = await dist('grid_agreement.js');
const { gridVerdicts } = await dist('grid_verdicts.js');
const { gridSpread } = await dist('grid_spread.js');

/** Reads and checks one grid file; a message naming the file and what is wrong, or the file. */
function readGrid(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { error: `${file}: cannot be read (${e.code ?? e.message})` };
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { error: `${file}: not JSON (${e.message})` };
  }
  const parsed = gridFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { error: `${file}: not a grid file of scripts/timing-grid.mjs (${first.path.join('.')}: ${first.message})` };
  }
  return { grid: parsed.data };
}

const pct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %` : 'from 0');

/** Prints the table and the counts; the exit code (2 for bad arguments or files). */
export function agreementMain(args) {
  if (args.length !== 2) {
    process.stderr.write('usage: node scripts/timing-grid.mjs --agreement EARLIER.json LATER.json\n');
    return 2;
  }
  const [a, b] = args.map(readGrid);
  for (const r of [a, b]) if (r.error !== undefined) process.stderr.write(`${r.error}\n`);
  if (a.error !== undefined || b.error !== undefined) return 2;
  const cells = gridAgreement(a.grid, b.grid);
  const yes = (x) => (x ? 'within' : 'beyond');
  const lines = [
    '| cell | values | later kernel vs earlier, worst | kernel | model (earlier file) | model (later file) |',
    '|---|---|---|---|---|---|',
    ...cells.map(
      (c) =>
        `| ${c.name} | ${c.values} | ${pct(c.worst)} | ${yes(c.kernelWithin)} | ${yes(c.modelWithin[0])} | ${yes(c.modelWithin[1])} |`,
    ),
  ];
  const count = (f) => cells.filter(f).length;
  lines.push(
    '',
    `${cells.length} cells in both files: the later kernel within tolerance of the earlier on ${count((c) => c.kernelWithin)}; ` +
      `the model within tolerance of its file's kernel on ${count((c) => c.modelWithin[0])} (earlier) and ${count((c) => c.modelWithin[1])} (later).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** Prints one line a file; the exit code (2 for no files or a bad file). */
export function verdictsMain(args) {
  if (args.length === 0) {
    process.stderr.write('usage: node scripts/timing-grid.mjs --verdicts GRID.json...\n');
    return 2;
  }
  const read = args.map(readGrid);
  for (const r of read) if (r.error !== undefined) process.stderr.write(`${r.error}\n`);
  if (read.some((r) => r.error !== undefined)) return 2;
  const lines = [
    "| grid file | cells | within tolerance | within tolerance or the kernel runs | beyond both | at the kernel's speed (of cells) | there, or within the kernel runs | beyond it |",
    '|---|---|---|---|---|---|---|---|',
    ...read.map((r, i) => {
      const v = gridVerdicts(r.grid);
      const s = v.atKernelSpeed;
      const [speed, within] = s.cells === 0 ? ['-', '-'] : [`${s.agree} (${s.cells})`, String(s.withinRuns)];
      return `| ${basename(args[i])} | ${v.cells} | ${v.strict} | ${v.withinRuns} | ${v.beyondRuns.join(', ')} | ${speed} | ${within} | ${s.beyond.join(', ')} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** Prints every cell's widest spread and the counts; the exit code (2 for fewer than two files or a bad file). */
export function spreadMain(args) {
  if (args.length < 2) {
    process.stderr.write('usage: node scripts/timing-grid.mjs --spread GRID.json GRID.json...\n');
    return 2;
  }
  const read = args.map(readGrid);
  for (const r of read) if (r.error !== undefined) process.stderr.write(`${r.error}\n`);
  if (read.some((r) => r.error !== undefined)) return 2;
  const cells = gridSpread(read.map((r) => r.grid));
  const name = (i) => basename(args[i]);
  const lines = [
    '| cell | files | widest record | largest / smallest median | smallest in | largest in | one value within tolerance of all |',
    '|---|---|---|---|---|---|---|',
    ...cells.map((c) => {
      const w = c.widest;
      const ratio = Number.isFinite(w.ratio) ? w.ratio.toFixed(3) : 'from 0';
      const [low, high] = w.ratio === 1 ? ['(all equal)', '(all equal)'] : [name(w.lowFile), name(w.highFile)];
      return `| ${c.name} | ${c.files.length} | ${w.label} | ${ratio} | ${low} | ${high} | ${c.placeable ? 'yes' : 'no'} |`;
    }),
  ];
  const no = cells.filter((c) => !c.placeable).length;
  lines.push(
    '',
    `${cells.length} cells in two files or more: ${cells.length - no} can be passed in every file by one model value; ` +
      `${no} cannot (their kernel medians spread wider than the tolerance allows one value).`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
