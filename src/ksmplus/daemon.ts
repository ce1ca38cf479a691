import type { EventQueue } from '../sim/event_queue.ts';
import { Kthread } from '../sim/kthread.ts';
import type { KsmPlus } from './ksmplus.ts';
import { postSleepNoTreeNs, postSleepNs, WAKEUP_NS } from '../ksm/cost.ts';
import { enterNamedTasks, ksmPlusDoScan } from './scan.ts';

/** Whether the KSM+ daemon has work: it runs and some program is named. */
export function ksmPlusShouldRun(plus: KsmPlus): boolean {
  return (plus.run & 1) !== 0 && plus.names.length > 0;
}

/**
 * The KSM+ kernel thread: the shared kthread loop (src/sim/kthread.ts), which every
 * sleep_millisecs looks for new processes of the named programs, then processes up to
 * pages_to_scan sampled pages.
 * @thesis 4.2 the KSM+ kernel thread
 */
export class KsmPlusDaemon extends Kthread {
  constructor(plus: KsmPlus, events: EventQueue) {
    super(
      {
        shouldRun: () => ksmPlusShouldRun(plus),
        scan: () => {
          enterNamedTasks(plus);
          ksmPlusDoScan(plus, plus.pagesToScan);
        },
        sleepMillisecs: () => plus.sleepMillisecs,
        cpu: plus.engine,
        wakeupNs: WAKEUP_NS,
        // The caches lose the daemon's rmap_items, page tables and tree nodes while it
        // sleeps as they lose ksmd's (measured for ksmd only: docs/cost-model-journal.md, "ksmd's
        // batch after a sleep"), and its engine is KSM's code on the same machine, so its
        // batches reload them at the same cost. KSM+ itself runs nowhere to measure it on.
        postSleepNs: (sleptNs) => postSleepNs(plus.engine.cost, sleptNs, plus.pagesToScan),
        postSleepNoTreeNs: (sleptNs) => postSleepNoTreeNs(plus.engine.cost, sleptNs),
      },
      events,
    );
  }
}
