/**
 * `samepage stats` and `samepage snapshot`: the thesis's duplicate-page statistics (parser.ko)
 * on live processes, on the processes a scenario leaves running on the model, or on a
 * snapshot file; and snapshots of live processes' anonymous memory.
 */
import type { Command } from 'commander';
import { scenarioStatistics } from '../backends/model/statistics.ts';
import { isSnapshotFile } from '../host/snapshot.ts';
import { liveStatistics, snapshotLiveProcesses, snapshotStatistics } from '../host/live_statistics.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes } from '../lib/sizes.ts';
import { thesisText } from '../report/table.ts';
import { statisticsThesisComparison } from '../report/thesis.ts';
import type { RunResult } from '../scenario/records.ts';
import type { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { statisticsJson } from '../stats/render.ts';
import { collect, collectStrings, parsePid, parseSeed, wholeNumber } from './args.ts';
import { withPageProgress } from '../term/progress.ts';
import { checkReportTarget } from '../term/report_file.ts';
import { Output } from '../term/output.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import type { Io } from '../term/output.ts';

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
  // The live processes --pid and --name name, for stats and snapshot alike.
  const selected = (o: LiveOpts) => ({ pids: o.pid ?? [], names: o.name ?? [], onWarning: warn });

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
        'Scenario: the anonymous pages of the processes still running when the scenario ends.\n' +
        'Pages that already share a physical frame (merged by KSM, or left shared by a fork) count as one\n' +
        'copy: a content is a duplicate when two frames or more hold it, since only then does merging free one.\n\n' +
        'Examples:\n  sudo samepage stats --name okular\n  samepage stats scenarios/thesis-test-program.yaml --proc test --json',
    )
    .action(async (file: string | undefined, opts: StatsOpts) => {
      checkReportTarget(opts.report, [file]);
      const live = opts.pid !== undefined || opts.name !== undefined;
      if (live === (file !== undefined))
        throw new Error('Give either a file or --pid/--name (see samepage stats --help)');
      if (live && opts.proc !== undefined)
        throw new Error('--proc selects processes of a file; with --pid/--name, name the processes there');
      let stats: DuplicateStatistics;
      let run: RunResult | undefined;
      if (file === undefined) {
        const live = withPageProgress(io.stderr, (bar) => liveStatistics({ ...selected(opts), ...bar }));
        const { zeroPages, swappedPages } = live;
        if (zeroPages + swappedPages > 0)
          out.say(`left out ${plural(zeroPages, 'zero-page mapping')} and ${plural(swappedPages, 'swapped-out page')}`);
        stats = live.stats;
      } else if (isSnapshotFile(file)) stats = await snapshotStatistics(file, opts.proc, warn);
      else {
        const samples = opts.report !== undefined;
        const r = await scenarioStatistics(
          await loadScenarioFile(file),
          { seed: opts.seed, procs: opts.proc, samples },
          warn,
        );
        stats = r.stats;
        run = r.run;
      }
      const result = stats.result({ top: opts.top });
      // The thesis's figures need every duplicated content, not only the listed ones.
      const all = stats.result({});
      const thesis = run && statisticsThesisComparison(run.scenario, all, file ?? '');
      // The report module loads the chart renderer (half a second): only for stats.
      const { renderStatisticsReport, renderStatisticsTables, statisticsTitle } = await import(
        '../report/stats_report.ts'
      );
      // The report first: if it cannot be written after all, stdout holds the error alone.
      const report = { title: statisticsTitle(file, opts), run, thesis, top: opts.top };
      await out.report(opts.report, () => renderStatisticsReport(all, report));
      if (opts.json === true) out.raw(statisticsJson(result));
      else out.print(renderStatisticsTables(result, all.top.length, out.width) + thesisText(thesis, out.width));
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
      const summary = withPageProgress(io.stderr, (bar) =>
        snapshotLiveProcesses(opts.output, { ...selected(opts), ...bar }, { hashesOnly }),
      );
      io.stderr.write(
        `Wrote ${opts.output}: ${plural(summary.processes, 'process', 'processes')}, ${plural(summary.pages, 'page')}, ` +
          `${summary.contents} distinct, ${formatBytes(summary.bytes)}${opts.hashesOnly === true ? ' (hashes only)' : ''}\n`,
      );
      setExit(0);
    });
}
