/**
 * `samepage plus` in the foreground: the checks that it may run here (ptrace, KSM, the
 * injector built), its config file read and merged with the command line, the daemon
 * started, and stopped again when the user says so.
 */
import { readInputFile } from '../lib/input_file.ts';
import {
  type CommandLineChoices,
  formatConfigProblems,
  parsePlusConfig,
  type PlusConfig,
  withCommandLine,
} from '../policy/config.ts';
import { INJECT_SYSCALL } from './inject.ts';
import { KsmLockHeld } from './ksm_lock.ts';
import { requireHelper, requirePtrace } from './ksm_native.ts';
import { requireKsm } from './ksm_sysfs.ts';
import { LivePlusDaemon } from './plus_daemon.ts';
import { HostUnusable } from './unusable.ts';

/** The largest config file read. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface PlusRunOptions extends CommandLineChoices {
  /** A config file (YAML), read before the command line's choices are added. */
  readonly config?: string | undefined;
  readonly seed: number;
  readonly dir?: string | undefined;
  readonly socket?: string | undefined;
  /** One line per decision and event, for people. */
  readonly log: (line: string) => void;
  /** Resolves with the signal that stops the daemon ('abort': a test's stop, taken as SIGTERM). */
  readonly until: () => Promise<NodeJS.Signals | 'abort'>;
}

/** A config file read and checked; its problems, with their paths, as a HostUnusable. */
export function readPlusConfig(file: string): PlusConfig {
  const read = readInputFile(file, 'config file', MAX_CONFIG_BYTES);
  if (!read.ok) throw new HostUnusable(read.problem);
  const r = parsePlusConfig(read.bytes.toString('utf8'));
  if (!r.ok) throw new HostUnusable(`the config file is not valid:\n${formatConfigProblems(file, r.problems)}`);
  return r.config;
}

/** Runs the daemon until `until` resolves, then stops it (giving back what it changed). */
export async function runPlusDaemon(opts: PlusRunOptions): Promise<void> {
  requirePtrace('samepage plus');
  requireKsm();
  requireHelper(INJECT_SYSCALL);
  const config = withCommandLine(opts.config === undefined ? undefined : readPlusConfig(opts.config), opts);
  const daemon = new LivePlusDaemon({
    names: config.programs,
    pids: config.pids,
    cgroups: config.cgroups,
    knobs: config.knobs,
    ksm: config.ksm,
    keepMarked: config.keepMarked,
    seed: opts.seed,
    log: opts.log,
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
    opts.log(`nothing is selected yet: echo "+ NAME" > ${daemon.dir}/processes_to_scan, or samepage plus add NAME`);
  const signal = await opts.until();
  await daemon.stop(signal === 'abort' ? 'SIGTERM' : signal).catch(() => undefined);
}
