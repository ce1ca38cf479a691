/**
 * A small machine wired as createSystem does, for tests of ksm/ (which may not import
 * system.ts): 4 MiB of RAM, one NUMA node, the default cost model.
 */
import { comparePages } from '../lib/pagecmp.ts';
import { PageKernel } from '../lib/xxh64.ts';
import { EventQueue } from '../sim/event_queue.ts';
import { VirtualClock } from '../sim/clock.ts';
import { ContentStore } from '../mm/content_store.ts';
import { MemoryManager } from '../mm/memory_manager.ts';
import { PageFrames } from '../mm/page_frames.ts';
import { ksmHooks } from './control.ts';
import { Ksm } from './ksm.ts';
import { Ksmd } from './ksmd.ts';

export interface TestMachine {
  readonly mmgr: MemoryManager;
  readonly events: EventQueue;
  readonly ksm: Ksm;
  readonly ksmd: Ksmd;
  /** Runs ksmd until full_scans has grown by `n`; throws if ksmd stops first. */
  scans(n: number): void;
}

export function testMachine(): TestMachine {
  const kernel = new PageKernel();
  const contents = new ContentStore({ checksum: (b, o) => kernel.checksumPage(b, o), compare: comparePages });
  const events = new EventQueue(new VirtualClock());
  const mmgr = new MemoryManager(new PageFrames(1025, 1, contents), contents);
  const ksm = new Ksm(mmgr, events);
  const ksmd = new Ksmd(ksm);
  mmgr.hooks = ksmHooks(ksm, ksmd);
  const scans = (n: number): void => {
    const target = ksm.ksmScan.seqnr + n;
    while (ksm.ksmScan.seqnr < target) {
      if (!events.runNext(Number.POSITIVE_INFINITY)) throw new Error(`ksmd stopped before ${n} full scans`);
    }
  };
  return { mmgr, events, ksm, ksmd, scans };
}
