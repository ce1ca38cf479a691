/**
 * /sys/kernel/mm/parser: the thesis's duplicate-page statistics module (parser.ko, section
 * 5.3.1) on the model. The operator names programs as for KSM+ ("+ okular" adds, "- okular"
 * removes) in processes_to_scan, then reads statistics, which counts the pages of every live
 * task whose comm is listed.
 *
 * What is counted: present PTEs mapping an anonymous page (PG_anon, KSM pages included) in
 * any VMA of the task. Left out, with reasons:
 *   - zero-page PTEs (_PAGE_SPECIAL): they map no private memory, and merging cannot free
 *     them; counting them would inflate the zero group with memory that was never used;
 *   - shmem pages (shared anonymous mappings): page-cache memory, which KSM never merges.
 * A KSM page mapped by n tasks counts n pages of one frame, as does a page a forked child
 * still shares: the listing counts pages of processes, as the thesis does, and the saving
 * counts frames, so it says what merging would still free.
 */
import { EINVAL } from '../lib/errno.ts';
import { kernelComm } from '../lib/comm.ts';
import { parseProcessesToScan } from '../lib/processes_to_scan.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { PG_anon, _PAGE_SPECIAL } from '../mm/constants.ts';
import type { MemoryManager, Task } from '../mm/memory_manager.ts';
import { duplicateStatistics } from '../stats/duplicate_statistics.ts';
import type { Page, PageSource } from '../stats/page_source.ts';
import { renderStatisticsText } from '../stats/render.ts';
import { type AttributeGroup, attributeGroup } from './attribute.ts';

/** The anonymous pages of `tasks` in the model, in pid and address order (see above). */
export function modelTaskPages(mmgr: MemoryManager, tasks: readonly Task[]): PageSource {
  return {
    *pages(): Iterable<Page> {
      for (const task of tasks) {
        const owner = { pid: task.pid, comm: task.comm };
        const mm = task.mm;
        for (const vma of mm.vmas) {
          const end = vma.vmEnd / PAGE_SIZE;
          for (
            let vpn = mm.pgtable.nextPresent(vma.vmStart / PAGE_SIZE, end);
            vpn >= 0;
            vpn = mm.pgtable.nextPresent(vpn + 1, end)
          ) {
            if ((mm.pgtable.flags(vpn) & _PAGE_SPECIAL) !== 0) continue;
            const pfn = mm.pgtable.pfn(vpn);
            if ((mmgr.frames.flags[pfn]! & PG_anon) === 0) continue;
            const id = mmgr.frames.content[pfn]!;
            yield {
              owner,
              address: vpn * PAGE_SIZE,
              buffer: mmgr.contents.bufferOf(id),
              offset: mmgr.contents.offsetOf(id),
              frame: pfn,
            };
          }
        }
      }
    },
  };
}

/**
 * The files of /sys/kernel/mm/parser for one machine:
 *   - processes_to_scan: reading lists the names, one per line, in the order added; writing
 *     "+ NAME" adds (again: no change), "- NAME" removes (absent: no change), both return 0;
 *     anything else is -EINVAL and changes nothing (the rule: lib/processes_to_scan.ts);
 *   - statistics: runs the count on each read; at most one page of text, as sysfs allows,
 *     with the summary lines always kept (see renderStatisticsText).
 */
export function parserSysfs(mmgr: MemoryManager): AttributeGroup {
  const names: string[] = [];
  return attributeGroup([
    {
      name: 'processes_to_scan',
      show: () => names.map((n) => `${n}\n`).join(''),
      store: (value) => {
        const w = parseProcessesToScan(value);
        if (w === undefined) return -EINVAL;
        const i = names.indexOf(w.name);
        if (w.add && i < 0) names.push(w.name);
        if (!w.add && i >= 0) names.splice(i, 1);
        return 0;
      },
    },
    {
      name: 'statistics',
      show: () => {
        const listed = new Set(names);
        const tasks = mmgr.liveTasks().filter((t) => listed.has(kernelComm(t.comm)));
        return renderStatisticsText(duplicateStatistics(modelTaskPages(mmgr, tasks)), PAGE_SIZE);
      },
    },
  ]);
}
