/**
 * How the live KSM+ daemon makes a target call madvise: the target must make the call
 * itself (madvise acts on the caller, and process_madvise cannot set MADV_MERGEABLE), so an
 * injector borrows one of its threads through ptrace for the calls of one action and puts it
 * back exactly. The daemon sees only this interface; the injector behind it reports how long
 * the target was stopped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ActionOutcome, PlusAction } from '../policy/actions.ts';

export interface PlusInjector {
  /**
   * Makes process `a.pid` (if it is still the process that started at `a.start`) call
   * madvise(MADV_MERGEABLE) or madvise(MADV_UNMERGEABLE) on each range of the action.
   */
  madvise(a: PlusAction): Promise<ActionOutcome>;
  /** Processes of the injector itself (never to be selected). */
  pids(): readonly number[];
  /** Ends the injector; an injection in progress finishes first. */
  close(): Promise<void>;
}

/** What the helper answered to one request, parsed. */
export function parseInjectorAnswer(line: string): { id: string; outcome: ActionOutcome; fatal: boolean } | undefined {
  const done = /^done (\S+) (\d+)((?: -?\d+)*)$/.exec(line);
  if (done !== null) {
    const results = done[3]!.trim() === '' ? [] : done[3]!.trim().split(' ').map(Number);
    return { id: done[1]!, outcome: { kind: 'done', results, pauseNs: Number(done[2]) }, fatal: false };
  }
  const refused = /^refused (\S+) (retry|final) (.*)$/.exec(line);
  if (refused !== null) {
    return {
      id: refused[1]!,
      outcome: { kind: 'refused', why: refused[3]!, retry: refused[2] === 'retry' },
      fatal: false,
    };
  }
  const partial = /^partial (\S+) (\d+) (\d+)((?: -?\d+)*) (.*)$/.exec(line);
  if (partial !== null) {
    const why = `${partial[5]!} (after ${partial[3]} of its calls)`;
    return { id: partial[1]!, outcome: { kind: 'refused', why, retry: false }, fatal: false };
  }
  const other = /^(bad|fatal) (\S+) (.*)$/.exec(line);
  if (other !== null) {
    return {
      id: other[2]!,
      outcome: {
        kind: 'refused',
        why: `${other[1] === 'fatal' ? 'the injector failed: ' : ''}${other[3]!}`,
        retry: false,
      },
      fatal: other[1] === 'fatal',
    };
  }
  return undefined;
}

/** The request line for an action (native/plus-inject.c documents the format). */
export function injectorRequest(id: number, a: PlusAction): string {
  const comm = a.requireComm === true ? Buffer.from(a.comm, 'utf8').toString('hex') : '-';
  const advice = a.kind === 'mark' ? 12 : 13;
  const ranges = a.ranges.map(([s, e]) => `${(s * 4096).toString(16)} ${(e - s) * 4096}`).join(' ');
  return `madvise ${id} ${a.pid} ${a.start} ${comm} ${advice} ${ranges}`;
}

export const PLUS_INJECT = 'samepage-plus-inject';

/**
 * The injector as one long-lived helper process (native/plus-inject.c), asked one request at
 * a time over its stdin. The helper dies with the daemon: it holds PR_SET_PDEATHSIG(SIGTERM)
 * and finishes the injection in progress first. If the helper itself ends (a `fatal`
 * answer, a crash), the next request starts a new one.
 */
export class HelperInjector implements PlusInjector {
  readonly #path: string;
  readonly #warn: (message: string) => void;
  #child: ChildProcess | undefined;
  #ready: Promise<void> | undefined;
  #lines: string[] = [];
  #waiting: ((line: string | undefined) => void) | undefined;
  #nextId = 1;
  /** Requests are answered in order: each waits for the one before. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string, warn: (message: string) => void) {
    this.#path = path;
    this.#warn = warn;
  }

  pids(): readonly number[] {
    const pid = this.#child?.pid;
    return pid === undefined ? [] : [pid];
  }

  #start(): Promise<void> {
    const child = spawn(this.#path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#child = child;
    this.#lines = [];
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        this.#push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    const ended = (): void => {
      if (this.#child === child) this.#child = undefined;
      this.#ready = undefined;
      this.#push(undefined);
    };
    child.on('exit', ended);
    child.on('error', (e) => {
      this.#warn(`cannot run ${this.#path}: ${e.message}`);
      ended();
    });
    child.stdin!.on('error', () => {});
    return this.#next().then((line) => {
      if (line === undefined || !line.startsWith('ready '))
        throw new Error(`${this.#path} did not start (${line ?? 'it exited'})`);
    });
  }

  #push(line: string | undefined): void {
    const w = this.#waiting;
    if (w !== undefined) {
      this.#waiting = undefined;
      w(line);
    } else if (line !== undefined) {
      this.#lines.push(line);
    }
  }

  #next(): Promise<string | undefined> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#child === undefined) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  madvise(a: PlusAction): Promise<ActionOutcome> {
    const run = this.#queue.then(() => this.#one(a));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #one(a: PlusAction): Promise<ActionOutcome> {
    try {
      this.#ready ??= this.#start();
      await this.#ready;
    } catch (e) {
      this.#ready = undefined;
      return { kind: 'refused', why: e instanceof Error ? e.message : String(e), retry: true };
    }
    const id = this.#nextId++;
    this.#child!.stdin!.write(`${injectorRequest(id, a)}\n`);
    for (;;) {
      const line = await this.#next();
      if (line === undefined) return { kind: 'refused', why: 'the injector exited during the request', retry: true };
      const parsed = parseInjectorAnswer(line);
      if (parsed === undefined) {
        this.#warn(`the injector said: ${line}`);
        continue;
      }
      if (parsed.id !== String(id)) continue;
      if (parsed.fatal) this.#warn(`the injector failed on process ${a.pid} and exited: ${line}`);
      return parsed.outcome;
    }
  }

  /** Closes the helper's stdin and waits for it to exit (it finishes what it is doing). */
  async close(): Promise<void> {
    await this.#queue;
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
