/**
 * Test program: a samepage process that makes a journaled change to another process and
 * then waits to be killed, standing in for the KSM+ daemon (which madvises ranges of other
 * processes) until it exists.
 *
 *   node dist/test/journal-owner.js madvise PID ADDRESS LENGTH
 *
 * opens a journal (LiveChanges: dead owners recovered first, watchdog started), makes
 * process PID madvise(MADV_MERGEABLE) [ADDRESS, ADDRESS+LENGTH) through the injector, prints
 * `ready JOURNAL` and waits. test/kernel-crash.test.ts SIGKILLs it and checks that the
 * watchdog takes the range out of KSM again. Without arguments it does nothing (the test
 * runner loads every file under test/).
 */
import { LiveChanges } from '../src/host/live_changes.ts';

const [verb, pid, address, length] = process.argv.slice(2);
if (verb === 'madvise' && pid !== undefined && address !== undefined && length !== undefined) {
  const changes = LiveChanges.open({ command: 'journal-owner (test)' });
  const { answer } = changes.madviseMergeable(Number(pid), [[Number(address), Number(length)]]);
  if (answer.error !== undefined || answer.results[0]?.result !== 0) {
    process.stdout.write(`err ${answer.error ?? `madvise returned ${answer.results[0]?.result}`}\n`);
    changes.restore();
    changes.close();
    process.exit(1);
  }
  process.stdout.write(`ready ${changes.path}\n`);
  setInterval(() => undefined, 60_000);
}
