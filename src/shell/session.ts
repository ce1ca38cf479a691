/**
 * `samepage shell`: bash scripts over the model, on virtual time. The bash interpreter is
 * the just-bash library (variables, `$( )`, `$(( ))`, control flow, functions, pipes,
 * redirections, grep/awk/sed/cut/printf/date…); samepage gives it the model's files
 * (model_fs.ts), the commands that need the model (commands.ts) and bash's way of reading a
 * script (chunks.ts).
 *
 * One interpreter run lasts the whole session, so variables, functions and options live on
 * from command to command: a small driver loop asks `__samepage_next` for the next complete
 * command, which it writes to a file, and `source`s it with its output sent to files that
 * stream to the terminal as each command finishes.
 */
import type { ExecResult } from 'just-bash';
import { Bash, defineCommand, parse, serialize } from 'just-bash';
import { ENOENT, errnoNumber, strerror } from '../lib/errno.ts';
import { createModelBackend, type ModelBackend } from '../backends/model/index.ts';
import { parseStep } from '../scenario/parse.ts';
import { runStep, type Collected } from '../scenario/run.ts';
import { STEP_KINDS } from '../scenario/schema.ts';
import { runFor, whyWaitCannotFinish } from '../system.ts';
import { ChunkReader, type LineSource } from './chunks.ts';
import { shellCommands, type ShellHost } from './commands.ts';
import { SHELL_HELP } from './help.ts';
import { ModelFs } from './model_fs.ts';
import { BASH_BUILTINS, LIMIT_STATUS, PRELUDE, rewriteCommands, STATUS, WRITE_CHECK } from './rewrite.ts';

export interface ShellOutput {
  write(text: string): unknown;
}

export interface ShellOptions {
  readonly seed: number;
  /** Wall-clock time of the model's boot, ms since the epoch: `date` shows it plus virtual time. */
  readonly bootEpochMs: number;
  /**
   * The virtual time a script may run for, in ms (at a prompt: each command); a `sleep` past
   * it stops the script (the command).
   */
  readonly maxVirtualMs: number;
  readonly stdout: ShellOutput;
  readonly stderr: ShellOutput;
  /**
   * Lets the process handle its events (Ctrl-C) for a moment; called by samepage's commands.
   * The interpreter itself never waits between commands, so without this a loop could not be
   * interrupted.
   */
  readonly pause?: () => Promise<void>;
}

const RUN_DIR = '/run/samepage';
const CHUNK = `${RUN_DIR}/command`;
const STDOUT = `${RUN_DIR}/stdout`;
const STDERR = `${RUN_DIR}/stderr`;
const NEXT = '__samepage_next';
const DRIVER = `while ${NEXT} $?; do source ${CHUNK} >>${STDOUT} 2>>${STDERR}; done`;

/** A model filesystem error as the library prints it raw (FsError's message), maybe after a command name. */
const FS_ERROR_LINE = /^(?:([\w.-]+): )?(E[A-Z]+): [a-z ,/]+, \w+ '(.*)'$/gm;

/** Why the interpreter stopped before the input ended. */
type Stopped = 'limit' | 'interrupt' | 'runaway' | undefined;

/** The library's message when a loop reaches maxLoopIterations. */
const RUNAWAY = /^bash: (\w+ loop): too many iterations \((\d+)\).*$/m;

/** Variables of the interpreter's own that a restarted driver must not be handed. */
const OWN_VARS = new Set(['BASHOPTS', 'SHELLOPTS', 'BASHPID', 'PPID', 'UID', 'EUID', 'PWD', 'OLDPWD', '_']);

export class ShellSession implements ShellHost {
  readonly #backend: ModelBackend;
  readonly #fs: ModelFs;
  readonly #bash: Bash;
  readonly #opts: ShellOptions;
  readonly #steps: Collected = { records: [], expects: [], calls: [] };
  /** Top-level functions by name, as source: they survive an interrupted run. */
  readonly #functions = new Map<string, string>();
  #reader: ChunkReader | undefined;
  #interactive = false;
  #script: string | undefined;
  #abort = new AbortController();
  #status = 0;
  #ended: 'end' | 'syntax' | undefined;
  #stopped: Stopped;
  /** Bash to run before the next command: the prelude, and after an interrupt the functions. */
  #restartPrelude = PRELUDE;
  #stepIndex = 0;
  /** The shell's variables when the last command started: a restart gets them back. */
  #vars: Record<string, string> = {};
  /** Virtual time (ms) a sleep may not pass. */
  #deadlineMs = 0;

