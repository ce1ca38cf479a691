import { EINVAL } from '../lib/errno.ts';
import { unmergeKsmPages } from '../ksm/merge.ts';
import { removeAllStableNodes } from '../ksm/stable_tree.ts';
import { parseProcessesToScan } from '../lib/processes_to_scan.ts';
import type { KsmPlusDaemon } from './daemon.ts';
import type { KsmPlus } from './ksmplus.ts';
import type { PlusSlot } from './plus_slot.ts';
import { enterNamedTasks, removeSlot } from './scan.ts';

/** Breaks every KSM+ page of a slot's scanned VMAs, then forgets the slot. */
function unmergeSlot(plus: KsmPlus, slot: PlusSlot): number {
  if (!plus.engine.testExit(slot.mm)) {
    for (const node of slot.vmaNodes) {
      const err = unmergeKsmPages(plus.engine, node.vma, node.start, node.end);
      if (err !== 0) return err;
    }
  }
  removeSlot(plus, slot);
  return 0;
}

/**
 * A write to /sys/kernel/mm/ksm+/processes_to_scan: "+ NAME" scans every process of program
 * NAME from now on, "- NAME" stops and unmerges them. Anything else is -EINVAL and changes
 * nothing: no +/- sign, no name, a name longer than a kernel comm (lib/processes_to_scan.ts).
 * @thesis 4.2.1 processes_to_scan store
 */
export function processesToScanStore(plus: KsmPlus, daemon: KsmPlusDaemon, value: string): number {
  const w = parseProcessesToScan(value);
  if (w === undefined) return -EINVAL;
  const name = w.name;
  if (w.add) {
    if (!plus.names.includes(name)) plus.names.push(name);
    if (plus.run !== 2) enterNamedTasks(plus);
    daemon.wake();
    return 0;
  }
  const i = plus.names.indexOf(name);
  if (i >= 0) plus.names.splice(i, 1);
  for (const slot of [...plus.slots]) {
    const task = plus.mmgr.liveTasks().find((t) => t.mm === slot.mm);
    // An exited process's slot is the scanner's to clean up.
    if (task === undefined || task.comm !== name) continue;
    const err = unmergeSlot(plus, slot);
    if (err !== 0) return err;
  }
  return 0;
}

/** The names, one per line, oldest first. */
export function processesToScanShow(plus: KsmPlus): string {
  return plus.names.map((n) => `${n}\n`).join('');
}

/**
 * /sys/kernel/mm/ksm+/run: 0 stops, 1 runs, 2 unmerges every KSM+ page and frees every
 * rmap_item and vma_node (the named programs stay named), as KSM's run=2 does.
 */
export function ksmPlusRunStore(plus: KsmPlus, daemon: KsmPlusDaemon, flags: number): number {
  if (flags > 2) return -EINVAL;
  if (plus.run !== flags) {
    plus.run = flags;
    if (flags === 2) {
      for (const slot of [...plus.slots]) {
        const err = unmergeSlot(plus, slot);
        if (err !== 0) {
          plus.run = 0;
          return err;
        }
      }
      removeAllStableNodes(plus.engine);
      plus.cursor = -1;
      plus.engine.ksmScan.seqnr = 0;
    }
  }
  if ((flags & 1) !== 0) daemon.wake();
  return 0;
}
