import { PAGE_SIZE } from '../lib/sizes.ts';
import {
  MMF_INIT_LEGACY_MASK,
  MMF_VM_MERGEABLE,
  PG_anon,
  PG_anon_exclusive,
  VM_SHARED,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
} from './constants.ts';
import { KernelBug } from './kernel_bug.ts';
import { type MemoryManager, Task } from './memory_manager.ts';
import { MMAP_BASE, removeVma } from './mmap.ts';
import { MmStruct } from './mm_struct.ts';
import { Vma } from './vma.ts';

/**
 * Process lifecycle as it touches memory: creating a process, fork, exec and exit.
 *
 * A scenario process's address space holds only the regions the scenario maps: no program
 * text, heap or stack. The kernel backend's workload agent hides its own mappings from KSM
 * in the same way (it keeps VM_MERGEABLE off them), so both backends see the same memory.
 * One consequence, the same on both: a MERGE_ANY process with no region left loses its
 * mm_slot and MERGE_ANY at ksmd's next pass, as Linux does for an mm with no mergeable VMA.
 */

/** A new process running `comm`, with a fresh address space holding only its image. */
export function spawnTask(mmgr: MemoryManager, comm: string): Task {
  const pid = mmgr.allocPid();
  const mm = new MmStruct(pid, MMAP_BASE, mmgr.frames.generation);
  const task = new Task(pid, comm, mm);
  mmgr.tasks.set(pid, task);
  return task;
}

/**
 * Copies the parent's page tables for one VMA: private anonymous pages become shared
 * copy-on-write (both PTEs read-only, AnonExclusive cleared); zero-page PTEs are copied with
 * their dirty bit (the KSM marker) except in shared mappings.
 * @linux mm/memory.c copy_page_range (partial: no swap entries, no pinned pages)
 */
function copyPageRange(mmgr: MemoryManager, dst: Vma, src: Vma): void {
  const frames = mmgr.frames;
  const smm = src.vmMm;
  const dmm = dst.vmMm;
  const endVpn = src.vmEnd / PAGE_SIZE;
  const cow = (src.vmFlags & VM_SHARED) === 0;
  for (
    let vpn = smm.pgtable.nextPresent(src.vmStart / PAGE_SIZE, endVpn);
    vpn >= 0;
    vpn = smm.pgtable.nextPresent(vpn + 1, endVpn)
  ) {
    let pte = smm.pgtable.flags(vpn);
    const pfn = smm.pgtable.pfn(vpn);
    if ((pte & _PAGE_SPECIAL) !== 0) {
      dmm.pgtable.set(vpn, pfn, cow ? pte : pte & ~_PAGE_DIRTY);
      continue;
    }
    frames.getPage(pfn);
    frames.mapcount[pfn]!++;
    if (cow && (frames.flags[pfn]! & PG_anon) !== 0) {
      frames.flags[pfn]! &= ~PG_anon_exclusive;
      if ((pte & _PAGE_RW) !== 0) {
        pte &= ~_PAGE_RW;
        smm.pgtable.setFlags(vpn, pte);
      }
      dmm.rssAnon++;
    } else {
      dmm.rssShmem++;
    }
    dmm.pgtable.set(vpn, pfn, pte);
  }
}

/**
 * Maps the anonymous page at `srcAddr` of `src` at `dstAddr` of `dst` too, copy-on-write,
 * as fork's copy_page_range does for one PTE: both PTEs read-only, the page no longer
 * AnonExclusive, one more reference and mapping. For loading memory whose pages a live
 * system already shared this way (a forked child's, seen in a snapshot as one frame).
 * Returns 0, or -1 when `srcAddr` maps no anonymous page or `dstAddr` is in no VMA.
 * @linux mm/memory.c copy_present_pte (partial: one PTE, private anonymous pages only)
 */
