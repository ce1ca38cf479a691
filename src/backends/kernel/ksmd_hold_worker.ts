/**
 * The thread that holds ksmd at the end of a wait (ksmd_holder.ts starts it). It polls the
 * KSM counters and writes run=0 the moment a wait's end shows, from an isolate of its own:
 * a pause of the main thread's event loop (24-68 ms seen, where ksmd sleeps 20-50 ms between
 * batches; a collection of its heap is one such pause) does not stop this thread, which
 * allocates next to nothing itself.
 *
 * Waiting for a CPU matters too: on 2 CPUs, with other work at nice 0 and the test suite at
 * nice 10, this thread's readings still came 22-58 ms apart in 4 of 1,173 scenarios. So it
 * runs at nice -20 (a thread's own nice, set by its tid), which the scheduler favours on
 * waking; it wakes every pollMs for a few microseconds, so it takes next to nothing. With a
 * nice-0 spinner on each CPU and samepage at nice 19, 40 waits of a full scan each (ksmd
 * at 20 ms sleeps) overshot 20, 6 and 2 times at the process's nice (gaps of 24-198 ms),
 * and 0, 0 and 0 times at -20 (Linux 6.18.44, 2026-12-06).
 *
 * It writes ksm/run only while BUSY is 1, and checks STOP before every write, with
 * sequentially consistent atomics on both words: once the main thread has set STOP and then
 * seen BUSY at 0, no write of this thread can come, so its restore of the machine is the
 * last word. The thread dies with the process, so a SIGKILL leaves nothing to race with the
 * watchdog's restore.
 */
import { writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { KSM_DIR, KsmCounter } from '../../host/ksm_sysfs.ts';
import { currentThreadId } from '../../host/procfs.ts';
import { TEST_PAUSE_AT_CHANGE, testPauseHook, type TestPause } from '../../host/change_pause.ts';
import { BUSY, type HoldCommand, type HoldReply, STOP } from './ksmd_hold_protocol.ts';

export interface HoldWorkerData {
  /** HOLD_WORDS Int32 words: STOP and BUSY. */
  readonly state: SharedArrayBuffer;
  readonly pollMs: number;
  /** The crash suite's hook (change_pause.ts), where it is set: this thread's writes are live changes too. */
  readonly testPause?: TestPause;
}

/** Thrown inside a command when STOP has come: it ends the command without another write. */
class Stopped extends Error {}

/** One command at a time, answered by one reply; the counters stay open for the thread's life. */
class HoldWorker {
  readonly #state: Int32Array;
  readonly #pollMs: number;
  readonly #fullScans = new KsmCounter('full_scans');
  readonly #scanned = new KsmCounter('pages_scanned');
  readonly #beforeWrite: ((what: string) => void) | undefined;

  constructor(data: HoldWorkerData) {
    raisePriority();
    this.#state = new Int32Array(data.state);
    this.#pollMs = data.pollMs;
    const pause = data.testPause;
    this.#beforeWrite =
      pause === undefined ? undefined : testPauseHook({ [TEST_PAUSE_AT_CHANGE]: pause.at }, pause.counter);
  }

  run(cmd: HoldCommand): HoldReply {
    Atomics.store(this.#state, BUSY, 1);
    try {
      return cmd.kind === 'full_scans'
        ? this.#fullScansHeld(cmd.target, cmd.timeoutMs)
        : this.#batchHeld(cmd.timeoutMs);
    } catch (e) {
      if (e instanceof Stopped) return { kind: 'stopped' };
      return { kind: 'error', message: `${e instanceof Error ? e.message : String(e)}${this.#holdAfterError()}` };
    } finally {
      Atomics.store(this.#state, BUSY, 0);
      Atomics.notify(this.#state, BUSY);
    }
  }

  /** Runs ksmd until full_scans reaches `target`, then holds it. */
  #fullScansHeld(target: number, timeoutMs: number): HoldReply {
    const begin = performance.now();
    let lastPoll = begin;
    let longestGapMs = 0;
    this.#write('1');
    for (;;) {
      const now = this.#fullScans.read();
      const t = performance.now();
      longestGapMs = Math.max(longestGapMs, t - lastPoll);
      lastPoll = t;
      if (now >= target || t - begin > timeoutMs) {
        this.#write('0');
        if (now < target) return { kind: 'timeout', elapsedMs: t - begin, counted: now };
        return { kind: 'held', longestGapMs, heldMs: performance.now() - lastPoll };
      }
      this.#pause();
    }
  }

  /** Runs ksmd until pages_scanned or full_scans moves (one batch), then holds it. */
  #batchHeld(timeoutMs: number): HoldReply {
    const scanned = this.#scanned.read();
    const scans = this.#fullScans.read();
    const begin = performance.now();
    let quietAt = begin;
    this.#write('1');
    for (;;) {
      const t = performance.now();
      if (this.#scanned.read() !== scanned || this.#fullScans.read() !== scans) break;
      quietAt = t;
      if (t - begin > timeoutMs) {
        this.#write('0');
        return { kind: 'timeout', elapsedMs: t - begin, counted: scans };
      }
      this.#pause();
    }
    const heldAt = performance.now();
    this.#write('0');
    return { kind: 'held', longestGapMs: heldAt - quietAt, heldMs: heldAt - quietAt };
  }

  /** Sleeps pollMs, less when STOP comes; throws Stopped then. */
  #pause(): void {
    Atomics.wait(this.#state, STOP, 0, this.#pollMs);
    if (Atomics.load(this.#state, STOP) !== 0) throw new Stopped();
  }

  /** Writes ksm/run, or throws Stopped without writing once STOP has come. */
  #write(value: '0' | '1'): void {
    if (Atomics.load(this.#state, STOP) !== 0) throw new Stopped();
    this.#beforeWrite?.(`${KSM_DIR}/run=${value}`);
    writeFileSync(`${KSM_DIR}/run`, value);
  }

  /** After a failure mid-command: hold ksmd if it may still write; what to add to the message. */
  #holdAfterError(): string {
    try {
      this.#write('0');
      return '';
    } catch (e) {
      return e instanceof Stopped ? '' : ` (and ksmd could not be held: ${e instanceof Error ? e.message : String(e)})`;
    }
  }

  close(): void {
    this.#fullScans.close();
    this.#scanned.close();
  }
}

/**
 * This thread at nice -20: setpriority(2) of a tid sets that thread's nice alone. Where that is refused (not root: the kernel backend needs root
 * anyway), it polls at the process's nice.
 */
function raisePriority(): void {
  try {
    setPriority(currentThreadId(), -20);
  } catch {
    // Kept at the process's nice: the hold only comes later under load, and says so.
  }
}

if (parentPort !== null) {
  const port = parentPort;
  const worker = new HoldWorker(workerData as HoldWorkerData);
  port.on('message', (cmd: HoldCommand) => port.postMessage(worker.run(cmd)));
  port.on('close', () => worker.close());
}
