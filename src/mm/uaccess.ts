import { EFAULT, ENOMEM } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { fillPatternBytes, pagePeriod, type Pattern } from '../lib/patterns.ts';
import type { MemoryManager } from './memory_manager.ts';
import { FAULT_OOM, faultInPage } from './memory.ts';
import type { MmStruct } from './mm_struct.ts';

/**
 * A process's own loads and stores: each page is faulted in as a CPU access would, then
 * read or written. These return 0, -EFAULT (the process would get SIGSEGV) or -ENOMEM (no
 * frame was free: on Linux the OOM killer would act).
 */

/** The error of a failed faultInPage. */
function faultError(pfn: number): number {
  return pfn === FAULT_OOM ? -ENOMEM : -EFAULT;
}

/** Stores `bytes` at `addr`. */
export function writeUser(mmgr: MemoryManager, mm: MmStruct, addr: number, bytes: Uint8Array): number {
  let done = 0;
  while (done < bytes.length) {
    const a = addr + done;
    const inPage = a % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, bytes.length - done);
    const pfn = faultInPage(mmgr, mm, a - inPage, true);
    if (pfn < 0) return faultError(pfn);
    const c = mmgr.frames.content;
    c[pfn] = mmgr.contents.write(c[pfn]!, inPage, bytes, done, n);
    mmgr.frames.generation.bump();
    done += n;
  }
  return 0;
}

/**
 * Stores a whole page at `addr` (page aligned) whose bytes are the ContentStore content
 * `content`: the caller's reference to it passes to the page. The same as a process writing
 * those 4096 bytes, without copying them (loading a snapshot shares each distinct page).
 */
export function writeUserPage(mmgr: MemoryManager, mm: MmStruct, addr: number, content: number): number {
  const pfn = faultInPage(mmgr, mm, addr, true);
  if (pfn < 0) {
    mmgr.contents.release(content);
    return faultError(pfn);
  }
  const c = mmgr.frames.content;
  mmgr.contents.release(c[pfn]!);
  c[pfn] = content;
  mmgr.frames.generation.bump();
  return 0;
}

/** Calls `sink` with the bytes of [addr, addr+len), page piece by page piece. */
export function readUser(
  mmgr: MemoryManager,
  mm: MmStruct,
  addr: number,
  len: number,
  sink: (buf: Uint8Array, off: number, n: number) => void,
): number {
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const inPage = a % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, len - done);
    const pfn = faultInPage(mmgr, mm, a - inPage, false);
    if (pfn < 0) return faultError(pfn);
    const id = mmgr.frames.content[pfn]!;
    sink(mmgr.contents.bufferOf(id), mmgr.contents.offsetOf(id) + inPage, n);
    done += n;
  }
  return 0;
}

/**
 * Writes a pattern over [addr, addr+len), where `regionStart` is the address the pattern's
 * offsets count from. Whole pages of a periodic pattern share one interned content per
 * distinct page, so filling gigabytes of repeated pages costs only their distinct bytes.
 */
export function fillUser(
  mmgr: MemoryManager,
  mm: MmStruct,
  addr: number,
  len: number,
  pattern: Pattern,
  regionStart: number,
): number {
  const scratch = new Uint8Array(PAGE_SIZE);
  const period = pagePeriod(pattern);
  const byPhase = new Map<number, number>();
  const c = mmgr.frames.content;
  let done = 0;
  try {
    while (done < len) {
      const a = addr + done;
      const inPage = a % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - inPage, len - done);
      const pageOff = a - inPage - regionStart;
      const pfn = faultInPage(mmgr, mm, a - inPage, true);
      if (pfn < 0) return faultError(pfn);
      if (n === PAGE_SIZE) {
        let id: number;
        const phase = period === undefined ? undefined : (pageOff / PAGE_SIZE) % period;
        const cached = phase === undefined ? undefined : byPhase.get(phase);
        if (cached !== undefined) {
          id = mmgr.contents.retain(cached);
        } else {
          fillPatternBytes(pattern, pageOff, scratch, 0, PAGE_SIZE);
          id = phase === undefined ? mmgr.contents.fromBytes(scratch, 0) : mmgr.contents.intern(scratch, 0);
          if (phase !== undefined) byPhase.set(phase, mmgr.contents.retain(id));
        }
        mmgr.contents.release(c[pfn]!);
        c[pfn] = id;
      } else {
        fillPatternBytes(pattern, pageOff + inPage, scratch, 0, n);
        c[pfn] = mmgr.contents.write(c[pfn]!, inPage, scratch, 0, n);
      }
      mmgr.frames.generation.bump();
      done += n;
    }
    return 0;
  } finally {
    for (const id of byPhase.values()) mmgr.contents.release(id);
  }
}
