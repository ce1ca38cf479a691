import { comparePages } from '../lib/pagecmp.ts';
import { PageKernel } from '../lib/xxh64.ts';
import { ContentStore } from './content_store.ts';
import { PageFrames } from './page_frames.ts';
import type { KsmHooks } from './ksm_hooks.ts';
import { NO_KSM } from './ksm_hooks.ts';
import type { MmStruct } from './mm_struct.ts';
import type { AnonVma } from './vma.ts';

/** A process: what the model needs of task_struct. */
export class Task {
  exited = false;
  readonly pid: number;
  comm: string;
  mm: MmStruct;

  constructor(pid: number, comm: string, mm: MmStruct) {
    this.pid = pid;
    this.comm = comm;
    this.mm = mm;
  }
}

/** Event counters of /proc/vmstat that the model maintains. */
export interface VmStat {
  cow_ksm: number;
  pgfault: number;
}

/**
 * The memory manager of one simulated machine: physical frames, page contents, the task
 * list and the hooks into KSM. It holds the kernel's mm-wide globals as fields, so many
 * machines can live in one process.
 */
export class MemoryManager {
  readonly tasks = new Map<number, Task>();
  readonly vmstat: VmStat = { cow_ksm: 0, pgfault: 0 };
  hooks: KsmHooks = NO_KSM;
  #nextPid = 1000;
  #nextAnonVma = 1;

  readonly frames: PageFrames;
  readonly contents: ContentStore;
  /**
   * Whether read faults are refused the shared zero page (mm_forbids_zeropage). Upstream
   * x86-64 never refuses it; s390 does for KVM guests, and some vendor kernels on a boot
   * option (this project's CI machine boots with pvm_no_zero_page=1). Machine-wide here,
   * per mm in Linux: the model knows no per-mm reason.
   */
  readonly forbidsZeropage: boolean;

  constructor(frames: PageFrames, contents: ContentStore, forbidsZeropage = false) {
    this.frames = frames;
    this.contents = contents;
    this.forbidsZeropage = forbidsZeropage;
  }

  allocPid(): number {
    return this.#nextPid++;
  }

  newAnonVma(): AnonVma {
    return { id: this.#nextAnonVma++ };
  }

  /** Live tasks in pid order (the kernel's for_each_process order). */
  liveTasks(): Task[] {
    return [...this.tasks.values()].filter((t) => !t.exited).sort((a, b) => a.pid - b.pid);
  }
}

/**
 * The memory of one machine: `nrFrames` page frames on `numaNodes` nodes, whose contents are
 * checksummed with the kernel's XXH64 and compared as memcmp does. The one place the model
 * builds it: whole machines (system.ts) and the test machines of mm/ and ksm/ alike.
 */
export function createMemoryManager(nrFrames: number, numaNodes = 1, forbidsZeropage = false): MemoryManager {
  const kernel = new PageKernel();
  // Every content is held by a frame, or by a fill's cache for a moment: a few more at most.
  const contents = new ContentStore(
    { checksum: (buf, off) => kernel.checksumPage(buf, off), compare: comparePages },
    nrFrames + 1024,
  );
  return new MemoryManager(new PageFrames(nrFrames, numaNodes, contents), contents, forbidsZeropage);
}
