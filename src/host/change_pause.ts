/**
 * The crash suite's test hook: with SAMEPAGE_TEST_PAUSE_AT_CHANGE=N in the environment, every
 * live change writes `samepage: test: live change I: WHAT` on stderr before it is made, and
 * change N writes `samepage: test: paused before live change N: WHAT` and blocks its thread
 * there (synchronously: only a signal that kills the process ends it). The crash suite
 * (test/kernel-crash.test.ts) SIGKILLs samepage at such points. The changes are counted in
 * shared memory, so a thread that writes sysfs itself (the one that holds ksmd) counts in
 * the same sequence. Nothing else changes; it is not for users.
 */
import { writeSync } from 'node:fs';

export const TEST_PAUSE_AT_CHANGE = 'SAMEPAGE_TEST_PAUSE_AT_CHANGE';

/**
 * The test hook's state that another thread of this process shares (the thread that holds
 * ksmd): the change number to pause at, and the count of changes so far, one for all threads.
 */
export interface TestPause {
  readonly at: string;
  /** One Int32 word: live changes made so far, by every thread. */
  readonly counter: SharedArrayBuffer;
}

/**
 * The test hook of SAMEPAGE_TEST_PAUSE_AT_CHANGE, or undefined when it is unset; `counter`
 * (one Int32 word) counts the changes, shared with other threads (TestPause).
 */
export function testPauseHook(
  env: NodeJS.ProcessEnv,
  counter = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
): ((what: string) => void) | undefined {
  const text = env[TEST_PAUSE_AT_CHANGE];
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text))
    throw new Error(`${TEST_PAUSE_AT_CHANGE} must be a change number (1, 2, ...), got "${text}"`);
  const at = Number(text);
  const count = new Int32Array(counter);
  return (what) => {
    const n = Atomics.add(count, 0, 1) + 1;
    if (n !== at) {
      writeSync(2, `samepage: test: live change ${n}: ${what}\n`);
      return;
    }
    writeSync(2, `samepage: test: paused before live change ${n}: ${what}\n`);
    // Blocks this thread for good: the test ends the process with a signal.
    for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
}
