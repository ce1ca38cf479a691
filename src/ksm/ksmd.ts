import { Kthread } from '../sim/kthread.ts';
import { KSM_RUN_MERGE } from './constants.ts';
import { postSleepNoTreeNs, postSleepNs, WAKEUP_NS } from './cost.ts';
import type { Ksm } from './ksm.ts';
import { ksmDoScan } from './scan.ts';

/** @linux mm/ksm.c ksmd_should_run */
export function ksmdShouldRun(ksm: Ksm): boolean {
  return (ksm.run & KSM_RUN_MERGE) !== 0 && ksm.mmHead.next !== ksm.mmHead;
}

/**
 * The ksmd kernel thread: the shared kthread loop (src/sim/kthread.ts) running batches of
 * up to pages_to_scan pages every sleep_millisecs while KSM runs and has mms to scan.
 */
export class Ksmd extends Kthread {
  constructor(ksm: Ksm) {
    super(
      {
        shouldRun: () => ksmdShouldRun(ksm),
        scan: () => ksmDoScan(ksm, ksm.pagesToScan),
        sleepMillisecs: () => ksm.sleepMillisecs,
        cpu: ksm,
        wakeupNs: WAKEUP_NS,
        // The batch's budget is ksm_do_scan's scan_npages, read as the batch begins.
        postSleepNs: (sleptNs) => postSleepNs(ksm.cost, sleptNs, ksm.pagesToScan),
        postSleepNoTreeNs: (sleptNs) => postSleepNoTreeNs(ksm.cost, sleptNs),
      },
      ksm.events,
    );
  }
}
