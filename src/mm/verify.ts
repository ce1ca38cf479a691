import { PAGE_SIZE } from '../lib/sizes.ts';
import { ContentStore } from './content_store.ts';
import {
  PG_anon,
  PG_anon_exclusive,
  PG_ksm,
  PG_shmem,
  PG_zero,
  _PAGE_DIRTY,
  _PAGE_PRESENT,
  _PAGE_RW,
  _PAGE_SPECIAL,
} from './constants.ts';
import { KernelBug } from './kernel_bug.ts';
import type { MemoryManager } from './memory_manager.ts';
import type { MmStruct } from './mm_struct.ts';
import { PTRS_PER_PTE, type PageTable } from './page_table.ts';
import type { ShmemObject } from './vma.ts';

/**
 * Invariant checkers of the memory manager, for any test: cheap enough to run after
 * every step of a property test on a small machine, exact enough that any refcount, mapcount,
 * RSS or content-store slip shows up at the step that made it.
 */

/** Every non-none PTE of `mm`, in table order: (vpn, pfn, flags). */
export function forEachPte(mm: MmStruct, fn: (vpn: number, pfn: number, flags: number) => void): void {
  for (const [key, t] of (mm.pgtable as PageTable).tables()) {
    let present = 0;
    for (let i = 0; i < PTRS_PER_PTE; i++) {
      const f = t.flags[i]!;
      if (f === 0) continue;
      present++;
      fn(key * PTRS_PER_PTE + i, t.pfn[i]!, f);
    }
    if (present !== t.present) {
      throw new KernelBug(`mm ${mm.id}: page table ${key} counts ${t.present} entries but holds ${present}`);
    }
    if (present === 0) throw new KernelBug(`mm ${mm.id}: empty page table ${key} was kept`);
  }
}

/** Number of KSM-placed zero-page PTEs (special and dirty) of `mm`. */
export function countKsmZeroPtes(mm: MmStruct): number {
  let n = 0;
  forEachPte(mm, (_vpn, _pfn, f) => {
    if ((f & (_PAGE_SPECIAL | _PAGE_DIRTY)) === (_PAGE_SPECIAL | _PAGE_DIRTY)) n++;
  });
  return n;
}

const hex = (addr: number): string => `0x${addr.toString(16)}`;

/** The address spaces of live tasks, each once. */
function liveMms(mmgr: MemoryManager): MmStruct[] {
  const mms = new Set<MmStruct>();
  for (const t of mmgr.tasks.values()) {
    if (t.exited) throw new KernelBug(`task ${t.pid} exited but is still on the task list`);
    if (t.mm.mmUsers <= 0) throw new KernelBug(`task ${t.pid} runs on mm ${t.mm.id} with mm_users ${t.mm.mmUsers}`);
    mms.add(t.mm);
  }
  return [...mms];
}

/** VMAs sorted, non-overlapping, page-aligned, owned by their mm. */
function verifyVmas(mm: MmStruct): void {
  let prevEnd = -1;
  for (const v of mm.vmas) {
    if (v.vmMm !== mm) throw new KernelBug(`mm ${mm.id}: VMA ${hex(v.vmStart)} belongs to mm ${v.vmMm.id}`);
    if (v.vmStart % PAGE_SIZE !== 0 || v.vmEnd % PAGE_SIZE !== 0 || v.vmStart >= v.vmEnd) {
      throw new KernelBug(`mm ${mm.id}: malformed VMA [${hex(v.vmStart)}, ${hex(v.vmEnd)})`);
    }
    if (v.vmStart < prevEnd) {
      throw new KernelBug(
        `mm ${mm.id}: VMA [${hex(v.vmStart)}, ${hex(v.vmEnd)}) overlaps or precedes the one ending at ${hex(prevEnd)}`,
      );
    }
    prevEnd = v.vmEnd;
  }
}

/**
 * Checks the memory manager's invariants and throws KernelBug naming the first violation:
 * - every allocated frame's refcount equals the PTEs mapping it in live mms plus one per
 *   shmem object caching it (the model has no other pins), and its mapcount equals the PTEs;
 * - no PTE maps a free frame; special PTEs map only the zero page; every present PTE lies
 *   inside a VMA, and a shmem PTE maps the object's page at that index;
 * - no writable PTE maps a KSM page, the zero page, or an anonymous page that is mapped
 *   elsewhere (refcount > 1) or not AnonExclusive;
 * - VMAs sorted and non-overlapping; shmem users equal the VMAs referring to the object;
 * - rss counters equal the present non-special anon and shmem PTEs;
 * - each content's refcount equals the frames holding it (+1, permanent, for ZERO) and the
 *   store holds no content that no frame uses; free frames are really free.
 */
