/**
 * The TypeScript end of native/agent.c: one Agent per live scenario process, talking the
 * agent's line protocol (see the comment at the top of agent.c).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { StepError } from '../../scenario/backend.ts';
import type { Pattern } from '../../lib/patterns.ts';
import { isAlive, processStartTime, readExe } from '../../host/procfs.ts';

/** Where `npm install` (scripts/build-native.mjs) puts the agent, found from this file up. */
export function defaultAgentPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) {
      return join(dir, 'native', 'build', 'samepage-agent');
    }
    const up = dirname(dir);
    if (up === dir) return join(process.cwd(), 'native', 'build', 'samepage-agent');
    dir = up;
  }
}

/** The agent's `fill` arguments for a pattern (numbers in decimal, text in hex). */
export function patternArgs(p: Pattern): string {
  switch (p.kind) {
    case 'zero':
      return 'zero';
    case 'byte':
      return `byte ${p.byte}`;
    case 'byte-cycle':
    case 'word-index':
    case 'neg-word-index':
      return p.kind;
    case 'random':
      return `random ${BigInt.asUintN(64, p.seed)}`;
    case 'page-mod':
      return `page-mod ${p.period} ${BigInt.asUintN(64, p.seed)}`;
    case 'text':
      return `text ${Buffer.from(p.text, 'utf8').toString('hex')}`;
  }
}

