/**
 * Test-only: `SAMEPAGE_TEST_PAUSE_AT_STEP=N samepage run FILE` writes a line on stderr as
 * each step starts, `samepage: test: steps[i].<kind> starts`, and at the start of step N
 * writes `samepage: test: paused at steps[N].<kind>` and waits there for a signal to end
 * the process. test/kernel-interrupt.test.ts uses it to interrupt a kernel-backend run at a
 * known step (a step index past the last one never pauses: the lines still come, so a test
 * can also interrupt inside a step). It changes nothing else; it is not for users.
 */
import type { Step } from '../scenario/types.ts';

export const TEST_PAUSE_VARIABLE = 'SAMEPAGE_TEST_PAUSE_AT_STEP';

/** The beforeStep hook the variable asks for, or undefined when it is unset. */
export function testPauseHook(
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
): ((index: number, step: Step) => Promise<void>) | undefined {
  const text = env[TEST_PAUSE_VARIABLE];
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`${TEST_PAUSE_VARIABLE} must be a step index (0, 1, ...), got "${text}"`);
  const at = Number(text);
  return async (index, step) => {
    const where = `steps[${index}].${step.kind}`;
    if (index !== at) {
      stderr.write(`samepage: test: ${where} starts\n`);
      return;
    }
    stderr.write(`samepage: test: paused at ${where}\n`);
    // A timer keeps the event loop, and with it the signal handlers, alive.
    await new Promise<never>(() => setInterval(() => undefined, 60_000));
  };
}