export function mmVerify(mmgr: MemoryManager): void {
  const frames = mmgr.frames;
  const n = frames.nrFrames;
  const ptes = new Int32Array(n);
  const shmemRefs = new Int32Array(n);
  const shmemUsers = new Map<ShmemObject, number>();

  if (
    frames.refcount[0] !== 1 ||
    frames.mapcount[0] !== 0 ||
    frames.flags[0] !== PG_zero ||
    frames.content[0] !== ContentStore.ZERO
  ) {
    throw new KernelBug(
      `zero page frame changed: refcount ${frames.refcount[0]}, mapcount ${frames.mapcount[0]}, flags ${frames.flags[0]}, content ${frames.content[0]}`,
    );
  }

  for (const mm of liveMms(mmgr)) {
    verifyVmas(mm);
    for (const v of mm.vmas) {
      if (v.shmem !== null) shmemUsers.set(v.shmem, (shmemUsers.get(v.shmem) ?? 0) + 1);
    }
    let rssAnon = 0;
    let rssShmem = 0;
    forEachPte(mm, (vpn, pfn, f) => {
      const addr = vpn * PAGE_SIZE;
      const at = `mm ${mm.id} PTE ${hex(addr)} -> pfn ${pfn}`;
      if ((f & _PAGE_PRESENT) === 0) throw new KernelBug(`${at}: non-none PTE without _PAGE_PRESENT (flags ${f})`);
      const vma = mm.vmaLookup(addr);
      if (vma === undefined) throw new KernelBug(`${at}: present PTE outside every VMA`);
      if ((f & _PAGE_SPECIAL) !== 0) {
        if (pfn !== frames.zeroPfn) throw new KernelBug(`${at}: special PTE not mapping the zero page`);
        if ((f & _PAGE_RW) !== 0) throw new KernelBug(`${at}: writable PTE maps the zero page`);
        return;
      }
      if (pfn <= 0 || pfn >= n) throw new KernelBug(`${at}: frame out of range (or the zero page without pte_special)`);
      if (frames.refcount[pfn] === 0) throw new KernelBug(`${at}: PTE maps a free frame`);
      ptes[pfn]!++;
      const pf = frames.flags[pfn]!;
      if ((pf & PG_shmem) !== 0) {
        rssShmem++;
        if (vma.shmem === null) throw new KernelBug(`${at}: shmem page in a VMA without a shmem object`);
        const index = vma.vmPgoff + (vpn - vma.vmStart / PAGE_SIZE);
        if (vma.shmem.pages.get(index) !== pfn) {
          throw new KernelBug(`${at}: shmem object caches pfn ${vma.shmem.pages.get(index)} at index ${index}`);
        }
      } else {
        rssAnon++;
        if ((pf & PG_anon) === 0) throw new KernelBug(`${at}: page neither anon nor shmem (flags ${pf})`);
        if (vma.shmem !== null) throw new KernelBug(`${at}: anon page in a shared mapping`);
      }
      if ((f & _PAGE_RW) !== 0) {
        if ((pf & PG_ksm) !== 0) throw new KernelBug(`${at}: writable PTE maps a KSM page`);
        if ((pf & PG_anon) !== 0) {
          if (frames.refcount[pfn]! > 1)
            throw new KernelBug(`${at}: writable PTE maps an anon page with refcount ${frames.refcount[pfn]}`);
          if ((pf & PG_anon_exclusive) === 0)
            throw new KernelBug(`${at}: writable PTE maps an anon page not AnonExclusive`);
        }
      }
    });
    if (rssAnon !== mm.rssAnon) throw new KernelBug(`mm ${mm.id}: rssAnon ${mm.rssAnon} but ${rssAnon} anon PTEs`);
    if (rssShmem !== mm.rssShmem)
      throw new KernelBug(`mm ${mm.id}: rssShmem ${mm.rssShmem} but ${rssShmem} shmem PTEs`);
  }

  for (const [obj, users] of shmemUsers) {
    if (obj.users !== users) throw new KernelBug(`shmem object has users ${obj.users} but ${users} VMAs map it`);
    for (const [index, pfn] of obj.pages) {
      if (pfn <= 0 || pfn >= n || frames.refcount[pfn] === 0)
        throw new KernelBug(`shmem object caches free or bad pfn ${pfn} at index ${index}`);
      if ((frames.flags[pfn]! & PG_shmem) === 0) throw new KernelBug(`shmem object caches pfn ${pfn} without PG_shmem`);
      shmemRefs[pfn]!++;
    }
  }

  const contentFrames = new Map<number, number>();
  let free = 0;
  for (let pfn = 1; pfn < n; pfn++) {
    const ref = frames.refcount[pfn]!;
    const map = frames.mapcount[pfn]!;
    const pf = frames.flags[pfn]!;
    if (ref === 0) {
      free++;
      if (map !== 0 || pf !== 0) throw new KernelBug(`free frame ${pfn} has mapcount ${map}, flags ${pf}`);
      continue;
    }
    if (ref < 0) throw new KernelBug(`frame ${pfn} has refcount ${ref}`);
    const want = ptes[pfn]! + shmemRefs[pfn]!;
    if (ref !== want) {
      throw new KernelBug(
        `frame ${pfn} (flags ${pf}) has refcount ${ref} but ${ptes[pfn]} PTEs and ${shmemRefs[pfn]} shmem references`,
      );
    }
    if (map !== ptes[pfn])
      throw new KernelBug(`frame ${pfn} (flags ${pf}) has mapcount ${map} but ${ptes[pfn]} PTEs map it`);
    if ((pf & PG_zero) !== 0) throw new KernelBug(`frame ${pfn} carries PG_zero`);
    if ((pf & PG_ksm) !== 0 && (pf & PG_anon) === 0) throw new KernelBug(`KSM frame ${pfn} is not anon (flags ${pf})`);
    if ((pf & PG_anon) !== 0 && (pf & PG_shmem) !== 0) throw new KernelBug(`frame ${pfn} is both anon and shmem`);
    if ((pf & PG_anon_exclusive) !== 0 && map > 1)
      throw new KernelBug(`AnonExclusive frame ${pfn} has mapcount ${map}`);
    const id = frames.content[pfn]!;
    contentFrames.set(id, (contentFrames.get(id) ?? 0) + 1);
  }
  if (free !== frames.nrFree())
    throw new KernelBug(`${free} frames have refcount 0 but the free lists hold ${frames.nrFree()}`);

  const contents = mmgr.contents;
  if (!contentFrames.has(ContentStore.ZERO)) contentFrames.set(ContentStore.ZERO, 0);
  for (const [id, users] of contentFrames) {
    // ZERO keeps one reference of its own for ever (the zero page's bytes).
    const want = users + (id === ContentStore.ZERO ? 1 : 0);
    if (contents.refCount(id) !== want)
      throw new KernelBug(`content ${id} has refcount ${contents.refCount(id)} but ${users} frames hold it`);
  }
  if (contents.liveCount() !== contentFrames.size) {
    throw new KernelBug(`content store holds ${contents.liveCount()} contents but frames use ${contentFrames.size}`);
  }
}

/**
 * After every task has exited: no frame allocated but the zero page, and the content store
 * holds only the zero page's bytes.
 */
export function mmVerifyNoLeaks(mmgr: MemoryManager): void {
  if (mmgr.tasks.size !== 0) throw new KernelBug(`${mmgr.tasks.size} tasks still live`);
  const frames = mmgr.frames;
  for (let pfn = 1; pfn < frames.nrFrames; pfn++) {
    if (frames.refcount[pfn] !== 0) {
      throw new KernelBug(
        `frame ${pfn} leaked: refcount ${frames.refcount[pfn]}, mapcount ${frames.mapcount[pfn]}, flags ${frames.flags[pfn]}`,
      );
    }
  }
  if (frames.nrFree() !== frames.nrFrames - 1)
    throw new KernelBug(`free lists hold ${frames.nrFree()} of ${frames.nrFrames - 1} frames`);
  const contents = mmgr.contents;
  if (contents.liveCount() !== 1 || contents.refCount(ContentStore.ZERO) !== 1) {
    throw new KernelBug(
      `content store leaked: ${contents.liveCount()} contents live, ZERO refcount ${contents.refCount(ContentStore.ZERO)}`,
    );
  }
}
