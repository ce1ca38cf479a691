import { EINVAL, ENOMEM } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import {
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from './constants.ts';
import type { MemoryManager } from './memory_manager.ts';
import { zapPageRange } from './memory.ts';
import type { MmStruct } from './mm_struct.ts';
import { ShmemObject, Vma } from './vma.ts';

/** Where the program image is mapped, as for a non-PIE x86_64 binary. */
export const IMAGE_BASE = 0x400000;
/** Top of the mmap area (mm->mmap_base with the default layout and no ASLR). */
export const MMAP_BASE = 0x7f0000000000;

/**
 * Finds room for `len` bytes below mmap_base, highest first, as the default top-down
 * layout does, so consecutive mappings sit at falling addresses as on Linux.
 * @linux mm/mmap.c arch_get_unmapped_area_topdown (partial: no hint, no guard gaps)
 */
export function getUnmappedArea(mm: MmStruct, len: number): number {
  let end = mm.mmapBase;
  for (let i = mm.vmas.length - 1; i >= 0; i--) {
    const v = mm.vmas[i]!;
    if (v.vmStart >= end) continue;
    if (v.vmEnd <= end - len) break;
    end = v.vmStart;
  }
  return end - len;
}

/**
 * Maps `len` bytes of anonymous memory, private unless `shared`; returns the address or
 * -errno. A MERGE_ANY mm marks the new VMA mergeable at creation (ksm_vma_flags).
 * @linux mm/mmap.c do_mmap (partial: anonymous and image mappings only)
 */
export function doMmap(
  mmgr: MemoryManager,
  mm: MmStruct,
  len: number,
  opts: { shared?: boolean; node?: number; image?: boolean; addr?: number } = {},
): number {
  if (len <= 0 || len % PAGE_SIZE !== 0) return -EINVAL;
  const addr = opts.addr ?? getUnmappedArea(mm, len);
  if (addr <= 0) return -ENOMEM;
  let flags = VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (opts.image === true) flags |= VM_EXEC;
  else flags |= VM_WRITE;
  if (opts.shared === true) flags |= VM_SHARED | VM_MAYSHARE;
  flags = mmgr.hooks.ksmVmaFlags(mm, flags, opts.image === true);
  let shmem: ShmemObject | null = null;
  if (opts.shared === true) {
    shmem = new ShmemObject();
    shmem.users = 1;
  }
  mm.insertVma(new Vma(mm, addr, addr + len, flags, shmem, 0, opts.node, opts.image === true));
  return addr;
}

/**
 * Splits `vma` at `addr` (strictly inside it); the new upper part is returned. Both halves
 * share the anon_vma and the shmem object, as after anon_vma_clone.
 * @linux mm/vma.c __split_vma
 */
export function splitVma(vma: Vma, addr: number): Vma {
  const upper = new Vma(
    vma.vmMm,
    addr,
    vma.vmEnd,
    vma.vmFlags,
    vma.shmem,
    vma.vmPgoff + (addr - vma.vmStart) / PAGE_SIZE,
    vma.bindNode,
    vma.file,
  );
  upper.anonVma = vma.anonVma;
  if (vma.shmem !== null) vma.shmem.users++;
  vma.vmEnd = addr;
  vma.vmMm.insertVma(upper);
  return upper;
}

/**
 * The VMAs covering [start, end), split so that none crosses either boundary.
 * Gaps are reported so callers can return -ENOMEM as Linux does for unmapped ranges.
 */
export function vmasInRange(mm: MmStruct, start: number, end: number): { vmas: Vma[]; gap: boolean } {
  const vmas: Vma[] = [];
  let gap = false;
  let cursor = start;
  let v = mm.findVma(start);
  while (v !== undefined && v.vmStart < end) {
    if (v.vmStart > cursor) gap = true;
    if (v.vmStart < start) v = splitVma(v, start);
    if (v.vmEnd > end) splitVma(v, end);
    vmas.push(v);
    cursor = v.vmEnd;
    v = mm.findVma(cursor);
  }
  if (cursor < end) gap = true;
  return { vmas, gap };
}

/** Frees a VMA's pages and its share of the shmem object. */
export function removeVma(mmgr: MemoryManager, vma: Vma): void {
  zapPageRange(mmgr, vma, vma.vmStart, vma.vmEnd);
  if (vma.shmem !== null && --vma.shmem.users === 0) {
    for (const pfn of vma.shmem.pages.values()) mmgr.frames.putPage(pfn);
    vma.shmem.pages.clear();
  }
  vma.vmMm.removeVma(vma);
}

/**
 * Unmaps [addr, addr+len).
 * @linux mm/vma.c do_vmi_munmap
 */
export function doMunmap(mmgr: MemoryManager, mm: MmStruct, addr: number, len: number): number {
  if (addr % PAGE_SIZE !== 0 || len <= 0) return -EINVAL;
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  for (const v of vmasInRange(mm, addr, end).vmas) removeVma(mmgr, v);
  return 0;
}
