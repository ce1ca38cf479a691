/**
 * `samepage plus`: the KSM+ daemon for stock kernels (src/host/plus_daemon.ts, the policy in
 * src/policy/). `samepage plus [NAME...]` runs it in the foreground until Ctrl-C or SIGTERM;
 * `add`, `remove`, `list`, `status` and `set` talk to the running one over its socket. This
 * file parses, calls and prints.
 */
import type { Command } from 'commander';
import { PLUS_DIR } from '../lib/plus_files.ts';
import { parseKnobSetting, parseKsmSetting } from '../policy/config.ts';
import { KNOB_SPECS, PLUS_DEFAULTS as d, type PlusKnobName } from '../policy/knobs.ts';
import { askPlus, PLUS_SOCKET, setRequest, targetRequest } from '../host/plus_control.ts';
import type { LiveStatus } from '../host/plus_daemon.ts';
import { runPlusDaemon } from '../host/plus_run.ts';
import { renderPlusList, renderPlusStatus } from '../report/plus_status.ts';
import { untilStopped } from '../term/signals.ts';
import { checked, collect, collectStrings, parsePid, wholeNumber } from './args.ts';
import { Output } from '../term/output.ts';
import type { Io } from '../term/output.ts';

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

interface TargetOptions {
  readonly pid?: number;
  readonly cgroup?: string;
  readonly socket?: string;
}

export function registerPlus(program: Command, io: Io, setExit: (code: number) => void): void {
  const out = new Output(io);
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
      collect(checked(parseKnobSetting, 'knob=value')),
      [],
    )
    .option(
      '--ksm-set <knob=value>',
      'a KSM knob to hold while the daemon runs, e.g. pages_to_scan=1000 (repeatable)',
      collect(checked(parseKsmSetting, 'knob=value')),
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
The daemon samples each region of the selected processes (the thesis's coefficients: ${d.initial_coefficient} %
of the pages in the first round, ${d.coefficient_step} points less each round, at least ${d.min_coefficient} %; a region with nothing
merged is dropped below ${d.drop_coefficient} %), finds pages whose content another selected page or a KSM page
holds, and injects madvise(MADV_MERGEABLE) into the process on those ranges only (ptrace,
a pause of about 0.1 ms). ksmd, which must run (--run), merges them with one rmap_item per
marked page. Ranges that merge nothing are given back. Processes started later with a
selected name are picked up within a second. Stopping gives every range back and puts KSM's
knobs back. docs/ksmplus-live.md explains it all, with its measurements and risks.

Knobs (--set, the config's knobs:, and files of the control directory), with their defaults:
${KNOB_SPECS.map((k) => `  ${k.name.padEnd(20)} ${String(k.default).padStart(5)}  ${k.what}`).join('\n')}

The control directory works as the thesis's /sys/kernel/mm/ksm+ (its files are root's):
  echo "+ firefox" | sudo tee ${PLUS_DIR}/processes_to_scan
  cat ${PLUS_DIR}/processes_to_scan ${PLUS_DIR}/pages_sharing

Examples:
  sudo samepage plus --run firefox python3
  sudo samepage plus --config /etc/samepage/plus.yaml
  sudo samepage plus add chromium
  sudo samepage plus status`,
    )
    .action(async (names: string[], opts: RunOptions) => {
      await runPlusDaemon({
        ...opts,
        names,
        pids: opts.pid,
        cgroups: opts.cgroup,
        knobs: opts.set,
        ksm: opts.ksmSet,
        run: opts.run === true,
        keepMarked: opts.keepMarked === true,
        log: (line) => io.stderr.write(`${line}\n`),
        until: () => untilStopped(),
      });
      setExit(0);
    });

  const target = (c: Command): Command =>
    socketOption(
      c
        .argument('[name]', 'a program name (exact comm)')
        .option('--pid <pid>', 'a process instead', pidAbove1)
        .option('--cgroup <path>', 'a cgroup instead'),
    );
  for (const [cmd, about] of [
    ['add', 'select a program, a process or a cgroup in the running daemon'],
    [
      'remove',
      'drop it from the selection; its marked ranges are given back (unmerged); an error if it is not selected',
    ],
  ] as const)
    target(plus.command(cmd).description(about)).action(async (name: string | undefined, opts: TargetOptions) => {
      await askPlus(targetRequest(cmd, { ...opts, name }), opts.socket);
      setExit(0);
    });
  socketOption(
    plus.command('list').description('what the running daemon has selected').option('--json', 'as JSON'),
  ).action(async (opts: { json?: true; socket?: string }) => {
    const r = (await askPlus({ cmd: 'list' }, opts.socket)) as { names: string[]; pids: number[]; cgroups: string[] };
    const { names, pids, cgroups } = r;
    out.result(opts.json, { names, pids, cgroups }, () => renderPlusList(names, pids, cgroups));
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
    const { status } = (await askPlus({ cmd: 'status' }, opts.socket)) as { status: LiveStatus };
    out.result(opts.json, status, () => renderPlusStatus(status));
    setExit(0);
  });
  socketOption(
    plus
      .command('set')
      .description('set a knob of the running daemon')
      .argument('<knob=value>', 'e.g. pages_to_scan=2000'),
  ).action(async (text: string, opts: { socket?: string }) => {
    await askPlus(setRequest(text), opts.socket);
    setExit(0);
  });
}
