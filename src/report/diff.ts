/**
 * The results of the differential method (src/differential/diff.ts) for people and for
 * scripts: `samepage diff`'s verdict line and table of differing values per file, and its
 * `--json` document.
 */
import { fitTable } from './fit_table.ts';
import pc from 'picocolors';
import type { ScenarioDiff } from '../differential/diff.ts';

/** One file of `samepage diff --json`. */
export interface DiffFileJson {
  readonly file: string;
  readonly scenario: string;
  readonly differences: ReadonlyArray<{ label: string; path: string; kernel: unknown; model: unknown }>;
  readonly kernelOk: boolean;
  readonly modelOk: boolean;
  readonly kernelError?: string;
  readonly modelError?: string;
  readonly warnings?: readonly string[];
  /** Under --attempts: the kernel runs before this one, each of which disagreed. */
  readonly earlierRuns?: readonly EarlierRunJson[];
}

/** A disagreeing kernel run that --attempts measured again. */
export interface EarlierRunJson {
  readonly differences: DiffFileJson['differences'];
  readonly kernelError?: string;
  readonly modelError?: string;
  readonly warnings?: readonly string[];
}

/**
 * The whole `samepage diff --json` output. `stopped` is there when a file could not be run
 * (the kernel backend became unavailable, say): the files before it are still reported, and
 * the command exits 2.
 */
export interface DiffJson {
  readonly files: readonly DiffFileJson[];
  readonly stopped?: { readonly file: string; readonly reason: string };
}

export function diffJson(file: string, d: ScenarioDiff): DiffFileJson {
  const { differences, ...stopsAndWarnings } = runJson(d);
  return {
    file,
    scenario: d.scenario,
    differences,
    kernelOk: d.kernelOk,
    modelOk: d.modelOk,
    ...stopsAndWarnings,
    ...(d.earlier === undefined ? {} : { earlierRuns: d.earlier.map(runJson) }),
  };
}

function runJson(d: ScenarioDiff): EarlierRunJson {
  return {
    differences: d.differences.map((x) => ({
      label: x.label,
      path: x.path,
      kernel: x.kernel ?? null,
      model: x.model ?? null,
    })),
    ...(d.kernelError === undefined ? {} : { kernelError: d.kernelError }),
    ...(d.modelError === undefined ? {} : { modelError: d.modelError }),
    ...(d.warnings.length === 0 ? {} : { warnings: d.warnings }),
  };
}

/**
 * A file's result for people: a verdict line, then one table row per differing value; under
 * --attempts, each earlier run that disagreed follows, indented.
 */
export function renderDiff(file: string, d: ScenarioDiff, color: boolean, width?: number): string {
  const c = pc.createColors(color);
  const count = d.differences.length;
  const verdict =
    count > 0
      ? c.red(`${count} difference${count === 1 ? '' : 's'}`)
      : d.kernelError === undefined && d.modelError === undefined
        ? c.green('kernel and model agree')
        : c.yellow('no value differs, but a run stopped early');
  const runs = d.earlier === undefined ? '' : ` on kernel run ${d.earlier.length + 1}`;
  const lines = [`${c.bold(d.scenario)} (${file}): ${verdict}${runs}`, ...runLines(d, c, width)];
  for (const [i, e] of (d.earlier ?? []).entries()) {
    const n = e.differences.length;
    lines.push(`  kernel run ${i + 1} disagreed (${n} difference${n === 1 ? '' : 's'}):`);
    for (const line of runLines(e, c, width === undefined ? undefined : width - 4)) lines.push(`    ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What stopped the runs, the kernel's warnings, and the table of differing values. */
function runLines(d: ScenarioDiff, c: ReturnType<typeof pc.createColors>, width: number | undefined): string[] {
  const lines: string[] = [];
  if (d.kernelError !== undefined) lines.push(`  kernel run stopped: ${d.kernelError}`);
  if (d.modelError !== undefined) lines.push(`  model run stopped: ${d.modelError}`);
  for (const w of d.warnings) lines.push(`  ${c.yellow('kernel warning')}: ${w}`);
  if (d.differences.length > 0) {
    const table = fitTable(
      [
        { head: 'record', wrap: true },
        { head: 'counter', wrap: true },
        { head: 'kernel', align: 'right', wrap: true },
        { head: 'model', align: 'right', wrap: true },
      ],
      d.differences.map((x) => [x.label, x.path, show(x.kernel), show(x.model)]),
      { width, headStyle: c.cyan },
    );
    lines.push(...table.split('\n'));
  }
  return lines;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
