/**
 * `samepage kernel exec`: runs a program under samepage-exec-merge (MERGE_ANY set, then
 * execvp), passing through stdio, forwarding signals and returning its exit status as a
 * shell would report it; with `--run`, ksm/run held at 1 meanwhile (ksm_run_hold.ts).
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { commandRuns } from './command_path.ts';
import { refuseBesidePlusDaemon } from './ksm_lock.ts';
import { EXEC_MERGE, requireHelper } from './ksm_native.ts';
import { RunHold, type RunHoldIo } from './ksm_run_hold.ts';
import { ksmStoppedNote, readSharing, requireKsm } from './ksm_sysfs.ts';
import { mergeProgress } from './merge_any.ts';

export interface ExecMergedOptions {
  /** The samepage-exec-merge binary. */
  readonly helper: string;
  /** Called once the program runs (its pid is the program's: the helper execs it). */
  readonly onStart?: (pid: number) => void;
  /**
   * Forward SIGINT too. At a terminal Ctrl-C already reaches the program (it shares our
   * foreground process group), so forwarding would deliver it twice; default: only when
   * stdin is not a TTY.
   */
  readonly forwardSigint?: boolean;
}

/** The program's exit: its code, or 128 + the signal number that killed it. */
export interface ExecExit {
  readonly code: number;
  readonly signal?: NodeJS.Signals;
}

const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Starts `cmd args` merged; resolves when it has exited (or failed to start). */
export function execMerged(cmd: string, args: readonly string[], opts: ExecMergedOptions): Promise<ExecExit> {
  const forwardInt = opts.forwardSigint ?? process.stdin.isTTY !== true;
  return new Promise((resolve, reject) => {
    const child = spawn(opts.helper, [cmd, ...args], { stdio: 'inherit' });
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const sig of FORWARDED) {
      const h = (): void => {
        if (sig === 'SIGINT' && !forwardInt) return; // the terminal sent it to the program too
        if (child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.once('spawn', () => {
      if (child.pid !== undefined) opts.onStart?.(child.pid);
    });
    child.once('error', (err) => {
      cleanup();
      reject(new Error(`Cannot start ${opts.helper}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (signal !== null) {
        const n = (osConstants.signals as Record<string, number | undefined>)[signal] ?? 0;
        resolve({ code: 128 + n, signal });
      } else resolve({ code: code ?? 0 });
    });
  });
}

export interface RunMergedOptions {
  /** Hold ksm/run at 1 while the program runs (`--run`), telling `hold` what happens. */
  readonly hold?: RunHoldIo;
  /** With `hold`: after this many seconds, `onReport` is told what merged (0: never). */
  readonly reportAfter: number;
  readonly onReport: (
    before: { readonly sharing: number; readonly shared: number },
    now: ReturnType<typeof mergeProgress>,
  ) => void;
  /** Told that ksmd is stopped, when it is and `hold` is not given. */
  readonly onNote: (message: string) => void;
}

/**
 * The whole of `kernel exec`: refuses where it cannot run (no KSM, a KSM+ daemon deciding,
 * the helper not built), takes the run hold if asked, runs the program, and gives run back
 * on every way out.
 */
export async function runMerged(cmd: string, args: readonly string[], opts: RunMergedOptions): Promise<ExecExit> {
  requireKsm();
  refuseBesidePlusDaemon();
  const helper = requireHelper(EXEC_MERGE);
  // A program that will not start gets neither the run hold nor the note: the helper alone
  // says why it did not start (127 or 126), as a shell would.
  const runs = commandRuns(cmd, process.env.PATH);
  const hold = opts.hold === undefined || !runs ? undefined : new RunHold(opts.hold);
  if (hold !== undefined) await hold.take();
  else if (runs) {
    const note = ksmStoppedNote();
    if (note !== undefined) opts.onNote(note);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const before = readSharing();
    return await execMerged(cmd, args, {
      helper,
      onStart: (pid) => {
        if (hold === undefined || opts.reportAfter <= 0) return;
        timer = setTimeout(() => opts.onReport(before, mergeProgress([pid])), opts.reportAfter * 1000);
        timer.unref();
      },
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    hold?.restore();
  }
}
