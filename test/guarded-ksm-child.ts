/**
 * Test program: a script that sets KSM's knobs through withGuardedKsm
 * (src/host/ksm_guard.ts) and then waits to be stopped.
 *
 *   node dist/test/guarded-ksm-child.js hold
 *
 * sets pages_to_scan 4321, sleep_millisecs 77, smart_scan 0 and run 1, prints `ready` and
 * waits. test/guarded-ksm.test.ts signals or SIGKILLs it and checks that every KSM file is
 * back. Without arguments it does nothing (the test runner loads every file under test/).
 */
import { withGuardedKsm } from '../src/host/ksm_guard.ts';

if (process.argv[2] === 'hold') {
  await withGuardedKsm({ pinKsmd: false, onWarning: (m) => process.stderr.write(`${m}\n`) }, async (set) => {
    set('pages_to_scan', 4321);
    set('sleep_millisecs', 77);
    set('smart_scan', 0);
    set('run', 1);
    process.stdout.write('ready\n');
    await new Promise(() => setInterval(() => undefined, 60_000));
  });
}
