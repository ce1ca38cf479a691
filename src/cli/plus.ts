/**
 * `samepage plus`: the KSM+ daemon for stock kernels (src/host/plus_daemon.ts, the policy in
 * src/policy/). `samepage plus [NAME...]` runs it in the foreground until Ctrl-C or SIGTERM;
 * `add`, `remove`, `list`, `status` and `set` talk to the running one over its socket. This
 * file parses, calls and prints.
 */
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { PLUS_DIR } from '../lib/plus_files.ts';
import { formatConfigProblems, parsePlusConfig, type PlusConfig } from '../policy/config.ts';
import { knobSpec, parseKnobValue, type PlusKnobName } from '../policy/knobs.ts';
import { KsmLockHeld } from '../host/ksm_lock.ts';
import { missingHelper, nativeHelperPath, ptraceRefusal } from '../host/ksm_native.ts';
import { ksmPresent, KSM_DIR } from '../host/ksm_sysfs.ts';
import { PLUS_SOCKET, plusRequest, type PlusRequest, type PlusResponse } from '../host/plus_control.ts';
import { LivePlusDaemon, type LiveStatus } from '../host/plus_daemon.ts';
import { INJECT_SYSCALL } from '../host/inject.ts';
import { renderPlusList, renderPlusStatus } from '../report/plus_status.ts';

export interface PlusIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Thrown for what cannot run here: main prints it as `samepage: <message>` and exits 2. */
class PlusUnusable extends Error {
  override readonly name = 'PlusUnusable';
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function parsePid(v: string, prev: number[]): number[] {
  if (!/^\d+$/.test(v) || Number(v) <= 1 || !Number.isSafeInteger(Number(v)))
    throw new InvalidArgumentError(`Expected a process id above 1, got "${v}".`);
  return [...prev, Number(v)];
}

/** `knob=value` of the daemon's knobs, checked against its range. */
function parseSet(v: string, prev: Array<[PlusKnobName, number]>): Array<[PlusKnobName, number]> {
  const eq = v.indexOf('=');
  const name = v.slice(0, eq).trim();
  const spec = eq > 0 ? knobSpec(name) : undefined;
  if (spec === undefined || name === 'run')
    throw new InvalidArgumentError(`Expected knob=value with a knob of the daemon (see --help), got "${v}".`);
  const value = parseKnobValue(spec, v.slice(eq + 1));
  if (value === undefined)
    throw new InvalidArgumentError(
      `${name} takes a whole number from ${spec.min} to ${spec.max}, got "${v.slice(eq + 1)}".`,
    );
  return [...prev, [spec.name, value]];
}

function parseKsmSet(v: string, prev: Array<[string, string]>): Array<[string, string]> {
  const m = /^(pages_to_scan|sleep_millisecs|max_page_sharing|smart_scan|use_zero_pages)=(\S+)$/.exec(v);
  if (m === null)
    throw new InvalidArgumentError(
      `Expected pages_to_scan, sleep_millisecs, max_page_sharing, smart_scan or use_zero_pages =VALUE, got "${v}" (run: use --run).`,
    );
  return [...prev, [m[1]!, m[2]!]];
}

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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlusUnusable(`cannot read the config file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const r = parsePlusConfig(text);
  if (!r.ok) throw new PlusUnusable(`the config file is not valid:\n${formatConfigProblems(file, r.problems)}`);
  return r.config;
}

/** Runs the daemon in the foreground until a signal stops it. */
async function runDaemon(names: string[], opts: RunOptions, io: PlusIo): Promise<void> {
  const refusal = ptraceRefusal();
  if (refusal !== undefined) throw new PlusUnusable(`samepage plus ${refusal}`);
  if (!ksmPresent()) throw new PlusUnusable(`${KSM_DIR} is missing: this kernel has no KSM (CONFIG_KSM)`);
  const helper = nativeHelperPath(INJECT_SYSCALL);
  const missing = missingHelper(helper);
  if (missing !== undefined) throw new PlusUnusable(missing);
  const config = opts.config === undefined ? undefined : readConfig(opts.config);
  const knobs: Partial<Record<PlusKnobName, number>> = { ...config?.knobs };
  for (const [k, v] of opts.set) knobs[k] = v;
  const ksm: Record<string, string> = { ...config?.ksm };
  for (const [k, v] of opts.ksmSet) ksm[k] = v;
  if (opts.run === true) ksm.run = '1';
  const allNames = [...new Set([...(config?.programs ?? []), ...names])];
  const pids = [...new Set([...(config?.pids ?? []), ...opts.pid])];
  const cgroups = [...new Set([...(config?.cgroups ?? []), ...opts.cgroup])];
  const log = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  const daemon = new LivePlusDaemon({
    names: allNames,
    pids,
    cgroups,
    knobs,
    ksm,
    keepMarked: opts.keepMarked === true || config?.keepMarked === true,
    seed: opts.seed,
    log,
    ...(opts.dir === undefined ? {} : { dir: opts.dir }),
    ...(opts.socket === undefined ? {} : { socket: opts.socket }),
  });
  try {
    await daemon.start();
  } catch (e) {
    if (e instanceof KsmLockHeld)
      throw new PlusUnusable(
        `${e.message}. samepage plus holds the KSM lock while it runs, so it cannot start beside it`,
      );
    throw new PlusUnusable(`samepage plus cannot start: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (allNames.length + pids.length + cgroups.length === 0)
    log(`nothing is selected yet: echo "+ NAME" > ${daemon.dir}/processes_to_scan, or samepage plus add NAME`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
      void daemon.stop(signal).then(resolve, resolve);
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  });
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
    .option('--set <knob=value>', 'a knob of the daemon, e.g. pages_to_scan=2000 (repeatable)', parseSet, [])
    .option(
      '--ksm-set <knob=value>',
      'a KSM knob to hold while the daemon runs, e.g. pages_to_scan=1000 (repeatable)',
      parseKsmSet,
      [],
    )
    .option('--pid <pid>', 'also select this process (repeatable)', parsePid, [])
    .option(
      '--cgroup <path>',
      'also select every process in this cgroup or below, e.g. /system.slice/app.service',
      collect,
      [],
    )
    .option('--keep-marked', 'when stopping, leave the marked ranges marked (their pages stay merged)')
    .option('--seed <n>', "seed of the daemon's sampling", (v) => Number(v) >>> 0, 0)
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
        .option('--pid <pid>', 'a process instead', (v) => parsePid(v, [])[0]!)
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
