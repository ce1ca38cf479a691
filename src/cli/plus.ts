/**
 * `samepage plus`: the KSM+ daemon for stock kernels (src/host/plus_daemon.ts, the policy in
 * src/policy/). `samepage plus [NAME...]` runs it in the foreground until Ctrl-C or SIGTERM;
 * `add`, `remove`, `list`, `status` and `set` talk to the running one over its socket. This
 * file parses, calls and prints.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { readInputFile } from '../lib/input_file.ts';
import { PLUS_DIR } from '../lib/plus_files.ts';
import {
  formatConfigProblems,
  parseKnobSetting,
  parseKsmSetting,
  parsePlusConfig,
  type PlusConfig,
  withCommandLine,
} from '../policy/config.ts';
import type { PlusKnobName } from '../policy/knobs.ts';
import { KsmLockHeld } from '../host/ksm_lock.ts';
import { requireHelper, requirePtrace } from '../host/ksm_native.ts';
import { requireKsm } from '../host/ksm_sysfs.ts';
import { PLUS_SOCKET, plusRequest, type PlusRequest, type PlusResponse } from '../host/plus_control.ts';
import { LivePlusDaemon, type LiveStatus } from '../host/plus_daemon.ts';
import { INJECT_SYSCALL } from '../host/inject.ts';
import { HostUnusable } from '../host/unusable.ts';
import { renderPlusList, renderPlusStatus } from '../report/plus_status.ts';
import { collect, collectStrings, parsePid, wholeNumber } from './args.ts';
import { untilStopped } from './signals.ts';

export interface PlusIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The largest config file read. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** A parser of `knob=value` options from one of policy/config.ts's. */
const setting =
  <T>(parse: (text: string) => T | string) =>
  (v: string): T => {
    const r = parse(v);
    if (typeof r === 'string') throw new InvalidArgumentError(r);
    return r;
  };

const pidAbove1 = (v: string): number => parsePid(v, 1);

interface RunOptions {
  readonly run?: true;
  readonly config?: string;
  readonly set: Array<[PlusKnobName, number]>;
  readonly ksmSet: Array<[string, string]>;
  readonly pid: number[];
  readonly cgroup: string[];
  readonly keepMarked?: true;
  readonly seed: number;
  readonly dir?: string;
  readonly socket?: string;
}

function readConfig(file: string): PlusConfig {
  const read = readInputFile(file, 'config file', MAX_CONFIG_BYTES);
  if (!read.ok) throw new HostUnusable(read.problem);
  const r = parsePlusConfig(read.bytes.toString('utf8'));
  if (!r.ok) throw new HostUnusable(`the config file is not valid:\n${formatConfigProblems(file, r.problems)}`);
  return r.config;
}

