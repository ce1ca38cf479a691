/**
 * `samepage shell [SCRIPT]`: bash over the model (src/shell/). This file checks the options
 * and runs the session on the script file or on standard input (shell/run.ts).
 */
import { type Command, Option } from 'commander';
import { formatDuration } from '../lib/duration.ts';
import { MAX_WAIT_MS } from '../scenario/schema.ts';
import { parseDuration } from '../shell/duration.ts';
import { checked, parseSeed } from './args.ts';
import type { Io } from '../term/output.ts';

/** --max-time: a duration the model's clock can count exactly. */
function maxTime(text: string): number | string | undefined {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= MAX_WAIT_MS) return ms;
  return `--max-time must be at most ${formatDuration(MAX_WAIT_MS * 1e6)} (the model's clock counts nanoseconds exactly up to 2^53), got ${text}`;
}

export function registerShell(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('shell')
    .description('bash over the model: /sys/kernel/mm/ksm, ksm+, parser and /proc/PID, with sleep on virtual time')
    .argument('[script]', 'a bash script to run (default: standard input; a prompt on a terminal)')
    .option('--seed <n>', 'seed of the model', parseSeed, 0)
    .addOption(
      new Option(
        '--max-time <duration>',
        'virtual time a script may run (a sleep past it stops the script, exit 124): 90, 90s, 10m, 2h',
      )
        .argParser(checked(maxTime, 'a duration such as 90s, 10m or 2h'))
        .default(3_600_000, '1h'),
    )
    .addHelpText(
      'after',
      '\nThe thesis, Figure 5-9, then a look at the counters:\n' +
        '  spawn: { proc: o1, comm: okular }\n  mmap: { proc: o1, region: m, size: 8MiB }\n' +
        '  fill: { proc: o1, region: m, pattern: { page-mod: 16, seed: 1 } }\n' +
        '  echo "+ okular" > /sys/kernel/mm/ksm+/processes_to_scan\n  echo 1 > /sys/kernel/mm/ksm+/run\n' +
        '  sleep 65\n  cat /sys/kernel/mm/ksm+/pages_sharing /proc/$(pgrep -x okular)/ksm_stat\n\n' +
        'Type help at the prompt for the files and commands. Exit code: that of the last command, as\n' +
        "bash's (2 for a syntax error, 124 when --max-time stops the script, 130 after Ctrl-C).",
    )
    .action(async (script: string | undefined, opts: { seed: number; maxTime: number }) => {
      // The bash interpreter loads when a shell runs, not with every samepage command.
      const { runShell } = await import('../shell/run.ts');
      const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
      const { stdout, stderr } = io;
      const shell = { seed: opts.seed, bootEpochMs: Date.now(), maxVirtualMs: opts.maxTime, stdout, stderr, pause };
      setExit(await runShell(script, shell));
    });
}
