/**
 * `samepage stats` and `samepage snapshot`: the thesis's duplicate-page statistics (parser.ko)
 * on live processes, on the processes a scenario leaves running on the model, or on a
 * snapshot file; and snapshots of live processes' anonymous memory.
 */
import Table from 'cli-table3';
import { InvalidArgumentError, type Command } from 'commander';
import { createModelBackend } from '../backends/model/index.ts';
import { LiveReader, type LiveProcess, openLiveProcesses } from '../host/live.ts';
import { pidsByName } from '../host/procfs.ts';
import { addSnapshotPages, isSnapshotFile, readSnapshot, writeSnapshot } from '../host/snapshot.ts';
import { formatBytes } from '../lib/sizes.ts';
import { loadScenario } from '../scenario/load.ts';
import { formatProblems } from '../scenario/parse.ts';
import { runScenario } from '../scenario/run.ts';
import { DuplicateStatistics, type StatisticsResult } from '../stats/duplicate_statistics.ts';
import { statisticsJson } from '../stats/render.ts';
import type { RunResult } from '../scenario/records.ts';
import { renderThesisComparison } from '../report/table.ts';
import { measuredByStatistics, thesisComparison, thesisExperiment, type ThesisComparison } from '../report/thesis.ts';
import { modelTaskPages } from '../sysfs/parser_sysfs.ts';
import { kernelComm } from '../lib/processes_to_scan.ts';
import { plural } from '../lib/plural.ts';
import { Progress } from './progress.ts';
import { refuseReportOverInput, writeReportFile } from './report_file.ts';
import { UsageError } from './errors.ts';

export interface StatsIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

interface LiveOpts {
  readonly pid?: number[];
  readonly name?: string[];
}

interface StatsOpts extends LiveOpts {
  readonly json?: true;
  readonly report?: string;
  readonly top: number;
  readonly proc?: string[];
  readonly seed: number;
}

function parsePid(v: string, prev: number[] | undefined): number[] {
  if (!/^\d+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v)))
    throw new InvalidArgumentError(`Expected a process id (a positive integer), got "${v}".`);
  return [...(prev ?? []), Number(v)];
}

