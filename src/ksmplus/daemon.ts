import type { EventQueue } from '../sim/event_queue.ts';
import { Kthread } from '../sim/kthread.ts';
import type { KsmPlus } from './ksmplus.ts';
import { WAKEUP_NS } from '../ksm/cost.ts';
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
        // Not measured for the KSM+ daemon: its batches cost their events only.
        postSleepNs: () => 0,
      },
      events,
    );
  }
}
