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
import { INJECT_SYSCALL } from '../host/inject.ts';
import { EXEC_MERGE, missingHelper, nativeHelperPath, ptraceRefusal, ptraceScope } from '../host/ksm_native.ts';
import { type MergeReport, setMemoryMerge } from '../host/merge_any.ts';
import { RunHold } from '../host/ksm_run_hold.ts';
import { JournalsUnreadable } from '../host/journal.ts';
import { describeRecovery, type JournalView, pendingRecovery, recoverJournals, viewJournals } from '../host/recover.ts';
import { type KsmProcessStat, readProcessKsmStat } from '../host/ksm_stat.ts';
import { readKsmStatus } from '../host/ksm_status.ts';
import { KSM_DIR, ksmPresent, readSharing, readSysfs } from '../host/ksm_sysfs.ts';
import { EVENTS_PATH, KsmSampler, startWatchServer } from '../host/ksm_watch.ts';
import { selectTargets } from '../host/targets.ts';
import { renderLivePage, renderLiveStatusText, renderMergeReports, renderMergeSummary } from '../report/ksm_live.ts';
import { renderJournalViews, renderRecoveries } from '../report/recovery.ts';
import { tableWidth } from './width.ts';

export interface KernelIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

/** Exit code of the samepage contract when something asked for did not happen. */
const EXIT_FAILED = 1;

/** Thrown for what cannot run here: main prints it as `samepage: <message>` and exits 2. */
class KernelUnusable extends Error {
  override readonly name = 'KernelUnusable';
}

function parseMs(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 50 || Number(v) > 3_600_000) {
    throw new InvalidArgumentError(`Expected milliseconds between 50 and 3600000, got "${v}".`);
  }
  return Number(v);
}

function parsePort(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 65535)
    throw new InvalidArgumentError(`Expected a TCP port (0-65535; 0 picks a free one), got "${v}".`);
  return Number(v);
}

function parsePid(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) {
    throw new InvalidArgumentError(`Expected a process id (a positive integer), got "${v}".`);
  }
  return Number(v);
}

function parseSeconds(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > 86_400)
    throw new InvalidArgumentError(`Expected seconds (0-86400), got "${v}".`);
  return Number(v);
}

function requireKsm(): void {
  if (!ksmPresent()) {
    throw new KernelUnusable(`${KSM_DIR} is missing: this kernel has no KSM (CONFIG_KSM), or sysfs is not mounted`);
  }
}

const RUN_NOTE =
  'KSM is stopped (/sys/kernel/mm/ksm/run is {run}): pages are marked mergeable but ksmd merges nothing until ' +
  '`echo 1 > /sys/kernel/mm/ksm/run` (root), or use `samepage kernel exec --run`.';

/** Notes on stderr that ksmd is not running, when it is not. */
function noteIfStopped(io: KernelIo): void {
  const run = readSysfs(`${KSM_DIR}/run`)?.trim();
  if (run !== undefined && run !== '1') io.stderr.write(`samepage: note: ${RUN_NOTE.replace('{run}', run)}\n`);
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
  const refusal = ptraceRefusal();
  if (refusal !== undefined) throw new KernelUnusable(`samepage kernel ${enable ? 'enable' : 'disable'} ${refusal}`);
  const helper = nativeHelperPath(INJECT_SYSCALL);
  const missing = missingHelper(helper);
  if (missing !== undefined) throw new KernelUnusable(missing);
  const pids = selectTargets(name, opts.pid);
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
  if (reports.some((r) => !r.ok && /EPERM|not permitted/i.test(r.error ?? ''))) {
    const scope = ptraceScope();
    if (scope !== undefined && scope >= 2)
      io.stderr.write(
        `samepage: note: kernel.yama.ptrace_scope is ${scope}${scope === 3 ? ' (no ptrace at all until reboot)' : ' (CAP_SYS_PTRACE needed)'}\n`,
      );
  }
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

/** Waits for SIGINT/SIGTERM (or `signal`), then resolves. */
function untilStopped(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
    signal?.addEventListener('abort', done);
  });
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
      "every /sys/kernel/mm/ksm file, the /proc/PID/ksm_stat of every process using KSM, and samepage's own changes in progress or waiting for recovery",
    )
    .option(
      '--json',
      'print { time, ksm: {file: value}, processes: [{pid, comm, ksm_*}], journals: [{journal, owner, state, entries}] }',
    )
    .action((opts: { json?: true }) => {
      requireKsm();
      const s = readKsmStatus();
      let journals: JournalView[] = [];
      try {
        journals = viewJournals();
      } catch (err) {
        if (!(err instanceof JournalsUnreadable)) throw err;
        io.stderr.write(`samepage: note: ${err.message}; samepage's own changes are shown to root only\n`);
      }
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
      let pending: JournalView[];
      try {
        pending = viewJournals().filter(pendingRecovery);
      } catch (err) {
        if (err instanceof JournalsUnreadable)
          throw new KernelUnusable(`samepage kernel recover needs root: ${err.message}`);
        throw err;
      }
      if (pending.length > 0 && process.getuid?.() !== 0)
        throw new KernelUnusable(
          `samepage kernel recover needs root: ${pending.length} journal(s) wait to restore /sys/kernel/mm files or other processes`,
        );
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
    .addHelpText('after', '\nCtrl-C stops. Example:\n  samepage kernel watch --interval 1000 --http 8080')
    .action(async (opts: { interval: number; http?: number }) => {
      requireKsm();
      const tty = (io.stdout as NodeJS.WriteStream).isTTY === true;
      const sampler = new KsmSampler({
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
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new KernelUnusable(`Port ${opts.http ?? '?'} of 127.0.0.1 is in use`);
        throw err;
      } finally {
        sampler.stop();
        await server?.close();
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
      const helper = nativeHelperPath(EXEC_MERGE);
      const missing = missingHelper(helper);
      if (missing !== undefined) throw new KernelUnusable(missing);
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
      .option('--pid <pid>', 'this process only', parsePid)
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