  private constructor(backend: ModelBackend, opts: ShellOptions) {
    this.#backend = backend;
    this.#opts = opts;
    this.#fs = new ModelFs(() => backend.system(), {
      [STDOUT]: (t) => opts.stdout.write(t),
      [STDERR]: (t) => this.#err(t),
    });
    this.#bash = new Bash({
      fs: this.#fs,
      cwd: '/root',
      env: { HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      customCommands: [...shellCommands(this, STEP_KINDS), ...this.#driverCommands()],
      executionLimits: {
        maxCommandCount: Number.POSITIVE_INFINITY,
        // Ctrl-C cannot reach a loop that never waits (the interpreter does not yield to
        // signals in between its commands): a million rounds bound it.
        maxLoopIterations: 1_000_000,
        maxExecutionTimeMs: Number.POSITIVE_INFINITY,
      },
    });
  }

  static async create(opts: ShellOptions): Promise<ShellSession> {
    const backend = createModelBackend({ seed: opts.seed });
    await backend.start({
      version: 1,
      name: 'shell',
      description: undefined,
      machine: { ram: 2 ** 30, numaNodes: 1 },
      ksm: [],
      steps: [],
      stepLines: [],
    });
    const session = new ShellSession(backend, opts);
    await session.#fs.prepare(['/root', '/tmp', RUN_DIR]);
    return session;
  }

  /**
   * Runs commands from `source` to its end (or `exit`); the exit status, as bash's.
   * `script`: the file the lines come from, named with its line in a syntax error, as bash does.
   */
  async run(source: LineSource, interactive: boolean, script?: string): Promise<number> {
    this.#reader = new ChunkReader(source, interactive);
    this.#interactive = interactive;
    this.#script = script;
    this.#deadlineMs = this.nowMs() + this.#opts.maxVirtualMs;
    let env: Record<string, string> | undefined;
    for (;;) {
      this.#abort = new AbortController();
      this.#ended = undefined;
      this.#stopped = undefined;
      const r = await this.#bash.exec(DRIVER, {
        signal: this.#abort.signal,
        rawScript: true,
        ...(env === undefined ? {} : { env }),
      });
      // Set by the commands while the run went on (TypeScript cannot see that).
      const stopped = RUNAWAY.test(r.stderr) ? 'runaway' : (this.#stopped as Stopped);
      this.#flushOutput(r);
      if (this.#ended !== undefined) return this.#ended === 'syntax' ? 2 : this.#status;
      if (stopped === 'limit' && !interactive) return LIMIT_STATUS;
      if (stopped !== undefined && interactive) {
        // The interpreter stopped mid-command: start it again with the variables and
        // top-level functions it had (arrays and shell options start afresh).
        env = Object.fromEntries(
          Object.entries(this.#vars).filter(([k]) => /^[A-Za-z_]\w*$/.test(k) && !OWN_VARS.has(k)),
        );
        this.#restartPrelude = [PRELUDE, ...this.#functions.values()].join('\n');
        this.#status = stopped === 'interrupt' ? 130 : stopped === 'limit' ? LIMIT_STATUS : r.exitCode;
        continue;
      }
      if (stopped === 'interrupt') return 130;
      return r.exitCode;
    }
  }

  /** Ctrl-C while a command runs: stop it (the interpreter stops at the next command). */
  interrupt(): void {
    this.#stopped = 'interrupt';
    this.#abort.abort();
  }

  /** Parser calls of the script read so far (a test checks they grow linearly). */
  get parses(): number {
    return this.#reader?.parses ?? 0;
  }

  #flushOutput(r: ExecResult): void {
    if (r.stdout !== '') this.#opts.stdout.write(r.stdout);
    // The interpreter's own message for an interrupted run is not bash's.
    const stderr = this.#stopped === 'interrupt' ? '' : r.stderr;
    if (stderr !== '') this.#err(stderr);
  }

  /**
   * Standard error, with the library's words for a failed open made Linux's: its generic
   * "cannot open redirect target", and the model filesystem's errors it prints as they are.
   */
  #err(text: string): void {
    this.#opts.stderr.write(
      text
        .replace(/^bash: (.*): cannot open redirect target$/gm, (_m, target: string) => {
          return `bash: ${target}: ${strerror(this.#fs.openError(target))}`;
        })
        .replace(
          RUNAWAY,
          (_m, what: string, n: string) =>
            `samepage shell: stopped a ${what} after ${n} rounds without a sleep (Ctrl-C cannot reach it)`,
        )
        .replace(FS_ERROR_LINE, (_m, who: string | undefined, code: string, path: string) => {
          return `${who ?? 'bash'}: ${path}: ${strerror(errnoNumber(code) ?? ENOENT)}`;
        }),
    );
  }

  #driverCommands() {
    const next = defineCommand(NEXT, async (args, ctx) => {
      this.#vars = Object.fromEntries(ctx.env);
      await this.pause();
      // After a restart the driver's first $? is its own 0: keep the stopped command's status.
      if (this.#restartPrelude === '') this.#status = Number(args[0] ?? 0);
      const pending = this.#writeErrors('');
      if (pending !== '') this.#err(pending);
      for (;;) {
        const got = await this.#reader!.next();
        if (got === undefined) {
          this.#ended = 'end';
          return { stdout: '', stderr: '', exitCode: 1 };
        }
        const { chunk, verdict } = got;
        if (!verdict.ok) {
          // As bash says it: a script file's name and line, else `bash: `; then the line.
          const at = this.#script === undefined ? 'bash: ' : `${this.#script}: line ${chunk.line + verdict.line - 1}: `;
          const line = chunk.text.split('\n')[verdict.line - 1] ?? '';
          this.#err(verdict.incomplete ? `${at}${verdict.message}\n` : `${at}${verdict.message}\n${at}\`${line}'\n`);
          if (this.#interactive) continue;
          this.#ended = 'syntax';
          return { stdout: '', stderr: '', exitCode: 1 };
        }
        this.#rememberFunctions(chunk.text);
        if (this.#interactive) this.#deadlineMs = this.nowMs() + this.#opts.maxVirtualMs;
        const body = `${this.#restartPrelude}\n${STATUS} ${this.#status}\n${rewriteCommands(chunk.text)}\n`;
        this.#restartPrelude = '';
        await ctx.fs.writeFile(CHUNK, body);
        return { stdout: '', stderr: '', exitCode: 0 };
      }
    });
    const status = defineCommand(STATUS, async (args) => ({ stdout: '', stderr: '', exitCode: Number(args[0] ?? 0) }));
    const wcheck = defineCommand(WRITE_CHECK, async (args) => {
      const [code, name] = args;
      const stderr = this.#writeErrors(name ?? '');
      return { stdout: '', stderr, exitCode: stderr === '' ? Number(code ?? 0) : 1 };
    });
    return [next, status, wcheck];
  }

  /** bash's lines for the stores that failed since the last check, by the writing command. */
  #writeErrors(name: string): string {
    const errs = this.#fs.writeErrors.splice(0);
    const who = name === '' ? 'bash' : BASH_BUILTINS.has(name) ? `bash: ${name}` : name;
    return errs.map((e) => `${who}: write error: ${strerror(e.errno)}\n`).join('');
  }

  #rememberFunctions(text: string): void {
    if (!/\(\)|\bfunction\b/.test(text)) return;
    for (const st of parse(text).statements) {
      const c = st.pipelines.length === 1 ? st.pipelines[0]!.commands : [];
      if (c.length === 1 && c[0]!.type === 'FunctionDef') {
        this.#functions.set(c[0]!.name, serialize({ type: 'Script', statements: [st] }));
      }
    }
  }

  // ShellHost: what the commands ask of the model.

  async pause(): Promise<void> {
    await this.#opts.pause?.();
  }

  get bootEpochMs(): number {
    return this.#opts.bootEpochMs;
  }

  nowMs(): number {
    return this.#backend.system().clock.nowMs();
  }

  sleep(ms: number): boolean {
    const sys = this.#backend.system();
    const now = sys.clock.nowMs();
    // Past 2^53 ns the clock stops being exact; a prompt's deadline is per command, so a
    // session could otherwise walk past it one sleep at a time.
    const pastClock = whyWaitCannotFinish(sys, 'ms', ms);
    if (pastClock !== undefined) {
      this.#stopped = 'limit';
      this.#err(`samepage shell: stopped at ${formatSeconds(now)} of virtual time: ${pastClock}\n`);
      return false;
    }
    if (now + ms > this.#deadlineMs) {
      this.#stopped = 'limit';
      this.#err(
        `samepage shell: stopped at ${formatSeconds(now)} of virtual time: sleep ${formatSeconds(ms)} would pass ` +
          `the limit of ${formatSeconds(this.#deadlineMs)} (--max-time ${formatSeconds(this.#opts.maxVirtualMs)})\n`,
      );
      return false;
    }
    runFor(sys, ms);
    return true;
  }

  tasks(): ReadonlyArray<{ readonly pid: number; readonly comm: string }> {
    return this.#backend.system().mmgr.liveTasks();
  }

  async step(text: string): Promise<ExecResult> {
    const kind = text.slice(0, text.indexOf(':'));
    const parsed = parseStep(text);
    if (!parsed.ok) return { stdout: '', stderr: parsed.problems.map((p) => `${kind}: ${p}\n`).join(''), exitCode: 1 };
    const before = this.#steps.expects.length;
    try {
      const outcome = await runStep(parsed.step, this.#stepIndex++, this.#backend, this.#steps, {});
      if (outcome.stop) return { stdout: '', stderr: `${kind}: ${outcome.reason}\n`, exitCode: 1 };
    } catch (e) {
      return { stdout: '', stderr: `${kind}: ${e instanceof Error ? e.message : String(e)}\n`, exitCode: 1 };
    }
    const failed = this.#steps.expects
      .slice(before)
      .filter((x) => !x.ok)
      .map((x) => `expect: ${x.path}: expected ${String(x.expected)}, got ${String(x.actual)}\n`);
    const stdout =
      parsed.step.kind === 'record' ? `${JSON.stringify(this.#steps.records[this.#steps.records.length - 1])}\n` : '';
    return { stdout, stderr: failed.join(''), exitCode: failed.length === 0 ? 0 : 1 };
  }

  help(): string {
    return SHELL_HELP;
  }
}

/** "65 s", "1.5 s", "2 h 0 min 0 s" is not needed: seconds read well at this scale. */
function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(3)} s`;
}
