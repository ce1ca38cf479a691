/**
 * A small machine wired as createSystem does (the same createMemoryManager and ksmInit),
 * for tests of ksm/ (which may not import system.ts): 4 MiB of RAM, one NUMA node, the
 * default cost model unless `cost` is given.
 */
import { EventQueue } from '../sim/event_queue.ts';
import { VirtualClock } from '../sim/clock.ts';
import { createMemoryManager, type MemoryManager } from '../mm/memory_manager.ts';
import { ksmInit } from './control.ts';
import type { CostModel } from './cost.ts';
import type { Ksm } from './ksm.ts';
import type { Ksmd } from './ksmd.ts';

export interface TestMachine {
  readonly mmgr: MemoryManager;
  readonly events: EventQueue;
  readonly ksm: Ksm;
  readonly ksmd: Ksmd;
  /** Runs ksmd until full_scans has grown by `n`; throws if ksmd stops first. */
  scans(n: number): void;
}

export function testMachine(cost?: CostModel): TestMachine {
  const events = new EventQueue(new VirtualClock());
  const mmgr = createMemoryManager(1025);
  const { ksm, ksmd } = ksmInit(mmgr, events, cost);
  const scans = (n: number): void => {
    const target = ksm.ksmScan.seqnr + n;
    while (ksm.ksmScan.seqnr < target) {
      if (!events.runNext(Number.POSITIVE_INFINITY)) throw new Error(`ksmd stopped before ${n} full scans`);
    }
  };
  return { mmgr, events, ksm, ksmd, scans };
}
