/**
 * The hot loop of the daemon: a chunk of one region's sampled pages is looked up in pagemap
 * (absent pages, page cache and the zero page are skipped without a read), the rest are read
 * into a PageBatch and hashed, and each hash meets the duplicate index. A hash the index
 * holds at another frame is a candidate; the other place's page is read again now and the
 * bytes compared, so nothing is marked on a stale entry or a hash collision. Both sides of a
 * confirmed duplicate that KSM does not consider yet become pending marks of their process.
 */
import type { PageBatch } from '../lib/page_batch.ts';
import { type ContentIndex, ENTRY_KSM } from './content_index.ts';
import { PAGE_ANON, PAGE_KSM, PAGE_PRESENT, PAGE_ZERO, type PlusHost } from './host.ts';
import type { ProcState, Region } from './proc_state.ts';

/** Pages read and hashed at once: one pread of 1 MiB where they are contiguous. */
export const CHUNK = 256;
/** Batch slots after the chunk, for the other side of candidates. */
export const CONFIRM_SLOTS = 32;

/** What the sampler needs of the engine. */
export interface SamplerContext {
  readonly host: PlusHost;
  readonly index: ContentIndex;
  /** CHUNK + CONFIRM_SLOTS pages. */
  readonly batch: PageBatch;
  /** The current round (the index's epoch). */
  readonly epoch: number;
  procBySlot(slot: number): ProcState | undefined;
  /** Whether KSM already considers the page (marked by us or by the program, or MERGE_ANY). */
  mergeable(proc: ProcState, vpn: number): boolean;
}

/** What one chunk did. */
export interface ChunkResult {
  /** Sampled pages looked up in pagemap. */
  looked: number;
  /** Pages read and hashed. */
  read: number;
  /** Duplicates confirmed on the bytes. */
  duplicates: number;
  /** False when the process is gone. */
  alive: boolean;
}

/** Scratch columns of one chunk, allocated once per engine. */
export class ChunkScratch {
  readonly vpns = new Float64Array(CHUNK);
  readonly state = new Uint8Array(CHUNK);
  readonly pfn = new Float64Array(CHUNK);
  readonly readVpns = new Float64Array(CHUNK);
  readonly readPfn = new Float64Array(CHUNK);
  readonly readState = new Uint8Array(CHUNK);
  readonly ok = new Uint8Array(CHUNK);
  readonly one = new Float64Array(1);
  readonly oneOk = new Uint8Array(1);

  bytes(): number {
    return CHUNK * (8 + 1 + 8 + 8 + 8 + 1 + 1) + 16;
  }
}

/**
 * Samples up to `maxPages` of `region`'s remaining samples this round. Returns what it did;
 * the region's `sampleIdx` moves past what was looked at.
 */
export function sampleChunk(
  ctx: SamplerContext,
  scratch: ChunkScratch,
  proc: ProcState,
  region: Region,
  maxPages: number,
): ChunkResult {
  const samples = region.samples!;
  const n = Math.min(CHUNK, maxPages, samples.length - region.sampleIdx);
  const result: ChunkResult = { looked: n, read: 0, duplicates: 0, alive: true };
  if (n <= 0) return result;
  scratch.vpns.set(samples.subarray(region.sampleIdx, region.sampleIdx + n));
  region.sampleIdx += n;
  if (!ctx.host.pages(proc.pid, scratch.vpns, n, scratch.state, scratch.pfn)) {
    result.alive = false;
    return result;
  }
  let k = 0;
  for (let i = 0; i < n; i++) {
    const s = scratch.state[i]!;
    if ((s & PAGE_PRESENT) === 0 || (s & PAGE_ANON) === 0 || (s & PAGE_ZERO) !== 0) continue;
    scratch.readVpns[k] = scratch.vpns[i]!;
    scratch.readPfn[k] = scratch.pfn[i]!;
    scratch.readState[k] = s;
    k++;
  }
  region.anonSeen += k;
  if (k === 0) return result;
  if (!ctx.host.read(proc.pid, scratch.readVpns, k, ctx.batch.bytes, 0, scratch.ok)) {
    result.alive = false;
    return result;
  }
  const confirmed = new Map<number, number>();
  let nextConfirm = 0;
  for (let i = 0; i < k; i++) {
    if (scratch.ok[i] === 0) continue;
    result.read++;
    const vpn = scratch.readVpns[i]!;
    const pfn = scratch.readPfn[i]!;
    const ksm = (scratch.readState[i]! & PAGE_KSM) !== 0;
    if (ksm) region.found = true;
    const flags = ksm ? ENTRY_KSM : 0;
    ctx.batch.hash(i);
    const { hi, lo } = ctx.batch;
    const e = ctx.index.find(hi, lo);
    if (e < 0) {
      ctx.index.insert(hi, lo, proc.slot, vpn, pfn, ctx.epoch, flags);
      continue;
    }
    const otherSlot = ctx.index.slot(e);
    const otherVpn = ctx.index.vpn(e);
    if ((otherSlot === proc.slot && otherVpn === vpn) || ctx.index.pfn(e) === pfn) {
      // The same place, or the same frame mapped twice (a fork's sharing, or one KSM page).
      if (otherSlot === proc.slot && otherVpn === vpn) ctx.index.set(e, proc.slot, vpn, pfn, ctx.epoch, flags);
      else ctx.index.touch(e, ctx.epoch);
      continue;
    }
    const other = ctx.procBySlot(otherSlot);
    let slot = other === undefined ? -1 : confirmed.get(e);
    if (other !== undefined && slot === undefined) {
      slot = CHUNK + (nextConfirm++ % CONFIRM_SLOTS);
      for (const [key, s] of confirmed) if (s === slot) confirmed.delete(key);
      scratch.one[0] = otherVpn;
      const read = ctx.host.read(other.pid, scratch.one, 1, ctx.batch.bytes, slot, scratch.oneOk);
      if (read && scratch.oneOk[0] === 1) confirmed.set(e, slot);
      else slot = -1;
    }
    if (slot === undefined || slot < 0 || other === undefined || !ctx.batch.equal(i, slot)) {
      // The other place is gone or holds something else now: this page takes its entry.
      if (slot !== undefined && slot >= 0) confirmed.delete(e);
      ctx.index.set(e, proc.slot, vpn, pfn, ctx.epoch, flags);
      continue;
    }
    result.duplicates++;
    region.found = true;
    if (!ksm && !ctx.mergeable(proc, vpn)) proc.pending.push(vpn);
    const otherKsm = (ctx.index.flags(e) & ENTRY_KSM) !== 0;
    if (!otherKsm) {
      if (!ctx.mergeable(other, otherVpn)) other.pending.push(otherVpn);
      const r = other.regionAt(otherVpn);
      if (r !== undefined) r.found = true;
    }
    // Prefer a KSM page as the index's place: its content cannot change under it.
    if (ksm && !otherKsm) ctx.index.set(e, proc.slot, vpn, pfn, ctx.epoch, flags);
    else ctx.index.touch(e, ctx.epoch);
  }
  return result;
}
