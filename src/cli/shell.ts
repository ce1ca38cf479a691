/**
 * `samepage shell [SCRIPT]`: bash over the model (src/shell/). This file checks the options,
 * reads the script file, and runs the session on it or on standard input (shell/run.ts).
 */
import type { Command } from 'commander';
import { readInputFile } from '../lib/input_file.ts';
import { parseDuration } from '../shell/duration.ts';
import { parseSeed } from './args.ts';
import type { Io } from './run_program.ts';

/** The largest script read (as for scenario files): the shell parses it in linear time. */
const MAX_SCRIPT_BYTES = 32 * 1024 * 1024;

export function registerShell(program: Command, io: Io, setExit: (code: number) => void): void {
  program
    .command('shell')
    .description('bash over the model: /sys/kernel/mm/ksm, ksm+, parser and /proc/PID, with sleep on virtual time')
    .argument('[script]', 'a bash script to run (default: standard input; a prompt on a terminal)')
    .option('--seed <n>', 'seed of the model', parseSeed, 0)
    .option(
      '--max-time <duration>',
      'virtual time a script may run (a sleep past it stops the script, exit 124): 90, 90s, 10m, 2h',
      '1h',
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
    .action(async (script: string | undefined, opts: { seed: number; maxTime: string }) => {
      const maxVirtualMs = parseDuration(opts.maxTime);
      if (maxVirtualMs === undefined) {
        io.stderr.write(
          `samepage shell: --max-time must be a duration such as 90s, 10m or 2h, got "${opts.maxTime}"\n`,
        );
        setExit(2);
        return;
      }
      let text: string | undefined;
      if (script !== undefined) {
        // A regular file only: /dev/zero would be read for ever, a FIFO would block.
        const read = readInputFile(script, 'script', MAX_SCRIPT_BYTES);
        if (!read.ok) {
          io.stderr.write(`samepage shell: ${read.problem}\n`);
          setExit(2);
          return;
        }
        text = read.bytes.toString('utf8');
      }
      // The bash interpreter loads when a shell runs, not with every samepage command.
      const { runShell } = await import('../shell/run.ts');
      const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
      const { stdout, stderr } = io;
      setExit(await runShell(text, { seed: opts.seed, bootEpochMs: Date.now(), maxVirtualMs, stdout, stderr, pause }));
    });
}
