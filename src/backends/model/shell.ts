/**
 * The interpreter of `samepage shell` (cli/shell.ts): a small shell over the model, so the
 * operator's side of the thesis (echo into sysfs, cat counters, sleep) runs as written. It
 * understands comments, VAR=value, $VAR and ${VAR}, `echo WORDS [> FILE | >> FILE]`,
 * `cat FILE`, `ls DIR`, `sleep SECONDS` (virtual time), and any scenario step written as its
 * YAML one-liner (`spawn: { proc: o1, comm: okular }`), so processes can be created and filled.
 */
import { createModelBackend, type ModelBackend } from './index.ts';
import { parseScenario, formatProblems } from '../../scenario/parse.ts';
import { STEP_KINDS } from '../../scenario/schema.ts';
import { SYS_MM } from '../../scenario/paths.ts';
import { runStep, type Collected } from '../../scenario/run.ts';
import { strerror } from '../../lib/errno.ts';
import { runFor, sysfsRead } from '../../system.ts';

export interface ShellIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The shell's state: one simulated machine, variables, the steps run so far. */
export class ModelShell {
  readonly #backend: ModelBackend;
  readonly #vars = new Map<string, string>();
  readonly #stepLines: string[] = [];
  readonly #out: Collected = { records: [], expects: [], calls: [] };
  readonly #io: ShellIo;
  failures = 0;

  private constructor(backend: ModelBackend, io: ShellIo) {
    this.#backend = backend;
    this.#io = io;
  }

  static async create(io: ShellIo, seed: number): Promise<ModelShell> {
    const backend = createModelBackend({ seed });
    await backend.start({
      version: 1,
      name: 'shell',
      description: undefined,
      machine: { ram: 2 ** 30, numaNodes: 1 },
      ksm: [],
      steps: [],
      stepLines: [],
    });
    return new ModelShell(backend, io);
  }

