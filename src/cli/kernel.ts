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
import { type Command, InvalidArgumentError, Option } from 'commander';
import { execMerged } from '../host/ksm_exec.ts';
import { EXEC_MERGE, requireHelper } from '../host/ksm_native.ts';
import { type MergeReport, memoryMergeTargets, ptraceScopeNote, setMemoryMerge } from '../host/merge_any.ts';
import { RunHold } from '../host/ksm_run_hold.ts';
import { refuseBesidePlusDaemon } from '../host/ksm_lock.ts';
import {
  describeRecovery,
  pendingRecovery,
  recoverJournals,
  requireRecoverable,
  viewJournalsOrNote,
} from '../host/recover.ts';
import { type KsmProcessStat, readProcessKsmStat } from '../host/ksm_stat.ts';
import { readKsmStatus } from '../host/ksm_status.ts';
import { KSM_DIR, ksmStoppedNote, readSharing, requireKsm } from '../host/ksm_sysfs.ts';
import { EVENTS_PATH, KsmSampler, startWatchServer } from '../host/ksm_watch.ts';
import { listenFailure } from '../host/unusable.ts';
import { GROUP_BYS, type GroupBy } from '../attribution/group.ts';
import { ExportReader, type ListenAddress, parseListen, startMetricsServer } from '../host/ksm_export.ts';
import { CONTENT_TYPES, negotiateFormat, renderMetrics } from '../report/prometheus.ts';
import { renderLiveStatusText, renderMergeReports, renderMergeSummary } from '../report/ksm_live.ts';
import { renderLivePage } from '../report/ksm_live_page.ts';
import { renderJournalViews, renderRecoveries } from '../report/recovery.ts';
import { oneOf, parsePid, parseSeconds, wholeNumber } from './args.ts';
import { untilStopped } from './signals.ts';
import { tableWidth } from './width.ts';

export interface KernelIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

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

function parseListenArg(v: string): ListenAddress {
  const l = parseListen(v);
  if (l === undefined) throw new InvalidArgumentError(`Expected HOST:PORT (e.g. 127.0.0.1:9847), got "${v}".`);
  return l;
}

/** Notes on stderr that ksmd is not running, when it is not. */
function noteIfStopped(io: KernelIo): void {
  const note = ksmStoppedNote();
  if (note !== undefined) io.stderr.write(`samepage: note: ${note}\n`);
}

/** What merged since `before` in the processes `pids`, as one line. */
function mergeSummary(before: { sharing: number; shared: number }, pids: readonly number[], seconds: number): string {
  const processes = pids.map(readProcessKsmStat).filter((s): s is KsmProcessStat => s !== undefined);
  return renderMergeSummary(before, readSharing(), processes, seconds);
}

interface TargetOpts {
  readonly pid?: number;
  readonly json?: true;
  readonly reportAfter: number;
}

async function enableOrDisable(
  enable: boolean,
  name: string | undefined,
  opts: TargetOpts,
  io: KernelIo,
  setExit: (c: number) => void,
): Promise<void> {
  const { helper, pids } = memoryMergeTargets(enable, name, opts.pid);
  if (pids.length === 0) {
    io.stderr.write(`samepage: no process has the comm "${name ?? ''}" (see /proc/PID/comm; names are exact)\n`);
    setExit(EXIT_FAILED);
    return;
  }
  const before = readSharing();
  const reports = setMemoryMerge(pids, enable, {
    helper,
    ...(opts.pid === undefined && name !== undefined ? { name } : {}),
    onRecovered: (r) => io.stderr.write(`samepage: ${describeRecovery(r)}\n`),
    onWarning: (m) => io.stderr.write(`samepage: warning: ${m}\n`),
  });
  const good = (r: MergeReport): boolean => r.ok && r.result === 0;
  io.stdout.write(opts.json === true ? `${JSON.stringify(reports, null, 2)}\n` : renderMergeReports(reports, enable));
  if (enable && reports.some(good)) noteIfStopped(io);
  if (!enable && reports.some(good))
    io.stderr.write("samepage: note: disabling unmerged those processes' KSM pages at once\n");
  const scope = ptraceScopeNote(reports);
  if (scope !== undefined) io.stderr.write(`samepage: note: ${scope}\n`);
  if (enable && opts.reportAfter > 0 && reports.some(good)) {
    await new Promise((resolve) => setTimeout(resolve, opts.reportAfter * 1000));
    io.stderr.write(
      `samepage: ${mergeSummary(
        before,
        reports.filter(good).map((r) => r.pid),
        opts.reportAfter,
      )}\n`,
    );
  }
  setExit(reports.length > 0 && reports.every(good) ? 0 : EXIT_FAILED);
}

export interface KernelCommandOptions {
  /** Stops `watch` as Ctrl-C would (for tests). */
  readonly stopWatch?: AbortSignal;
  /** Told the watch server's URL once it listens (for tests). */
  readonly onServing?: (url: string) => void;
}

