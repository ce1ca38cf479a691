/**
 * ksmd held at a wait's end by a thread of its own (ksmd_hold_worker.ts), so that a pause of
 * the main thread (a collection of its heap, a long synchronous step) cannot let ksmd run
 * past a full-scan boundary or into another batch. The main thread meanwhile samples the
 * counters and tells progress, which may come late without harm.
 *
 * stopSync() is the guard's: it runs before any restore of the machine, from a signal
 * handler or the `exit` event too, and returns only once the thread can write no more.
 */
import { Worker } from 'node:worker_threads';
import type { TestPause } from '../../host/change_pause.ts';
import { StepError } from '../../scenario/backend.ts';
import { BUSY, HOLD_WORDS, type HoldCommand, type HoldReply, STOP } from './ksmd_hold_protocol.ts';
import type { HoldWorkerData } from './ksmd_hold_worker.ts';

/** How long stopSync waits for a write in flight: run_store waits for ksmd's batch to end. */
const STOP_WAIT_MS = 5000;

/** What a KsmdHolder needs besides its thread. */
export interface KsmdHolderOptions {
  /** How often the thread reads the counters. */
  readonly pollMs: number;
  /** The crash suite's hook (change_pause.ts), which the thread's writes count in too. */
  readonly testPause?: TestPause | undefined;
  /**
   * Writes run=0 from the main thread (journaled, as any write of samepage's); 0 or -errno.
   * Called once, where the thread died in the middle of a command: it may have left ksmd
   * running, and nothing else would hold it before the run's restore.
   */
  readonly holdKsmd: () => number;
  /** The thread's script: ksmd_hold_worker.js, another only in tests that make it die. */
  readonly workerUrl?: URL;
}

/** The reply a command awaits. */
interface Pending {
  readonly resolve: (r: HoldReply) => void;
  readonly reject: (e: Error) => void;
}

export class KsmdHolder {
  readonly #worker: Worker;
  readonly #holdKsmd: () => number;
  readonly #state = new Int32Array(new SharedArrayBuffer(HOLD_WORDS * Int32Array.BYTES_PER_ELEMENT));
  #pending: Pending | undefined;
  /** Why the thread can take no more commands (it stopped, failed or exited). */
  #closed: string | undefined;
  /** The uncaught error that ended the thread, told with its exit. */
  #error: string | undefined;

  constructor(options: KsmdHolderOptions) {
    const { pollMs, testPause } = options;
    this.#holdKsmd = options.holdKsmd;
    const workerData: HoldWorkerData = {
      state: this.#state.buffer as SharedArrayBuffer,
      pollMs,
      ...(testPause === undefined ? {} : { testPause }),
    };
    const url = options.workerUrl ?? new URL('./ksmd_hold_worker.js', import.meta.url);
    this.#worker = new Worker(url, { workerData });
    // Idle, the thread keeps nothing alive: the process ends when its own work does. A
    // command in flight keeps it alive (ref in #command), as any awaited I/O would.
    this.#worker.unref();
    this.#worker.on('message', (r: HoldReply) => this.#settle((p) => p.resolve(r)));
    // 'exit' always follows 'error', and only then is the thread surely gone.
    this.#worker.on('error', (e) => {
      this.#error ??= e.message;
    });
    this.#worker.on('exit', (code) => this.#exited(code));
  }

  /** Lets ksmd run until full_scans reaches `target`, then holds it. */
  fullScans(target: number, timeoutMs: number): Promise<HoldReply> {
    return this.#command({ kind: 'full_scans', target, timeoutMs });
  }

  /** Lets ksmd run one batch, then holds it. */
  batch(timeoutMs: number): Promise<HoldReply> {
    return this.#command({ kind: 'batch', timeoutMs });
  }

  /**
   * Makes the thread write no more, waiting (synchronously, at most STOP_WAIT_MS) for a write
   * in flight; undefined once it is quiet for good, else what is wrong. Safe to call again,
   * and from a signal handler.
   */
  stopSync(): string | undefined {
    Atomics.store(this.#state, STOP, 1);
    Atomics.notify(this.#state, STOP);
    this.#closed ??= 'stopped';
    const deadline = performance.now() + STOP_WAIT_MS;
    while (Atomics.load(this.#state, BUSY) !== 0) {
      const left = deadline - performance.now();
      if (left <= 0)
        return `The thread that holds ksmd was still writing ksm/run after ${STOP_WAIT_MS} ms: the restore may come before its last write`;
      Atomics.wait(this.#state, BUSY, 1, left);
    }
    return undefined;
  }

  /**
   * stopSync, then the thread told to end; what stopSync said. Its end is not awaited (some
   * 10-20 ms): it can write nothing more, and it keeps nothing alive.
   */
  close(): string | undefined {
    const why = this.stopSync();
    // A command in flight ends as stopped now: the thread clears BUSY before it posts its
    // reply, so the terminate below could otherwise win and tell it as an exit instead.
    this.#settle((p) => p.resolve({ kind: 'stopped' }));
    void this.#worker.terminate();
    return why;
  }

  #command(cmd: HoldCommand): Promise<HoldReply> {
    if (this.#closed !== undefined) return Promise.reject(new StepError(`ksmd cannot be held: ${this.#closed}`));
    if (this.#pending !== undefined) return Promise.reject(new StepError('ksmd is already being held by another wait'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.ref();
      this.#worker.postMessage(cmd);
    });
  }

  #settle(how: (p: Pending) => void): void {
    const p = this.#pending;
    this.#pending = undefined;
    this.#worker.unref();
    if (p !== undefined) how(p);
  }

  /**
   * The thread is gone. A command it died in (an uncaught error, its heap exhausted) may have
   * left ksmd running with nobody to hold it: unless the guard has stopped the thread, and
   * so owns ksm/run now, the main thread writes run=0 itself before the wait fails.
   */
  #exited(code: number): void {
    // A dead thread writes nothing more, whatever BUSY last said: stopSync need not wait.
    Atomics.store(this.#state, BUSY, 0);
    Atomics.notify(this.#state, BUSY);
    const why = `the thread that holds ksmd ${this.#error === undefined ? `exited (code ${code})` : `failed: ${this.#error}`}`;
    let held = '';
    if (this.#pending !== undefined && Atomics.load(this.#state, STOP) === 0) {
      held = this.#holdAfterDeath();
    }
    this.#closed ??= why;
    this.#settle((p) => p.reject(new StepError(`${why}${held}`)));
  }

  /** run=0 from this thread, in place of the dead one; what to add to the failure's message. */
  #holdAfterDeath(): string {
    try {
      const rc = this.#holdKsmd();
      return rc === 0 ? '; ksmd is held (run=0)' : `; ksmd could not be held (errno ${-rc}) until the restore`;
    } catch (e) {
      return `; ksmd could not be held (${e instanceof Error ? e.message : String(e)}) until the restore`;
    }
  }
}
