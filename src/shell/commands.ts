/**
 * The commands the shell adds to, or changes in, the interpreter library's set: those that
 * need the model (`sleep` and `date` on virtual time, `pgrep`/`pidof` over its tasks, the
 * scenario steps that create processes), and `cat`, whose errors must name the errno
 * (the library says "No such file or directory" for every failed read).
 */
import type { CustomCommand, ExecResult } from 'just-bash';
import { defineCommand } from 'just-bash';
import { strerror } from '../lib/errno.ts';
import { errnoOf } from './model_fs.ts';
import { HELP, LIMIT_STATUS } from './rewrite.ts';

/** What the commands need of the session. */
export interface ShellHost {
  /** Virtual time since boot, in milliseconds. */
  nowMs(): number;
  /** Wall-clock time at boot, in milliseconds since the epoch (`date` adds virtual time). */
  readonly bootEpochMs: number;
  /** Runs the machine for `ms`; false (having said why) when that would pass the time limit. */
  sleep(ms: number): boolean;
  /** Live processes in pid order. */
  tasks(): ReadonlyArray<{ readonly pid: number; readonly comm: string }>;
  /** Runs one scenario step written as its YAML one-liner; its output and errors. */
  step(text: string): Promise<ExecResult>;
  /** The text of `help`. */
  help(): string;
  /** Lets Ctrl-C through (see ShellOptions.pause). */
  pause(): Promise<void>;
}

const ok = (stdout = ''): ExecResult => ({ stdout, stderr: '', exitCode: 0 });
const fail = (stderr: string, exitCode = 1): ExecResult => ({ stdout: '', stderr, exitCode });

/** GNU sleep's units. */
const UNITS: Readonly<Record<string, number>> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** GNU sleep's operands: numbers as strtod reads them (1e3, 0x10, inf), each with a unit. */
export function sleepSeconds(args: readonly string[]): number | string {
  if (args.length === 0) return "sleep: missing operand\nTry 'sleep --help' for more information.\n";
  let total = 0;
  for (const a of args) {
    const m = /^(.*?)([smhd]?)$/.exec(a)!;
    const num = m[1]!;
    const value = /^(inf|infinity)$/i.test(num)
      ? Number.POSITIVE_INFINITY
      : /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(num) || /^[+]?0x[0-9a-f]+$/i.test(num)
        ? Number(num.replace(/^\+/, ''))
        : Number.NaN;
    if (Number.isNaN(value) || num === '') {
      return `sleep: invalid time interval '${a}'\nTry 'sleep --help' for more information.\n`;
    }
    total += value * UNITS[m[2]!]!;
  }
  return total;
}

/** date's options that name another time than now (then the library's date answers as is). */
const DATE_SOURCE = /^(-d|--date|-r|--reference|-s|--set|-f|--file)(=|$)|^-[uR]*[drsf]/;

export function shellCommands(host: ShellHost, stepKinds: readonly string[]): CustomCommand[] {
  const sleep = defineCommand('sleep', async (args) => {
    const s = sleepSeconds(args);
    if (typeof s === 'string') return fail(s);
    await host.pause();
    return host.sleep(s * 1000) ? ok() : fail('', LIMIT_STATUS);
  });

  const date = defineCommand('date', async (args, ctx) => {
    if (args.some((a) => DATE_SOURCE.test(a)) || ctx.origCommand === undefined) {
      return ctx.origCommand?.(args) ?? fail('date: unavailable\n');
    }
    const seconds = Math.floor((host.bootEpochMs + host.nowMs()) / 1000);
    return ctx.origCommand(['-d', `@${seconds}`, ...args]);
  });

  const cat = defineCommand('cat', async (args, ctx) => {
    if (args.some((a) => a.startsWith('-') && a !== '-') || ctx.origCommand === undefined) {
      return ctx.origCommand?.(args) ?? fail('cat: unavailable\n');
    }
    await host.pause();
    let stdout = '';
    let stderr = '';
    for (const f of args.length === 0 ? ['-'] : args) {
      if (f === '-') {
        stdout += (await ctx.origCommand([])).stdout;
        continue;
      }
      try {
        stdout += await ctx.fs.readFile(ctx.fs.resolvePath(ctx.cwd, f));
      } catch (e) {
        stderr += `cat: ${f}: ${strerror(errnoOf(e))}\n`;
      }
    }
    return { stdout, stderr, exitCode: stderr === '' ? 0 : 1 };
  });

  const pgrep = defineCommand('pgrep', async (args) => {
    await host.pause();
    const flags = args.filter((a) => /^-[xlc]+$/.test(a)).join('');
    const patterns = args.filter((a) => !/^-[xlc]+$/.test(a));
    if (patterns.length !== 1) return fail('pgrep: no matching criteria specified\n', 2);
    let re: RegExp;
    try {
      re = new RegExp(flags.includes('x') ? `^(?:${patterns[0]})$` : patterns[0]!);
    } catch {
      return fail(`pgrep: invalid pattern '${patterns[0]}'\n`, 2);
    }
    const found = host.tasks().filter((t) => re.test(t.comm));
    if (flags.includes('c')) return { stdout: `${found.length}\n`, stderr: '', exitCode: found.length > 0 ? 0 : 1 };
    const lines = found.map((t) => (flags.includes('l') ? `${t.pid} ${t.comm}` : String(t.pid)));
    return { stdout: lines.map((l) => `${l}\n`).join(''), stderr: '', exitCode: found.length > 0 ? 0 : 1 };
  });

  const pidof = defineCommand('pidof', async (args) => {
    const names = new Set(args.filter((a) => !a.startsWith('-')));
    const pids = host
      .tasks()
      .filter((t) => names.has(t.comm))
      .map((t) => t.pid)
      .reverse();
    return pids.length > 0 ? ok(`${pids.join(' ')}\n`) : fail('');
  });

  const help = defineCommand(HELP, async () => ok(host.help()));

  const steps = stepKinds.map((kind) =>
    defineCommand(`${kind}:`, async (args) => host.step(`${kind}: ${args.join(' ')}`)),
  );
  return [sleep, date, cat, pgrep, pidof, help, ...steps];
}