export function registerKernel(
  program: Command,
  io: KernelIo,
  setExit: (code: number) => void,
  extra: KernelCommandOptions = {},
): void {
  const warn = (m: string): void => {
    io.stderr.write(`samepage: warning: ${m}\n`);
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
      const s = readKsmStatus(KSM_DIR, '/proc', {
        by: opts.by,
        ...(opts.top === undefined ? {} : { top: opts.top }),
        onWarning: warn,
      });
      const { journals, note } = viewJournalsOrNote();
      if (note !== undefined) io.stderr.write(`samepage: note: ${note}\n`);
      if (opts.json === true) io.stdout.write(`${JSON.stringify({ ...s, journals }, null, 2)}\n`);
      else {
        const width = tableWidth(io);
        io.stdout.write(renderLiveStatusText(s, { width }) + renderJournalViews(journals, { width }));
      }
      if (journals.some(pendingRecovery))
        io.stderr.write(
          'samepage: note: a samepage process died with changes to this machine journaled; `samepage kernel recover` undoes them\n',
        );
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
      const reports = recoverJournals({ by: opts.by, ...(opts.journal === undefined ? {} : { only: opts.journal }) });
      if (opts.by === 'watchdog') {
        // The watchdog's output goes to the dead owner's stderr: one sentence per journal.
        for (const r of reports) io.stderr.write(`samepage: watchdog: ${describeRecovery(r)}\n`);
      } else
        io.stdout.write(
          opts.json === true
            ? `${JSON.stringify(reports, null, 2)}\n`
            : renderRecoveries(reports, { width: tableWidth(io) }),
        );
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
      const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
      const sampler = new KsmSampler({
        by: opts.by,
        top: opts.top,
        intervalMs: opts.interval,
        onError: (err) => warn(`Reading KSM failed: ${err instanceof Error ? err.message : String(err)}`),
      });
      sampler.onSample((s) => {
        const text = renderLiveStatusText(
          s.status,
          tty
            ? { maxProcesses: Math.max(5, ((io.stdout as NodeJS.WriteStream).rows ?? 40) - 24), width: tableWidth(io) }
            : { width: tableWidth(io) },
        );
        // In place at a terminal (home, clear below); appended snapshots otherwise.
        io.stdout.write(tty ? `\x1b[H\x1b[J${text}(Ctrl-C to stop)\n` : `${text}\n`);
      });
      sampler.start();
      let server: Awaited<ReturnType<typeof startWatchServer>> | undefined;
      try {
        if (opts.http !== undefined) {
          const host = hostname();
          server = await startWatchServer(sampler, (s) => renderLivePage(s, EVENTS_PATH, host, opts.interval), {
            port: opts.http,
          });
          io.stderr.write(`samepage: serving ${server.url} (events at ${EVENTS_PATH}; Ctrl-C to stop)\n`);
          extra.onServing?.(server.url);
        }
        await untilStopped(extra.stopWatch);
      } catch (err) {
        throw listenFailure(err, `127.0.0.1:${opts.http ?? '?'}`);
      } finally {
        sampler.stop();
        await server?.close();
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
      parseListenArg,
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
        return {
          body: renderMetrics(exporter.read(), format),
          contentType: CONTENT_TYPES[format],
        };
      };
      if (opts.once === true) {
        io.stdout.write(scrape(opts.openmetrics === true ? 'application/openmetrics-text' : undefined).body);
        return;
      }
      if (opts.listen === undefined)
        throw new Error(
          'Give --listen HOST:PORT to serve, or --once to print one scrape (see samepage kernel export --help)',
        );
      const where = `${opts.listen.host}:${opts.listen.port}`;
      const server = await startMetricsServer(opts.listen, scrape, (err) =>
        warn(`A scrape failed: ${err instanceof Error ? err.message : String(err)}`),
      ).catch((err: unknown) => {
        throw listenFailure(err, where);
      });
      io.stderr.write(`samepage: serving ${server.url} (Ctrl-C to stop)\n`);
      extra.onServing?.(server.url);
      try {
        await untilStopped(extra.stopWatch);
      } finally {
        await server.close();
      }
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
      requireKsm();
      refuseBesidePlusDaemon();
      const helper = requireHelper(EXEC_MERGE);
      const hold =
        opts.run === true
          ? new RunHold({
              onRecovered: (r) => io.stderr.write(`samepage: ${describeRecovery(r)}\n`),
              onWait: (why) => io.stderr.write(`samepage: waiting: ${why.message}\n`),
              onSet: (was) => io.stderr.write(`samepage: ksm/run set to 1 for the program's lifetime (was ${was})\n`),
              warn,
            })
          : undefined;
      if (hold !== undefined) await hold.take();
      else noteIfStopped(io);
      let timer: NodeJS.Timeout | undefined;
      try {
        const before = readSharing();
        const exit = await execMerged(cmd, args, {
          helper,
          onStart: (pid) => {
            if (hold !== undefined && opts.reportAfter > 0) {
              timer = setTimeout(
                () => io.stderr.write(`samepage: ${mergeSummary(before, [pid], opts.reportAfter)}\n`),
                opts.reportAfter * 1000,
              );
              timer.unref();
            }
          },
        });
        setExit(exit.code);
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        hold?.restore();
      }
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
      .action((name: string | undefined, opts: TargetOpts) => enableOrDisable(enable, name, opts, io, setExit));
  }
}
