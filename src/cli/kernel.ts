/**
 * `samepage kernel`: the live KSM of this machine. `status` and `watch` read it; `exec`
 * starts a program with MERGE_ANY set; `enable`/`disable` make running processes set or
 * clear it (ptrace). Only `exec --run` writes to /sys/kernel/mm/ksm, and then under the
 * samepage lock, restoring `run` on every exit path (src/host/ksm_run_hold.ts). Every such
 * change is journaled first; `recover` undoes what a killed samepage left changed and
 * `status` shows it pending (src/host/recover.ts, docs/crash-safety.md). Everything here
 * parses, calls src/host/ and prints.
 */
import { hostname } from 'node:os';
import { type Command, Option } from 'commander';
import { runMerged } from '../host/ksm_exec.ts';
import { mergeProgress, mergeRunning } from '../host/merge_any.ts';
import {
  describeRecovery,
  type RecoveryReport,
  recoverJournals,
  requireJournalFile,
  requireRecoverable,
  viewJournalsWithNotes,
} from '../host/recover.ts';
import { readKsmStatus } from '../host/ksm_status.ts';
import { KSM_DIR, requireKsm } from '../host/ksm_sysfs.ts';
import { EVENTS_PATH, KsmSampler, type KsmWatchSample, startWatchServer } from '../host/ksm_watch.ts';
import { GROUP_BYS, type GroupBy } from '../attribution/group.ts';
import { ExportReader, type ListenAddress, parseListen, startMetricsServer } from '../host/ksm_export.ts';
import { CONTENT_TYPES, negotiateFormat, renderMetrics } from '../report/prometheus.ts';
import { renderLiveStatusText, renderMergeReports, renderMergeSummary } from '../report/ksm_live.ts';
import { renderLivePage } from '../report/ksm_live_page.ts';
import { renderJournalViews, renderRecoveries } from '../report/recovery.ts';
import { checked, oneOf, parsePid, parseSeconds, wholeNumber } from './args.ts';
import { Output } from '../term/output.ts';
import { serveUntilStopped, untilStopped } from '../term/signals.ts';
import type { Io } from '../term/output.ts';

/** Exit code of the samepage contract when something asked for did not happen. */
const EXIT_FAILED = 1;

const parseMs = wholeNumber('milliseconds between 50 and 3600000', 50, 3_600_000);
const parsePort = wholeNumber('a TCP port (0-65535; 0 picks a free one)', 0, 65535);
const parseBy = oneOf(GROUP_BYS);
const parseTop = wholeNumber('a number of rows (1-100000)', 1, 100_000);

const ATTRIBUTION_HELP = `
Who saves what: a KSM page that n mappings share frees n-1 pages, and each mapping is
credited (n-1)/n of a page; KSM zero pages count whole; the cost is each process's
rmap_items (64 bytes each). The rows add up to pages_sharing + ksm_zero_pages exactly once
ksmd has rescanned everything that changed; Linux's own ksm_process_profit, summed, counts
one page too many per KSM page and is shown beside it. Needs root (pagemap frame numbers,
/proc/kpageflags). docs/attribution.md says how and why.`;

interface TargetOpts {
  readonly pid?: number;
  readonly json?: true;
  readonly reportAfter: number;
}

async function enableOrDisable(
  enable: boolean,
  name: string | undefined,
  opts: TargetOpts,
  out: Output,
  setExit: (c: number) => void,
): Promise<void> {
  const r = mergeRunning(
    enable,
    { name, pid: opts.pid },
    { onRecovered: (x) => out.say(describeRecovery(x)), onWarning: (m) => out.warn(m) },
  );
  if (r.reports.length === 0) {
    out.say(`no process has the comm "${name ?? ''}" (see /proc/PID/comm; names are exact)`);
    return setExit(EXIT_FAILED);
  }
  out.result(opts.json, r.reports, () => renderMergeReports(r.reports, enable));
  for (const note of r.notes) out.note(note);
  if (enable && opts.reportAfter > 0 && r.done.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, opts.reportAfter * 1000));
    const now = mergeProgress(r.done);
    out.say(renderMergeSummary(r.before, now.sharing, now.processes, opts.reportAfter));
  }
  setExit(r.done.length === r.reports.length ? 0 : EXIT_FAILED);
}

