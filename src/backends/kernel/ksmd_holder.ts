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

/** The reply a command awaits. */
interface Pending {
  readonly resolve: (r: HoldReply) => void;
  readonly reject: (e: Error) => void;
}

export class KsmdHolder {
  readonly #worker: Worker;
  readonly #state = new Int32Array(new SharedArrayBuffer(HOLD_WORDS * Int32Array.BYTES_PER_ELEMENT));
  #pending: Pending | undefined;
  /** Why the thread can take no more commands (it stopped, failed or exited). */
  #closed: string | undefined;

  /** `testPause`: the crash suite's hook (change_pause.ts), which the thread's writes count in too. */
  constructor(pollMs: number, testPause: TestPause | undefined) {
    const workerData: HoldWorkerData = {
      state: this.#state.buffer as SharedArrayBuffer,
      pollMs,
      ...(testPause === undefined ? {} : { testPause }),
    };
    this.#worker = new Worker(new URL('./ksmd_hold_worker.js', import.meta.url), { workerData });
    // Idle, the thread keeps nothing alive: the process ends when its own work does. A
    // command in flight keeps it alive (ref in #command), as any awaited I/O would.
    this.#worker.unref();
    this.#worker.on('message', (r: HoldReply) => this.#settle((p) => p.resolve(r)));
    this.#worker.on('error', (e) => this.#fail(`the thread that holds ksmd failed: ${e.message}`));
    this.#worker.on('exit', (code) => this.#fail(`the thread that holds ksmd exited (code ${code})`));
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

  #fail(why: string): void {
    this.#closed ??= why;
    this.#settle((p) => p.reject(new StepError(why)));
  }
}