/** Lines from a stream, handed out one at a time; a reader waits with a liveness check. */
class LineReader {
  #partial = '';
  readonly #lines: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(input: Readable) {
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.#lines.push(...parts);
      this.#wake?.();
    });
    const end = (): void => {
      this.#ended = true;
      this.#wake?.();
    };
    input.on('end', end);
    input.on('close', end);
    input.on('error', end);
  }

  /** The next line; rejects when the stream ends, `alive()` turns false, or time runs out. */
  async next(alive: () => boolean, timeoutMs: number, what: () => string): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#ended) throw new StepError(`${what()} closed its channel`);
      if (!alive()) {
        // Its last words (the reply to `exit`) may still be on their way.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const last = this.#lines.shift();
        if (last !== undefined) return last;
        throw new StepError(`${what()} died`);
      }
      if (performance.now() > deadline) throw new StepError(`${what()} did not answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}

/**
 * What a read of a never-written private anonymous page maps, as the agent probed it: the
 * shared zero page, a page of its own (the kernel forbids the zero page), or unknown (PFNs
 * hidden).
 */
export type ReadFaults = 'zero' | 'own' | 'unknown';

/** How long one command may take (a fill of a large region is the slow one). */
const REPLY_TIMEOUT_MS = 300_000;

/** Bytes of one `copy` in Agent.read: 8 MiB, a few milliseconds of write(2) and hashing. */
const READ_CHUNK = 8 << 20;

/** One running agent process. */
export class Agent {
  readonly proc: string;
  #pid: number;
  /** With the pid, tells this agent from a later process that reuses its pid. */
  #startTime: string | undefined;
  #zeroPfn: number;
  #readFaults: ReadFaults;
  readonly #reader: LineReader;
  readonly #writer: Writable;
  readonly #child: ChildProcess | undefined;
  readonly #closers: Array<() => void>;
  readonly #stderr: { tail: string };

  private constructor(init: {
    proc: string;
    reader: LineReader;
    writer: Writable;
    child: ChildProcess | undefined;
    closers: Array<() => void>;
    stderr: { tail: string };
  }) {
    this.proc = init.proc;
    this.#pid = 0;
    this.#startTime = undefined;
    this.#zeroPfn = 0;
    this.#readFaults = 'unknown';
    this.#reader = init.reader;
    this.#writer = init.writer;
    this.#child = init.child;
    this.#closers = init.closers;
    this.#stderr = init.stderr;
  }

  get pid(): number {
    return this.#pid;
  }

  /** PFN of the shared zero page as the agent saw it (0: unknown). */
  get zeroPfn(): number {
    return this.#zeroPfn;
  }

  /** What a read of a never-written page mapped when the agent (or its program) started. */
  get readFaults(): ReadFaults {
    return this.#readFaults;
  }

  /** Starts an agent as a child of this process; `comm` becomes its program name. */
  static async spawn(agentPath: string, proc: string, comm: string): Promise<Agent> {
    const child = spawn(agentPath, ['--comm', comm], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr = { tail: '' };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr.tail = (stderr.tail + s).slice(-2000);
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    if (child.stdin === null || child.stdout === null) throw new StepError('Agent spawn gave no pipes');
    child.stdin.on('error', () => undefined);
    const agent = new Agent({
      proc,
      reader: new LineReader(child.stdout),
      writer: child.stdin,
      child,
      closers: [],
      stderr,
    });
    agent.#pid = child.pid ?? 0;
    const ready = agent.#readReady();
    const first = await Promise.race([ready, spawnError]);
    if (first instanceof Error) throw new StepError(`Cannot start the agent ${agentPath}: ${first.message}`);
    return agent;
  }

  /** Sends a command and returns the reply after `ok`; an `err` reply throws StepError. */
  async request(command: string): Promise<string> {
    this.#writer.write(`${command}\n`);
    const line = await this.#reader.next(
      () => this.alive(),
      REPLY_TIMEOUT_MS,
      () => this.#describe(),
    );
    if (line === 'ok' || line.startsWith('ok ')) return line.slice(3);
    throw new StepError(`Proc '${this.proc}' (pid ${this.#pid}): ${line.replace(/^err /, '')}`);
  }

  /**
   * Hands `onChunk` the bytes at `address`, as the agent's own loads see them (`copy` in
   * native/agent.c says why not /proc/PID/mem), `chunk` bytes at a time through a file in a
   * private directory, so that a large region never sits whole in a file or in this heap.
   */
  async read(address: number, length: number, onChunk: (bytes: Buffer) => void, chunk = READ_CHUNK): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'samepage-read-'));
    const path = join(dir, 'bytes');
    try {
      for (let done = 0; done < length; done += chunk) {
        await this.request(`copy ${address + done} ${Math.min(chunk, length - done)} ${path}`);
        onChunk(readFileSync(path));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** A number reply, as from madvise, prctl or munmap. */
  async requestNumber(command: string): Promise<number> {
    return Number.parseInt(await this.request(command), 10);
  }

  /**
   * Forks this agent. The child gets its own channel: two FIFOs in a private directory,
   * which this side opens read-write so that opening never blocks and no end of file is
   * seen before the child has opened its ends.
   */
  async fork(child: string): Promise<Agent> {
    const dir = mkdtempSync(join(tmpdir(), 'samepage-fork-'));
    const inPath = join(dir, 'commands');
    const outPath = join(dir, 'replies');
    try {
      const pid = Number.parseInt(await this.request(`fork ${inPath} ${outPath}`), 10);
      const flags = fsConstants.O_RDWR | fsConstants.O_NONBLOCK;
      const commands = new Socket({ fd: openSync(inPath, flags), readable: false, writable: true });
      const replies = new Socket({ fd: openSync(outPath, flags), readable: true, writable: false });
      commands.on('error', () => undefined);
      const agent = new Agent({
        proc: child,
        reader: new LineReader(replies),
        writer: commands,
        child: undefined,
        closers: [() => commands.destroy(), () => replies.destroy()],
        stderr: this.#stderr,
      });
      agent.#pid = pid;
      await agent.#readReady();
      return agent;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Replaces the program image; the pid and the channel stay. */
  async exec(comm: string): Promise<void> {
    this.#writer.write(`exec ${comm}\n`);
    await this.#readReady();
  }

  /** Asks the agent to exit and waits until its mm is gone (zombie or reaped). */
  async exit(): Promise<void> {
    await this.request('exit');
    await this.waitDead(5000);
    this.close();
  }

  alive(): boolean {
    if (this.#pid <= 0 || !isAlive(this.#pid)) return false;
    return this.#startTime === undefined || processStartTime(this.#pid) === this.#startTime;
  }

  async waitDead(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.alive()) {
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /** Sends a signal if the process still runs the agent binary (never a recycled pid). */
  signal(sig: NodeJS.Signals, agentExe: string): void {
    if (!this.alive()) return;
    try {
      if (this.#child !== undefined) this.#child.kill(sig);
      else if (exeMatches(this.#pid, agentExe)) process.kill(this.#pid, sig);
    } catch {
      // Already gone.
    }
  }

  /** Drops this side's channel. */
  close(): void {
    for (const c of this.#closers) c();
    this.#child?.stdin?.destroy();
    this.#child?.stdout?.destroy();
    this.#child?.stderr?.destroy();
  }

  async #readReady(): Promise<void> {
    const line = await this.#reader.next(
      () => this.alive(),
      30_000,
      () => this.#describe(),
    );
    const m = /^ready (\d+) (\d+) (zero|own|unknown)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) {
      throw new StepError(`${this.#describe()} did not start: ${line}`);
    }
    this.#pid = Number(m[1]);
    this.#startTime ??= processStartTime(this.#pid);
    this.#zeroPfn = Number(m[2]);
    this.#readFaults = m[3] as ReadFaults;
  }

  #describe(): string {
    const err = this.#stderr.tail.trim();
    return `The agent of proc '${this.proc}' (pid ${this.#pid})${err ? ` [stderr: ${err}]` : ''}`;
  }
}

/** Whether the pid still runs the agent binary (`agentExe` is its real path). */
function exeMatches(pid: number, agentExe: string): boolean {
  // A binary replaced since it started shows " (deleted)".
  return readExe(pid)?.replace(/ \(deleted\)$/, '') === agentExe;
}