export interface KernelCommandOptions {
  /** Stops `watch` as Ctrl-C would (for tests). */
  readonly stopWatch?: AbortSignal;
  /** Told the watch server's URL once it listens (for tests). */
  readonly onServing?: (url: string) => void;
}

export function registerKernel(
  program: Command,
  io: Io,
  setExit: (code: number) => void,
  extra: KernelCommandOptions = {},
): void {
  const out = new Output(io);
  const warn = (m: string): void => out.warn(m);
  const serve = async (server: { readonly url: string; close(): Promise<void> }, what: string): Promise<void> => {
    out.say(`serving ${server.url} ${what}(Ctrl-C to stop)`);
    extra.onServing?.(server.url);
    await serveUntilStopped(server, extra.stopWatch);
  };
  const kernel = program
    .command('kernel')
    .description('the live KSM of this machine: status, watch, and merging real programs (exec, enable, disable)')
    // exec passes its program's options through untouched, which needs positional options here.
    .enablePositionalOptions();

  kernel
    .command('status')
    .description(
      "every /sys/kernel/mm/ksm file, who saves what (each process, cgroup or program credited its exact share of KSM pages), and samepage's own changes in progress or waiting for recovery (root)",
    )
    .option('--by <what>', 'rows per process, cgroup or comm', parseBy, 'process' as GroupBy)
    .option('--top <n>', 'at most N rows, the rest summed as "other"', parseTop)
    .option(
      '--json',
      'print { time, ksm: {file: value}, processes: [ksm_stat...], attribution: { by, groups, attribution, stats }, journals: [{journal, owner, state, entries}] }',
    )
    .addHelpText('after', ATTRIBUTION_HELP)
    .action((opts: { json?: true; by: GroupBy; top?: number }) => {
      requireKsm();
      const top = opts.top === undefined ? {} : { top: opts.top };
      const s = readKsmStatus(KSM_DIR, '/proc', { by: opts.by, ...top, onWarning: warn });
      const { journals, notes } = viewJournalsWithNotes();
      out.result(
        opts.json,
        { ...s, journals },
        (width) => renderLiveStatusText(s, { width }) + renderJournalViews(journals, { width }),
      );
      for (const note of notes) out.note(note);
    });

  kernel
    .command('recover')
    .description(
      'undo what samepage processes that died (SIGKILL, OOM, a crash) left changed on this machine, from their journals in /run/samepage (root)',
    )
    .option(
      '--json',
      'print one object per journal: { journal, owner, state, outcomes: [{ target, result, detail }], left }',
    )
    .option('--journal <file>', "this journal only (the watchdog's call)")
    .addOption(new Option('--by <who>', 'who recovers, for the log').default('samepage kernel recover').hideHelp())
    .addHelpText(
      'after',
      '\nA value someone changed after samepage wrote it is left alone and reported as `kept`. Journals of\n' +
        'running samepage processes are theirs. Usually nothing is left to do: the watchdog of each\n' +
        'samepage command, and every samepage command that changes the machine, recover first.\n' +
        'Exit 0 when nothing is left to undo, 1 when something could not be undone (it stays\n' +
        'journaled), 2 when it cannot run here. See docs/crash-safety.md.',
    )
    .action((opts: { json?: true; journal?: string; by: string }) => {
      requireRecoverable();
      // The watchdog names a journal its owner may have removed on a clean end: nothing to do.
      // A person naming one that is not there has mistyped it.
      if (opts.journal !== undefined && opts.by !== 'watchdog') requireJournalFile(opts.journal);
      const reports = recoverJournals({ by: opts.by, ...(opts.journal === undefined ? {} : { only: opts.journal }) });
      // The watchdog's output goes to the dead owner's stderr: one sentence per journal.
      if (opts.by === 'watchdog') for (const r of reports) out.say(`watchdog: ${describeRecovery(r)}`);
      else out.result(opts.json, reports, (width) => renderRecoveries(reports, { width }));
      const bad = reports.some((r) => r.left !== 0 || r.state === 'busy' || r.state === 'damaged');
      setExit(bad ? EXIT_FAILED : 0);
    });

  kernel
    .command('watch')
    .description(
      'status refreshed live in the terminal; with --http also a local web page updated by Server-Sent Events',
    )
    .option('--interval <ms>', 'milliseconds between readings', parseMs, 2000)
    .option('--http <port>', 'serve a live page on http://127.0.0.1:PORT/ (0: a free port)', parsePort)
    .option('--by <what>', 'who saves what per process, cgroup or comm', parseBy, 'process' as GroupBy)
    .option('--top <n>', 'at most N rows, the rest summed as "other"', parseTop, 10)
    .addHelpText(
      'after',
      `\nCtrl-C stops. Example:\n  samepage kernel watch --interval 1000 --http 8080 --by cgroup\n${ATTRIBUTION_HELP}`,
    )
    .action(async (opts: { interval: number; http?: number; by: GroupBy; top: number }) => {
      requireKsm();
      const sampler = new KsmSampler({
        by: opts.by,
        top: opts.top,
        intervalMs: opts.interval,
        onError: (err) => warn(`Reading KSM failed: ${err instanceof Error ? err.message : String(err)}`),
      });
      sampler.onSample((s) => {
        const rows = out.rows === undefined ? {} : { maxProcesses: Math.max(5, out.rows - 24) };
        out.screen(renderLiveStatusText(s.status, { ...rows, width: out.width }));
      });
      sampler.start();
      try {
        const port = opts.http;
        if (port === undefined) await untilStopped(extra.stopWatch);
        else {
          const page = (s: KsmWatchSample): string => renderLivePage(s, EVENTS_PATH, hostname(), opts.interval);
          const server = await startWatchServer(sampler, page, { port });
          await serve(server, `(events at ${EVENTS_PATH}) `);
        }
      } finally {
        sampler.stop();
      }
    });

  kernel
    .command('export')
    .description(
      'serve /metrics for Prometheus: every /sys/kernel/mm/ksm file, ksmd CPU time, and who saves what per process and cgroup (root)',
    )
    .option(
      '--listen <host:port>',
      'where to listen, e.g. 127.0.0.1:9847 ([::1]:9847 for IPv6; 0 as port picks one)',
      checked(parseListen, 'HOST:PORT (e.g. 127.0.0.1:9847)'),
    )
    .option(
      '--top <n>',
      'per-process and per-cgroup series at most, the rest summed as pid/cgroup "other"',
      parseTop,
      20,
    )
    .option('--once', 'print one scrape on stdout and exit (for promtool, or a textfile collector)')
    .option('--openmetrics', 'with --once: OpenMetrics 1.0 instead of the Prometheus text format')
    .addHelpText(
      'after',
      '\nEach scrape reads the machine afresh; a server answers OpenMetrics when the scraper asks for\n' +
        'it (Accept: application/openmetrics-text). contrib/ has a systemd unit and a Grafana dashboard.\n' +
        'Examples:\n  samepage kernel export --listen 127.0.0.1:9847 --top 20\n  samepage kernel export --once | promtool check metrics\n' +
        ATTRIBUTION_HELP,
    )
    .action(async (opts: { listen?: ListenAddress; top: number; once?: true; openmetrics?: true }) => {
      requireKsm();
      // One reader for the exporter's life: it reads smaps again only when a process changed.
      const exporter = new ExportReader({ top: opts.top, onWarning: warn });
      const scrape = (accept: string | undefined): { body: string; contentType: string } => {
        const format = negotiateFormat(accept);
        return { body: renderMetrics(exporter.read(), format), contentType: CONTENT_TYPES[format] };
      };
      if (opts.once === true)
        return out.raw(scrape(opts.openmetrics === true ? 'application/openmetrics-text' : undefined).body);
      if (opts.listen === undefined)
        throw new Error(
          'Give --listen HOST:PORT to serve, or --once to print one scrape (see samepage kernel export --help)',
        );
      const server = await startMetricsServer(opts.listen, scrape, (err) =>
        warn(`A scrape failed: ${err instanceof Error ? err.message : String(err)}`),
      );
      await serve(server, '');
    });

  kernel
    .command('exec')
    .description(
      "run a program with KSM merging all of its memory (and its children's): prctl(PR_SET_MEMORY_MERGE) before exec",
    )
    .argument('<cmd>', 'the program (looked up in PATH)')
    .argument('[args...]', 'its arguments')
    .option(
      '--run',
      'also set /sys/kernel/mm/ksm/run=1 while it runs (restored after, by the watchdog if samepage is killed; root)',
    )
    .option(
      '--report-after <s>',
      'with --run: print what merged (pages_sharing growth) after this many seconds; 0 never',
      parseSeconds,
      5,
    )
    // Everything from CMD on is the program's, options included.
    .passThroughOptions()
    .allowUnknownOption()
    .addHelpText(
      'after',
      "\nstdio is the program's; SIGTERM and SIGHUP are forwarded to it (SIGINT too unless stdin is a\n" +
        "terminal, whose Ctrl-C reaches the program directly); the exit status is the program's\n" +
        '(128+N when it was killed by signal N). Put -- before a program whose options samepage\n' +
        'could mistake for its own.\n\nExamples:\n  samepage kernel exec --run -- python3 -c "x = bytearray(1 << 30); input()"\n  samepage kernel exec -- make -j8',
    )
    .action(async (cmd: string, args: string[], opts: { run?: true; reportAfter: number }) => {
      const hold = {
        onRecovered: (r: RecoveryReport) => out.say(describeRecovery(r)),
        onWait: (why: Error) => out.say(`waiting: ${why.message}`),
        onSet: (was: string) => out.say(`ksm/run set to 1 for the program's lifetime (was ${was})`),
        warn,
      };
      const exit = await runMerged(cmd, args, {
        ...(opts.run === true ? { hold } : {}),
        reportAfter: opts.reportAfter,
        onReport: (before, now) => out.say(renderMergeSummary(before, now.sharing, now.processes, opts.reportAfter)),
        onNote: (m) => out.note(m),
      });
      setExit(exit.code);
    });

  for (const enable of [true, false]) {
    kernel
      .command(enable ? 'enable' : 'disable')
      .description(
        enable
          ? 'make running processes merge all their memory: they call prctl(PR_SET_MEMORY_MERGE, 1), injected with ptrace (root)'
          : 'take running processes out of KSM: they call prctl(PR_SET_MEMORY_MERGE, 0), which unmerges their pages at once (root)',
      )
      .argument('[name]', 'every process whose comm (/proc/PID/comm) is exactly this')
      .option('--pid <pid>', 'this process only', (v) => parsePid(v))
      .option('--json', 'print one object per process: pid, comm, ok, result, method, error, ksm_merge_any')
      .option(
        '--report-after <s>',
        enable ? 'print what merged (pages_sharing growth) after this many seconds; 0 never' : 'ignored',
        parseSeconds,
        0,
      )
      .addHelpText(
        'after',
        '\nThe target thread is stopped for well under a millisecond; see README "Merging running\n' +
          'processes" for what this requires and risks. All or nothing: if samepage is killed\n' +
          'half-way, its watchdog puts back the processes it had done (docs/crash-safety.md).\n' +
          'Exit 0 when every process returned 0, 1 otherwise, 2 when it cannot run here.',
      )
      .action((name: string | undefined, opts: TargetOpts) => enableOrDisable(enable, name, opts, out, setExit));
  }
}