function parseCount(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`Expected a non-negative integer, got "${v}".`);
  return Number(v);
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function registerStats(program: Command, io: StatsIo, setExit: (code: number) => void): void {
  const warn = (m: string): void => {
    io.stderr.write(`samepage: warning: ${m}\n`);
  };

  program
    .command('stats')
    .description(
      "count duplicate pages by MD5, as the thesis's parser module: of live processes, of a scenario's processes on the model, or of a snapshot",
    )
    .argument('[file]', 'a scenario (YAML/JSON) to run on the model, or a snapshot file')
    .option('--pid <pid...>', 'live processes by id (root)', parsePid)
    .option('--name <name...>', 'live processes by comm, every process of that name (root)', collect)
    .option('--proc <name...>', 'with a file: only the processes of this comm', collect)
    .option('--top <n>', 'list at most this many duplicated contents', parseCount, 20)
    .option('--json', 'print { pages, unique_pages, duplicate_pages, saving_pages, top, by_process }')
    .option('--seed <n>', 'seed of the model backend (scenario files)', parseCount, 0)
    .option('--report <file>', 'also write a self-contained HTML report with the histogram of duplicates')
    .addHelpText(
      'after',
      '\nLive: present anonymous pages of private mappings (heap, stack, anonymous mappings and the\n' +
        'copied-on-write pages of private file mappings); zero-page mappings and swapped pages are left out.\n' +
        'Scenario: the anonymous pages of the processes still running when the scenario ends.\n\n' +
        'Examples:\n  sudo samepage stats --name okular\n  samepage stats scenarios/thesis-test-program.yaml --proc test --json',
    )
    .action(async (file: string | undefined, opts: StatsOpts) => {
      refuseReportOverInput(opts.report, [file]);
      const live = opts.pid !== undefined || opts.name !== undefined;
      if (live === (file !== undefined))
        throw new Error('Give either a file or --pid/--name (see samepage stats --help)');
      if (live && opts.proc !== undefined)
        throw new Error('--proc selects processes of a file; with --pid/--name, name the processes there');
      let stats: DuplicateStatistics;
      let scenario: { name: string; run: RunResult } | undefined;
      if (file === undefined) stats = liveStatistics(opts, io, warn);
      else if (isSnapshotFile(file)) stats = await snapshotStatistics(file, opts);
      else {
        const r = await scenarioStatistics(file, opts, warn);
        ({ stats, scenario } = { stats: r.stats, scenario: { name: r.name, run: r.run } });
      }
      const result = stats.result({ top: opts.top });
      // The thesis's figures need every duplicated content, not only the listed ones.
      const all = stats.result({});
      const exp = scenario === undefined ? undefined : thesisExperiment(scenario.name);
      const thesis =
        exp === undefined
          ? undefined
          : thesisComparison(exp, (f) => measuredByStatistics(f, all), { file: file ?? '' });
      io.stdout.write(opts.json === true ? statisticsJson(result) : renderTables(result, all.top.length));
      if (opts.json !== true && thesis !== undefined) io.stdout.write(`\n${renderThesisComparison(thesis)}`);
      if (opts.report !== undefined)
        await writeStatsReport(
          opts.report,
          all,
          { title: statsTitle(file, opts), run: scenario?.run, thesis, top: opts.top },
          io,
        );
      setExit(0);
    });

  program
    .command('snapshot')
    .description('save the anonymous memory of live processes (root) to a file, each distinct page once, compressed')
    .option('--pid <pid...>', 'processes by id', parsePid)
    .option('--name <name...>', 'every process of this comm', collect)
    .requiredOption(
      '-o, --output <file>',
      "the snapshot file (written with mode 0600: it holds the processes' secrets)",
    )
    .option('--hashes-only', "keep only each page's MD5 and class, no bytes")
    .action((opts: LiveOpts & { output: string; hashesOnly?: true }) => {
      const reader = new LiveReader({ onWarning: warn });
      const procs = openLive(reader, opts, warn);
      const bar = progress(io.stderr, procs);
      try {
        const summary = writeSnapshot(
          opts.output,
          procs.map((p) => ({
            pid: p.pid,
            comm: p.owner.comm,
            vmas: p.maps,
            zeroPages: p.zeroPages,
            swappedPages: p.swappedPages,
            pages: () => p.pages(),
          })),
          { hashesOnly: opts.hashesOnly === true, onPage: bar.tick },
        );
        bar.stop();
        io.stderr.write(
          `Wrote ${opts.output}: ${plural(summary.processes, 'process', 'processes')}, ${plural(summary.pages, 'page')}, ` +
            `${summary.contents} distinct, ${formatBytes(summary.bytes)}${opts.hashesOnly === true ? ' (hashes only)' : ''}\n`,
        );
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(
          code === undefined ? String(e) : `Cannot write the snapshot ${opts.output}: ${(e as Error).message}`,
        );
      } finally {
        bar.stop();
        for (const p of procs) p.close();
        reader.close();
      }
      setExit(0);
    });
}

/** Opens the processes named by --pid/--name; refuses when none can be read. */
function openLive(reader: LiveReader, opts: LiveOpts, warn: (m: string) => void): LiveProcess[] {
  const pids = new Set(opts.pid ?? []);
  for (const name of opts.name ?? []) {
    const found = pidsByName(name);
    if (found.length === 0) warn(`No process named "${name}"`);
    for (const pid of found) pids.add(pid);
  }
  if (pids.size === 0) throw new Error('No process to read: no pid given and no process has the names given');
  const procs = openLiveProcesses(
    reader,
    [...pids].sort((a, b) => a - b),
  );
  if (procs.length === 0) throw new Error('None of the processes could be read (see the warnings above)');
  return procs;
}

function liveStatistics(opts: LiveOpts, io: StatsIo, warn: (m: string) => void): DuplicateStatistics {
  const reader = new LiveReader({ onWarning: warn });
  const procs = openLive(reader, opts, warn);
  const bar = progress(io.stderr, procs);
  const stats = new DuplicateStatistics();
  try {
    for (const p of procs) {
      for (const page of p.pages()) {
        stats.add(page);
        bar.tick();
      }
    }
  } finally {
    bar.stop();
    for (const p of procs) p.close();
    reader.close();
  }
  const zero = procs.reduce((n, p) => n + p.zeroPages, 0);
  const swapped = procs.reduce((n, p) => n + p.swappedPages, 0);
  if (zero + swapped > 0)
    io.stderr.write(
      `samepage: left out ${plural(zero, 'zero-page mapping')} and ${plural(swapped, 'swapped-out page')}\n`,
    );
  return stats;
}

/**
 * A page progress bar on stderr (drawn only on a terminal), redrawn every 256 pages. The
 * reading is synchronous, so the bar leaves the terminal's cursor and line wrap alone.
 */
function progress(
  stream: NodeJS.WritableStream,
  procs: readonly LiveProcess[],
): { tick: () => void; stop: () => void } {
  const total = procs.reduce((n, p) => n + p.pageCount, 0);
  const bar = new Progress(stream, { interruptible: false });
  let done = 0;
  bar.show('reading pages', 0, total);
  return {
    tick: () => {
      if (++done % 256 === 0) bar.show('reading pages', done, total);
    },
    stop: () => bar.stop(),
  };
}