export function shareAnonPage(
  mmgr: MemoryManager,
  dst: MmStruct,
  dstAddr: number,
  src: MmStruct,
  srcAddr: number,
): number {
  const frames = mmgr.frames;
  const svpn = srcAddr / PAGE_SIZE;
  const dvpn = dstAddr / PAGE_SIZE;
  const pte = src.pgtable.flags(svpn);
  const pfn = src.pgtable.pfn(svpn);
  const vma = dst.vmaLookup(dstAddr);
  if ((pte & _PAGE_PRESENT) === 0 || (pte & _PAGE_SPECIAL) !== 0 || (frames.flags[pfn]! & PG_anon) === 0) return -1;
  if (vma === undefined || (vma.vmFlags & VM_SHARED) !== 0 || (dst.pgtable.flags(dvpn) & _PAGE_PRESENT) !== 0)
    return -1;
  if (vma.anonVma === null) vma.anonVma = mmgr.newAnonVma();
  frames.getPage(pfn);
  frames.mapcount[pfn]!++;
  frames.flags[pfn]! &= ~PG_anon_exclusive;
  const ro = pte & ~_PAGE_RW;
  if (ro !== pte) src.pgtable.setFlags(svpn, ro);
  dst.pgtable.set(dvpn, pfn, ro);
  dst.rssAnon++;
  return 0;
}

/**
 * fork(2): the child gets a copy-on-write copy of the address space. KSM hears of it
 * (ksm_fork) before the page tables are copied, as in dup_mmap.
 * @linux kernel/fork.c dup_mm
 */
export function forkTask(mmgr: MemoryManager, parent: Task): Task {
  const pid = mmgr.allocPid();
  const oldmm = parent.mm;
  const mm = new MmStruct(pid, oldmm.mmapBase, mmgr.frames.generation);
  // dup_mm starts from a copy of the parent's mm_struct; ksm_fork then zeroes the
  // merging and rmap_item counts (the 6.18 fix). It does so only for a parent registered
  // with KSM, but an unregistered parent has no rmap_items of KSM's, so zeroing always is
  // the same for KSM, and right for KSM+, whose items are the parent's too.
  mm.flags = oldmm.flags & MMF_INIT_LEGACY_MASK;
  mm.ksmZeroPages = oldmm.ksmZeroPages;
  if ((oldmm.flags & MMF_VM_MERGEABLE) !== 0) mmgr.hooks.ksmFork(mm, oldmm);
  for (const v of oldmm.vmas) {
    const nv = new Vma(mm, v.vmStart, v.vmEnd, v.vmFlags, v.shmem, v.vmPgoff, v.bindNode, v.file);
    if (v.shmem !== null) v.shmem.users++;
    if (v.anonVma !== null) nv.anonVma = mmgr.newAnonVma();
    mm.vmas.push(nv);
    // vma_needs_copy: only VMAs with anonymous pages have page tables worth copying.
    if (v.anonVma !== null) copyPageRange(mmgr, nv, v);
  }
  const child = new Task(pid, parent.comm, mm);
  mmgr.tasks.set(pid, child);
  return child;
}

/**
 * The last user of an mm goes away: KSM is told first (ksm_exit), then the address space
 * is torn down (exit_mmap).
 * @linux kernel/fork.c __mmput
 */
export function mmput(mmgr: MemoryManager, mm: MmStruct): void {
  if (mm.mmUsers <= 0) throw new KernelBug(`mmput of an mm without users (${mm.id})`);
  if (--mm.mmUsers > 0) return;
  mm.generation.bump(); // ksm_test_exit is true from now on
  if ((mm.flags & MMF_VM_MERGEABLE) !== 0) mmgr.hooks.ksmExit(mm);
  // exit_mmap
  for (const v of [...mm.vmas]) removeVma(mmgr, v);
}

/**
 * execve(2): a new address space with the new program's image. MMF_VM_MERGE_ANY carries
 * over, and KSM registers the new mm (ksm_execve) before the old one is dropped.
 * @linux fs/exec.c begin_new_exec (partial: memory only)
 */
export function execTask(mmgr: MemoryManager, task: Task, comm: string): void {
  const old = task.mm;
  const mm = new MmStruct(old.id, MMAP_BASE, mmgr.frames.generation);
  mm.flags = old.flags & MMF_INIT_LEGACY_MASK;
  mmgr.hooks.ksmExecve(mm);
  task.mm = mm;
  task.comm = comm;
  mmput(mmgr, old);
}

/** exit(2) as it touches memory. */
export function exitTask(mmgr: MemoryManager, task: Task): void {
  if (task.exited) return;
  task.exited = true;
  mmput(mmgr, task.mm);
  mmgr.tasks.delete(task.pid);
}