/** Runs the daemon in the foreground until a signal stops it. */
async function runDaemon(names: string[], opts: RunOptions, io: PlusIo): Promise<void> {
  requirePtrace('samepage plus');
  requireKsm();
  requireHelper(INJECT_SYSCALL);
  const config = withCommandLine(opts.config === undefined ? undefined : readConfig(opts.config), {
    names,
    pids: opts.pid,
    cgroups: opts.cgroup,
    knobs: opts.set,
    ksm: opts.ksmSet,
    run: opts.run === true,
    keepMarked: opts.keepMarked === true,
  });
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  const daemon = new LivePlusDaemon({
    names: config.programs,
    pids: config.pids,
    cgroups: config.cgroups,
    knobs: config.knobs,
    ksm: config.ksm,
    keepMarked: config.keepMarked,
    seed: opts.seed,
    log,
    ...(opts.dir === undefined ? {} : { dir: opts.dir }),
    ...(opts.socket === undefined ? {} : { socket: opts.socket }),
  });
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof KsmLockHeld)
      throw new HostUnusable(
        `${e.message}. samepage plus holds the KSM lock while it runs, so it cannot start beside it`,
      );
    throw new HostUnusable(`samepage plus cannot start: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (config.programs.length + config.pids.length + config.cgroups.length === 0)
    log(`nothing is selected yet: echo "+ NAME" > ${daemon.dir}/processes_to_scan, or samepage plus add NAME`);
  const signal = await untilStopped();
  await daemon.stop(signal === 'abort' ? 'SIGTERM' : signal).catch(() => undefined);
}

async function ask(req: PlusRequest, socket: string | undefined): Promise<PlusResponse & { ok: true }> {
  const res = await plusRequest(req, socket ?? PLUS_SOCKET);
  if (!res.ok) throw new Error(`${res.errno}: ${res.error}`);
  return res as PlusResponse & { ok: true };
}

export function registerPlus(program: Command, io: PlusIo, setExit: (code: number) => void): void {
  const plus = program
    .command('plus')
    .description(
      "KSM+ on a stock kernel: a daemon that samples the named programs' memory and marks only the ranges holding duplicates for ksmd (root)",
    );

  const socketOption = (c: Command): Command =>
    c.option('--socket <path>', `the daemon's socket (default ${PLUS_SOCKET})`);

  const run = plus
    .command('run', { isDefault: true })
    .description('run the daemon in the foreground with these programs selected, until Ctrl-C or SIGTERM')
    .argument('[names...]', 'programs to select: exact comms (see /proc/PID/comm), at most 15 bytes')
    .option('--run', "also set KSM's run=1 while the daemon runs (restored when it stops)")
    .option('--config <file>', 'a config file (YAML: programs, pids, cgroups, run, keep_marked, knobs, ksm)')
    .option(
      '--set <knob=value>',
      'a knob of the daemon, e.g. pages_to_scan=2000 (repeatable)',
      collect(setting(parseKnobSetting)),
      [],
    )
    .option(
      '--ksm-set <knob=value>',
      'a KSM knob to hold while the daemon runs, e.g. pages_to_scan=1000 (repeatable)',
      collect(setting(parseKsmSetting)),
      [],
    )
    .option('--pid <pid>', 'also select this process (repeatable)', collect(pidAbove1), [])
    .option(
      '--cgroup <path>',
      'also select every process in this cgroup or below, e.g. /system.slice/app.service',
      collectStrings,
      [],
    )
    .option('--keep-marked', 'when stopping, leave the marked ranges marked (their pages stay merged)')
    .option(
      '--seed <n>',
      "seed of the daemon's sampling",
      wholeNumber('a seed from 0 to 4294967295', 0, 2 ** 32 - 1),
      0,
    )
    .option('--dir <dir>', `the control directory (default ${PLUS_DIR})`);
  socketOption(run)
    .addHelpText(
      'after',
      `
The daemon samples each region of the selected processes (the thesis's coefficients: 100 %
of the pages in the first round, 10 points less each round, at least 1 %; a region with nothing
merged is dropped below 10 %), finds pages whose content another selected page or a KSM page
holds, and injects madvise(MADV_MERGEABLE) into the process on those ranges only (ptrace,
a pause of about 0.1 ms). ksmd, which must run (--run), merges them with one rmap_item per
marked page. Ranges that merge nothing are given back. Processes started later with a
selected name are picked up within a second. Stopping gives every range back and puts KSM's
knobs back. docs/ksmplus-live.md explains it all, with its measurements and risks.

Knobs (--set, the config's knobs:, and files of the control directory): pages_to_scan (2000),
sleep_millisecs (100), round_millisecs (1000), initial_coefficient (100), coefficient_step
(10), min_coefficient (1), drop_coefficient (10), merge_gap (8), demote_scans (3),
max_ranges (256), index_rounds (2).

The control directory works as the thesis's /sys/kernel/mm/ksm+:
  echo "+ firefox" > ${PLUS_DIR}/processes_to_scan
  cat ${PLUS_DIR}/processes_to_scan ${PLUS_DIR}/pages_sharing

Examples:
  sudo samepage plus --run firefox python3
  sudo samepage plus --config /etc/samepage/plus.yaml
  sudo samepage plus add chromium
  sudo samepage plus status`,
    )
    .action(async (names: string[], opts: RunOptions) => {
      await runDaemon(names, opts, io);
      setExit(0);
    });

  const target = (c: Command): Command =>
    socketOption(
      c
        .argument('[name]', 'a program name (exact comm)')
        .option('--pid <pid>', 'a process instead', pidAbove1)
        .option('--cgroup <path>', 'a cgroup instead'),
    );
  const change = async (
    cmd: 'add' | 'remove',
    name: string | undefined,
    opts: { pid?: number; cgroup?: string; socket?: string },
  ): Promise<void> => {
    const given = [name, opts.pid, opts.cgroup].filter((x) => x !== undefined).length;
    if (given !== 1) throw new Error('Give one of NAME, --pid PID or --cgroup PATH');
    const req: PlusRequest =
      name !== undefined
        ? { cmd, name }
        : opts.pid !== undefined
          ? { cmd, pid: opts.pid }
          : { cmd, cgroup: opts.cgroup! };
    await ask(req, opts.socket);
    setExit(0);
  };
  target(plus.command('add').description('select a program, a process or a cgroup in the running daemon')).action(
    (name: string | undefined, opts: { pid?: number; cgroup?: string; socket?: string }) => change('add', name, opts),
  );
  target(
    plus.command('remove').description('drop it from the selection; its marked ranges are given back (unmerged)'),
  ).action((name: string | undefined, opts: { pid?: number; cgroup?: string; socket?: string }) =>
    change('remove', name, opts),
  );
  socketOption(
    plus.command('list').description('what the running daemon has selected').option('--json', 'as JSON'),
  ).action(async (opts: { json?: true; socket?: string }) => {
    const r = (await ask({ cmd: 'list' }, opts.socket)) as unknown as {
      names: string[];
      pids: number[];
      cgroups: string[];
    };
    io.stdout.write(
      opts.json === true
        ? `${JSON.stringify({ names: r.names, pids: r.pids, cgroups: r.cgroups }, null, 2)}\n`
        : renderPlusList(r.names, r.pids, r.cgroups),
    );
    setExit(0);
  });
  socketOption(
    plus
      .command('status')
      .description(
        "the running daemon's processes, marked ranges, what ksmd merged, and its own cost against the saving",
      )
      .option('--json', 'as JSON'),
  ).action(async (opts: { json?: true; socket?: string }) => {
    const r = (await ask({ cmd: 'status' }, opts.socket)) as unknown as { status: LiveStatus };
    io.stdout.write(opts.json === true ? `${JSON.stringify(r.status, null, 2)}\n` : renderPlusStatus(r.status));
    setExit(0);
  });
  socketOption(
    plus
      .command('set')
      .description('set a knob of the running daemon')
      .argument('<knob=value>', 'e.g. pages_to_scan=2000'),
  ).action(async (text: string, opts: { socket?: string }) => {
    const eq = text.indexOf('=');
    if (eq <= 0) throw new Error(`Expected knob=value, got "${text}"`);
    await ask({ cmd: 'set', knob: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim() }, opts.socket);
    setExit(0);
  });
}