async function snapshotStatistics(file: string, opts: StatsOpts): Promise<DuplicateStatistics> {
  const r = await readSnapshot(file);
  if (!r.ok) throw new Error(r.problem);
  try {
    const wanted = opts.proc === undefined ? undefined : new Set(opts.proc.map(kernelComm));
    const stats = new DuplicateStatistics();
    addSnapshotPages(stats, r.snapshot, (p) => wanted === undefined || wanted.has(p.comm));
    return stats;
  } finally {
    r.snapshot.close();
  }
}

/** Runs the scenario on the model, then counts its live tasks (or those of --proc comms). */
async function scenarioStatistics(
  file: string,
  opts: StatsOpts,
  warn: (m: string) => void,
): Promise<{ stats: DuplicateStatistics; name: string; run: RunResult }> {
  const loaded = await loadScenario(file);
  if (!loaded.ok) throw new UsageError(formatProblems(file, loaded.problems), loaded.problems);
  const backend = createModelBackend({ seed: opts.seed });
  const run = await runScenario(loaded.scenario, backend, {});
  if (run.error !== undefined) warn(`the scenario stopped early: ${run.error}; counting what it left`);
  const mmgr = backend.system().mmgr;
  let tasks = mmgr.liveTasks();
  if (opts.proc !== undefined) {
    const wanted = new Set(opts.proc.map(kernelComm));
    const known = [...new Set(tasks.map((t) => t.comm))];
    for (const name of wanted) {
      if (!known.includes(name))
        warn(`No process of comm "${name}" at the end of the scenario (running: ${known.join(', ') || 'none'})`);
    }
    tasks = tasks.filter((t) => wanted.has(kernelComm(t.comm)));
  }
  const stats = new DuplicateStatistics();
  stats.addAll(modelTaskPages(mmgr, tasks));
  return { stats, name: loaded.scenario.name, run };
}

function statsTitle(file: string | undefined, opts: StatsOpts): string {
  if (file !== undefined) return `Duplicate pages of ${file}`;
  const pids = (opts.pid ?? []).map(String);
  return `Duplicate pages of ${[...pids, ...(opts.name ?? [])].join(', ')}`;
}

/** The statistics report: the histogram and figures, the thesis's beside them, and the run. */
async function writeStatsReport(
  file: string,
  r: StatisticsResult,
  what: { title: string; run: RunResult | undefined; thesis: ThesisComparison | undefined; top: number },
  io: StatsIo,
): Promise<void> {
  const { renderHtmlReport } = await import('../report/html.ts');
  const { statisticsSection } = await import('../report/stats_report.ts');
  const html = await renderHtmlReport({
    title: what.title,
    ...(what.thesis === undefined ? {} : { thesis: what.thesis }),
    leadSections: [await statisticsSection(r, 'Duplicate-page statistics', what.title, what.top)],
    runs: what.run === undefined ? [] : [what.run],
  });
  await writeReportFile(file, html, io.stderr);
}

function renderTables(r: StatisticsResult, groups: number): string {
  const style = { head: [], border: [] };
  const pct = (n: number): string => (r.pages === 0 ? '-' : `${((100 * n) / r.pages).toFixed(1)} %`);
  const summary = new Table({ style });
  summary.push(
    ['pages', String(r.pages), formatBytes(r.pages * 4096)],
    ['unique pages (no duplicate)', String(r.unique_pages), pct(r.unique_pages)],
    ['duplicate pages', String(r.duplicate_pages), pct(r.duplicate_pages)],
    ['duplicated contents', String(groups), ''],
    ['pages merging would free', String(r.saving_pages), formatBytes(r.saving_pages * 4096)],
  );
  const top = new Table({ head: ['count', 'md5', 'class'], style });
  for (const g of r.top) top.push([String(g.count), g.md5, g.class]);
  const procs = new Table({ head: ['pid', 'comm', 'pages', 'duplicate', 'saving alone'], style });
  for (const [pid, p] of Object.entries(r.by_process))
    procs.push([pid, p.comm, String(p.pages), String(p.duplicate_pages), String(p.saving_pages)]);
  return (
    `${summary.toString()}\n` +
    (r.top.length === 0 ? 'No page has a duplicate.\n' : `Most duplicated contents:\n${top.toString()}\n`) +
    `Per process (duplicate: pages whose content occurs twice or more in all; saving alone: merging this process only):\n${procs.toString()}\n`
  );
}