  #expand(word: string): string {
    return word.replace(
      /\$\{(\w+)\}|\$(\w+)/g,
      (_m, a: string | undefined, b: string | undefined) => this.#vars.get(a ?? b ?? '') ?? '',
    );
  }

  /** Splits a command line into words, honouring quotes, and expands variables. */
  #words(line: string): string[] {
    const out: string[] = [];
    const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(>>|>)|([^\s"'>]+)/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      if (m[1] !== undefined) out.push(this.#expand(m[1].replace(/\\(.)/g, '$1')));
      else if (m[2] !== undefined) out.push(m[2]);
      else if (m[3] !== undefined) out.push(m[3]);
      else out.push(this.#expand(m[4]!));
    }
    return out;
  }

  /**
   * A path of the simulated /sys/kernel/mm, relative to it. A path that misses the slash
   * after a directory (the thesis's Figure 5-9 writes ${KSMPLUS_DIR}processes_to_scan with
   * KSMPLUS_DIR lacking its trailing slash) is read as meant, with a warning.
   */
  #sysPath(path: string, lineNo: number): string | undefined {
    const sys = this.#backend.system();
    if (!path.startsWith(SYS_MM)) return undefined;
    const rel = path.slice(SYS_MM.length);
    if (sysfsRead(sys, rel) !== undefined) return rel;
    for (const dir of sys.sysfs.keys()) {
      if (
        rel.startsWith(dir) &&
        !rel.startsWith(`${dir}/`) &&
        sysfsRead(sys, `${dir}/${rel.slice(dir.length)}`) !== undefined
      ) {
        this.#io.stderr.write(
          `samepage shell: line ${lineNo}: ${path}: read as ${SYS_MM}${dir}/${rel.slice(dir.length)}\n`,
        );
        return `${dir}/${rel.slice(dir.length)}`;
      }
    }
    return rel;
  }

  #fail(lineNo: number, message: string): void {
    this.failures++;
    this.#io.stderr.write(`samepage shell: line ${lineNo}: ${message}\n`);
  }

  async execute(raw: string, lineNo: number): Promise<boolean> {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return true;
    if (line === 'exit' || line === 'quit') return false;
    const head = /^(\w+):/.exec(line)?.[1];
    if (head !== undefined && STEP_KINDS.includes(head)) {
      await this.#step(line, lineNo);
      return true;
    }
    const assign = /^(\w+)=(.*)$/.exec(line);
    if (assign !== null) {
      this.#vars.set(assign[1]!, this.#words(assign[2]!).join(' '));
      return true;
    }
    const [cmd, ...args] = this.#words(line);
    switch (cmd) {
      case 'echo': {
        const redir = args.findIndex((a) => a === '>' || a === '>>');
        const text = (redir < 0 ? args : args.slice(0, redir)).join(' ');
        if (redir < 0) {
          this.#io.stdout.write(`${text}\n`);
          return true;
        }
        const target = args[redir + 1];
        const rel = target === undefined ? undefined : this.#sysPath(target, lineNo);
        if (rel === undefined) {
          this.#fail(lineNo, `${target ?? ''}: only files under /sys/kernel/mm can be written here`);
          return true;
        }
        const err = await this.#backend.sysfsWrite(rel, `${text}\n`);
        if (err !== 0) this.#fail(lineNo, `echo: write error: ${strerror(err)}`);
        return true;
      }
      case 'cat':
        for (const f of args) {
          const rel = this.#sysPath(f, lineNo);
          const text = rel !== undefined ? sysfsRead(this.#backend.system(), rel) : await this.#backend.readPath(f);
          if (text === undefined) this.#fail(lineNo, `cat: ${f}: No such file or directory`);
          else this.#io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
        }
        return true;
      case 'ls': {
        const dir = (args[0] ?? `${SYS_MM}ksm`).replace(/\/$/, '').replace(SYS_MM, '');
        const group = this.#backend.system().sysfs.get(dir);
        if (group === undefined) this.#fail(lineNo, `ls: cannot access '${args[0] ?? ''}': No such file or directory`);
        else this.#io.stdout.write(`${[...group.keys()].sort().join('\n')}\n`);
        return true;
      }
      case 'sleep': {
        const s = Number(args[0]);
        if (!Number.isFinite(s) || s < 0) this.#fail(lineNo, `sleep: invalid time interval '${args[0] ?? ''}'`);
        else runFor(this.#backend.system(), s * 1000);
        return true;
      }
      default:
        this.#fail(
          lineNo,
          `${cmd ?? ''}: command not found (try echo, cat, ls, sleep, VAR=value, or a scenario step such as "spawn: { proc: p, comm: okular }")`,
        );
        return true;
    }
  }

  async #step(line: string, lineNo: number): Promise<void> {
    const doc = (lines: string[]) => `version: 1\nname: shell\nsteps:\n${lines.map((l) => `  - ${l}`).join('\n')}\n`;
    const parsed = parseScenario(doc([...this.#stepLines, line]), `line ${lineNo}`);
    if (!parsed.ok) {
      this.#fail(
        lineNo,
        formatProblems(
          'step',
          parsed.problems.map((p) => ({ ...p, line: undefined })),
        ).replace(/\n/g, '; '),
      );
      return;
    }
    const step = parsed.scenario.steps[parsed.scenario.steps.length - 1]!;
    const before = this.#out.expects.length;
    try {
      const outcome = await runStep(step, this.#stepLines.length, this.#backend, this.#out, {});
      if (outcome.stop) this.#fail(lineNo, outcome.reason);
    } catch (e) {
      this.#fail(lineNo, e instanceof Error ? e.message : String(e));
      return;
    }
    for (const x of this.#out.expects.slice(before)) {
      if (!x.ok) this.#fail(lineNo, `${x.path}: expected ${String(x.expected)}, got ${String(x.actual)}`);
    }
    if (step.kind === 'record')
      this.#io.stdout.write(`${JSON.stringify(this.#out.records[this.#out.records.length - 1])}\n`);
    this.#stepLines.push(line);
  }
}
