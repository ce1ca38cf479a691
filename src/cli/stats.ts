/**
 * `samepage stats` and `samepage snapshot`: the thesis's duplicate-page statistics (parser.ko)
 * on live processes, on the processes a scenario leaves running on the model, or on a
 * snapshot file; and snapshots of live processes' anonymous memory.
 */
import type { Command } from 'commander';
import { scenarioStatistics } from '../backends/model/statistics.ts';
import { isSnapshotFile } from '../host/snapshot.ts';
import {
  type LiveSelection,
  liveStatistics,
  snapshotLiveProcesses,
  snapshotStatistics,
} from '../host/live_statistics.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes } from '../lib/sizes.ts';
import { thesisText } from '../report/table.ts';
import { measuredByStatistics, thesisComparison, thesisExperiment } from '../report/thesis.ts';
import type { RunResult } from '../scenario/records.ts';
import type { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { statisticsJson } from '../stats/render.ts';
import { collect, collectStrings, parsePid, parseSeed, wholeNumber } from './args.ts';
import { pageProgress } from '../term/progress.ts';
import { refuseReportOverInput } from './report_file.ts';
import { Output } from './output.ts';
import { loadScenarioFile } from './errors.ts';
import type { Io } from './run_program.ts';

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

const pids = collect((v: string) => parsePid(v));

export function registerStats(program: Command, io: Io, setExit: (code: number) => void): void {
  const out = new Output(io);
  const warn = (m: string): void => out.warn(m);

  program
    .command('stats')
    .description(
      "count duplicate pages by MD5, as the thesis's parser module: of live processes, of a scenario's processes on the model, or of a snapshot",
    )
    .argument('[file]', 'a scenario (YAML/JSON) to run on the model, or a snapshot file')
    .option('--pid <pid...>', 'live processes by id (root)', pids)
    .option('--name <name...>', 'live processes by comm, every process of that name (root)', collectStrings)
    .option('--proc <name...>', 'with a file: only the processes of this comm', collectStrings)
    .option('--top <n>', 'list at most this many duplicated contents', wholeNumber('a non-negative integer'), 20)
    .option('--json', 'print { pages, unique_pages, duplicate_pages, saving_pages, top, by_process }')
    .option('--seed <n>', 'seed of the model backend (scenario files)', parseSeed, 0)
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
      if (file === undefined) {
        const live = withPageBar(opts, out, liveStatistics);
        const { zeroPages, swappedPages } = live;
        if (zeroPages + swappedPages > 0)
          out.say(`left out ${plural(zeroPages, 'zero-page mapping')} and ${plural(swappedPages, 'swapped-out page')}`);
        stats = live.stats;
      } else if (isSnapshotFile(file)) stats = await snapshotStatistics(file, opts.proc);
      else {
        const loaded = await loadScenarioFile(file);
        const procs = opts.proc === undefined ? {} : { procs: opts.proc };
        const r = await scenarioStatistics(
          loaded,
          { seed: opts.seed, samples: opts.report !== undefined, ...procs },
          warn,
        );
        stats = r.stats;
        scenario = { name: loaded.name, run: r.run };
      }
      const result = stats.result({ top: opts.top });
      // The thesis's figures need every duplicated content, not only the listed ones.
      const all = stats.result({});
      const exp = scenario === undefined ? undefined : thesisExperiment(scenario.name);
      const thesis =
        exp === undefined
          ? undefined
          : thesisComparison(exp, (f) => measuredByStatistics(f, all), { file: file ?? '' });
      // The report module loads the chart renderer (half a second): only for stats.
      const { renderStatisticsReport, renderStatisticsTables } = await import('../report/stats_report.ts');
      if (opts.json === true) out.print(statisticsJson(result));
      else out.print(renderStatisticsTables(result, all.top.length, out.width) + thesisText(thesis, out.width));
      const report = { title: statsTitle(file, opts), run: scenario?.run, thesis, top: opts.top };
      await out.report(opts.report, () => renderStatisticsReport(all, report));
      setExit(0);
    });

  program
    .command('snapshot')
    .description('save the anonymous memory of live processes (root) to a file, each distinct page once, compressed')
    .option('--pid <pid...>', 'processes by id', pids)
    .option('--name <name...>', 'every process of this comm', collectStrings)
    .requiredOption(
      '-o, --output <file>',
      "the snapshot file (written with mode 0600: it holds the processes' secrets)",
    )
    .option('--hashes-only', "keep only each page's MD5 and class, no bytes")
    .action((opts: LiveOpts & { output: string; hashesOnly?: true }) => {
      const hashesOnly = opts.hashesOnly === true;
      const summary = withPageBar(opts, out, (sel) => snapshotLiveProcesses(opts.output, sel, { hashesOnly }));
      io.stderr.write(
        `Wrote ${opts.output}: ${plural(summary.processes, 'process', 'processes')}, ${plural(summary.pages, 'page')}, ` +
          `${summary.contents} distinct, ${formatBytes(summary.bytes)}${opts.hashesOnly === true ? ' (hashes only)' : ''}\n`,
      );
      setExit(0);
    });
}

/** `read` of the processes of --pid and --name, with a page progress bar on stderr. */
function withPageBar<T>(opts: LiveOpts, out: Output, read: (sel: LiveSelection) => T): T {
  const bar = pageProgress(out.io.stderr);
  try {
    const onWarning = (m: string): void => out.warn(m);
    return read({ pids: opts.pid ?? [], names: opts.name ?? [], onWarning, onStart: bar.start, onPage: bar.tick });
  } finally {
    bar.stop();
  }
}

export function statsTitle(file: string | undefined, opts: Pick<StatsOpts, 'pid' | 'name'>): string {
  if (file !== undefined) return `Duplicate pages of ${file}`;
  const pids = opts.pid ?? [];
  const who = [
    ...(pids.length === 0 ? [] : [`${pids.length === 1 ? 'process' : 'processes'} ${pids.join(', ')}`]),
    ...(opts.name ?? []).map((n) => `every ${n}`),
  ];
  return `Duplicate pages of ${who.join(' and ')}`;
}
