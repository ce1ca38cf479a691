import type { RmapItem } from '../ksm/rmap_item.ts';
import { cmpAndMergePage } from '../ksm/cmp_and_merge_page.ts';
import { dropVmaNode, finishVmaNodeRound, nextSample, syncVmaNodes } from './sampling.ts';
import type { KsmPlus } from './ksmplus.ts';
import { PlusSlot } from './plus_slot.ts';

/**
 * Registers every live process of a named program that KSM+ does not scan yet: the thesis's
 * daemon walks the task list for them (for_each_process + task_ksm_enter).
 * @thesis 4.2.1 task_ksm_enter
 */
export function enterNamedTasks(plus: KsmPlus): void {
  if (plus.names.length === 0) return;
  for (const task of plus.mmgr.liveTasks()) {
    if (!plus.names.includes(task.comm) || plus.slotOf(task.mm) !== undefined) continue;
    plus.slots.push(new PlusSlot(task.mm));
  }
}

/** Drops a slot with all its vma_nodes and items. */
export function removeSlot(plus: KsmPlus, slot: PlusSlot): void {
  for (const node of slot.vmaNodes) dropVmaNode(plus, node);
  slot.vmaNodes = [];
  const i = plus.slots.indexOf(slot);
  plus.slots.splice(i, 1);
  if (plus.cursor > i) plus.cursor--;
}

/**
 * The next sampled page to process, walking slots, then their vma_nodes, then each node's
 * samples; at the end of the slot list a full scan (a round) is complete and null is
 * returned. Exited processes are dropped with their items on the way.
 */
function nextPage(plus: KsmPlus): { item: RmapItem; pfn: number } | null {
  const engine = plus.engine;
  if (plus.cursor < 0) {
    enterNamedTasks(plus);
    engine.resetUnstableTrees();
    plus.cursor = 0;
    for (const s of [...plus.slots]) {
      if (engine.testExit(s.mm)) {
        removeSlot(plus, s);
        continue;
      }
      s.nodeIdx = 0;
      syncVmaNodes(plus, s);
    }
    plus.cursor = 0;
  }
  while (plus.cursor < plus.slots.length) {
    const slot = plus.slots[plus.cursor]!;
    if (engine.testExit(slot.mm)) {
      removeSlot(plus, slot);
      continue;
    }
    while (slot.nodeIdx < slot.vmaNodes.length) {
      const node = slot.vmaNodes[slot.nodeIdx]!;
      const step = nextSample(plus, node);
      if (step !== null) return step;
      if (finishVmaNodeRound(plus, node)) slot.nodeIdx++;
      else slot.vmaNodes.splice(slot.nodeIdx, 1);
    }
    plus.cursor++;
  }
  plus.cursor = -1;
  engine.ksmScan.seqnr++;
  return null;
}

/**
 * One batch of the KSM+ daemon: up to pages_to_scan sampled pages, ending early at the end
 * of a round. Returns the pages processed.
 */
export function ksmPlusDoScan(plus: KsmPlus, budget: number): number {
  const engine = plus.engine;
  engine.batchPages = budget;
  let done = 0;
  while (done < budget) {
    const step = nextPage(plus);
    if (step === null) break;
    engine.cpuNs += engine.cost.visitNs;
    cmpAndMergePage(engine, step.pfn, step.item);
    engine.pagesScanned++;
    done++;
  }
  return done;
}
