/**
 * `samepage shell [SCRIPT]`: runs a script, or standard input line by line, through the
 * model's shell (backends/model/shell.ts).
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ModelShell, type ShellIo } from '../backends/model/shell.ts';

export function registerShell(program: Command, io: ShellIo, setExit: (code: number) => void): void {
  program
    .command('shell')
    .description(
      'a shell over the model: echo into /sys/kernel/mm/ksm and ksm+, cat counters, sleep, and scenario steps',
    )
    .argument('[script]', 'a script to run (default: read commands from standard input)')
    .option('--seed <n>', 'seed of the model', (v) => Number(v), 0)
    .addHelpText(
      'after',
      '\nExample (the thesis, Figure 5-9, then a look at the counters):\n' +
        '  spawn: { proc: o1, comm: okular }\n  mmap: { proc: o1, region: m, size: 8MiB }\n' +
        '  fill: { proc: o1, region: m, pattern: { page-mod: 16, seed: 1 } }\n' +
        '  echo "+ okular" > /sys/kernel/mm/ksm+/processes_to_scan\n  echo 1 > /sys/kernel/mm/ksm+/run\n' +
        '  sleep 65\n  cat /sys/kernel/mm/ksm+/pages_sharing\n\nExit code: 0 if every command succeeded, 1 otherwise.',
    )
    .action(async (script: string | undefined, opts: { seed: number }) => {
      const shell = await ModelShell.create(io, opts.seed);
      const lines =
        script !== undefined
          ? (await readFile(script, 'utf8')).split('\n')
          : createInterface({ input: process.stdin, terminal: false });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (!(await shell.execute(line, n))) break;
      }
      setExit(shell.failures === 0 ? 0 : 1);
    });
}
