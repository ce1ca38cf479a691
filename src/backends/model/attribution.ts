/**
 * The model's KSM pages and who maps them, as the same Observation the live reader builds
 * (src/host/ksm_attribution.ts), so src/attribution/attribute.ts gives a scenario the
 * figures it gives a live host: each process's /proc/PID/ksm_stat, and its present PTEs in
 * VM_MERGEABLE mappings whose frame is a KSM page (PG_ksm) mapped more than once, one
 * reference per mapping.
 * The model has no cgroups: every process is in "/".
 */
import type { Observation, ProcessObservation } from '../../attribution/attribute.ts';
import { MMF_VM_MERGEABLE } from '../../mm/constants.ts';
import { forEachMergeablePte } from '../../mm/mergeable_ptes.ts';
import type { Task } from '../../mm/memory_manager.ts';
import { ksmProcessProfit } from '../../sysfs/proc_ksm.ts';
import type { System } from '../../system.ts';

/** The observation of `tasks` (in this order) on the model machine `sys`. */
export function modelObservation(sys: System, tasks: readonly Task[]): Observation {
  const frames = sys.mmgr.frames;
  const index = new Map<number, number>();
  const pfns: number[] = [];
  const processes = tasks.map((task): ProcessObservation => {
    const mm = task.mm;
    const refs: number[] = [];
    if (mm.ksmMergingPages > 0 || (mm.flags & MMF_VM_MERGEABLE) !== 0) {
      forEachMergeablePte(mm, (_vpn, pfn) => {
        // As the live reader: a page mapped once frees nothing and is not looked up.
        if (frames.mapcount[pfn]! < 2 || !frames.isKsm(pfn)) return;
        let f = index.get(pfn);
        if (f === undefined) {
          f = pfns.length;
          index.set(pfn, f);
          pfns.push(pfn);
        }
        refs.push(f);
      });
    }
    return {
      pid: task.pid,
      comm: task.comm,
      cgroup: '/',
      ksm_rmap_items: mm.ksmRmapItems,
      ksm_zero_pages: mm.ksmZeroPages,
      ksm_merging_pages: mm.ksmMergingPages,
      ksm_process_profit: ksmProcessProfit(mm),
      frameRefs: refs,
    };
  });
  const k = sys.ksm;
  return {
    ksm: {
      pages_shared: k.pagesShared,
      pages_sharing: k.pagesSharing,
      ksm_zero_pages: k.zeroPages,
      general_profit: k.generalProfit(),
    },
    frames: { count: pfns.length, pfn: pfns, mapcount: pfns.map((p) => frames.mapcount[p]!) },
    processes,
    ksmdCpuSeconds: k.cpuNs / 1e9,
  };
}
