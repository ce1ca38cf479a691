/**
 * The anonymous memory of live processes as a PageSource (root needed for other users'
 * processes). Three steps per process:
 *   1. open /proc/PID/mem first: the descriptor is tied to the process's address space as it
 *      is now, so a pid reused later cannot slip someone else's memory in;
 *   2. read /proc/PID/maps, then /proc/PID/pagemap in bulk over the mappings that may hold
 *      anonymous pages (proc_maps.ts), keeping the present, anonymous ones;
 *   3. read those pages from /proc/PID/mem in large pread()s, runs of consecutive present
 *      pages coalesced up to 1 MiB, on the one descriptor.
 * Pages that are not present are never read through mem: that would fault them in and change
 * the process. Swapped-out pages are skipped and counted. A process that exits, or a mapping
 * that goes away while we read, becomes a warning; what was read still counts.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { Page, PageOwner, PageSource } from '../stats/page_source.ts';
import {
  openPagemap,
  PM_FILE_HI,
  PM_MMAP_EXCLUSIVE_HI,
  PM_PRESENT_HI,
  PM_SWAP_HI,
  pagemapPfn,
  readPagemap,
  ZeroPageFrames,
} from './pagemap.ts';
import { type MapsEntry, mayHoldAnonymous, parseMaps } from '../lib/proc_maps.ts';
import { describeProcError, errorCode, isAlive, readComm } from './procfs.ts';
import { pidsByName } from './targets.ts';

/** Pagemap entries read per pread (512 KiB). */
const PAGEMAP_BATCH = 65536;
/** Default bytes per /proc/PID/mem read. */
const DEFAULT_CHUNK = 1 << 20;

export interface LiveOptions {
  /** Told about processes that vanish or cannot be read, and pages that could not be. */
  readonly onWarning?: (message: string) => void;
  /** Bytes per /proc/PID/mem read (a multiple of 4096); 1 MiB by default. */
  readonly chunkBytes?: number;
}

/**
 * Runs of present anonymous pages: pages [start, start + pages * 4096), with the frame of
 * each (0 when pagemap hides frame numbers, without CAP_SYS_ADMIN).
 */
export interface PageRun {
  readonly start: number;
  readonly pages: number;
  readonly frames: number[];
}

/**
 * Reads live processes. One reader caches which frames are the zero page across processes;
 * close it (and every process it opened) when done.
 */
export class LiveReader {
  readonly #warn: (message: string) => void;
  readonly #chunkBytes: number;
  readonly #zeroFrames: ZeroPageFrames;

  constructor(opts: LiveOptions = {}) {
    this.#warn = opts.onWarning ?? (() => undefined);
    const chunk = opts.chunkBytes ?? DEFAULT_CHUNK;
    if (chunk < PAGE_SIZE || chunk % PAGE_SIZE !== 0)
      throw new RangeError(`chunkBytes must be a multiple of 4096, got ${chunk}`);
    this.#chunkBytes = chunk;
    this.#zeroFrames = new ZeroPageFrames(this.#warn);
  }

  /** Opens and plans one process; undefined (with a warning) if it is gone or unreadable. */
  open(pid: number): LiveProcess | undefined {
    let memFd: number;
    try {
      memFd = openSync(`/proc/${pid}/mem`, 'r');
    } catch (e) {
      this.#warn(
        errorCode(e) === 'ENOENT'
          ? `No process ${pid} (it may have exited); skipped`
          : describeProcError(pid, '/proc/PID/mem', e),
      );
      return undefined;
    }
    try {
      const comm = readComm(pid);
      const maps = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
      if (comm === undefined) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      const plan = this.#scanPagemap(pid, maps);
      return new LiveProcess({ pid, comm }, maps, plan, memFd, this.#chunkBytes, this.#warn);
    } catch (e) {
      closeSync(memFd);
      this.#warn(describeProcError(pid, 'its maps and pagemap', e));
      return undefined;
    }
  }

  close(): void {
    this.#zeroFrames.close();
  }

  #scanPagemap(pid: number, maps: readonly MapsEntry[]): { runs: PageRun[]; zero: number; swapped: number } {
    const fd = openPagemap(pid);
    // Its own ArrayBuffer, so the 32-bit view below is aligned.
    const buf = Buffer.from(new ArrayBuffer(PAGEMAP_BATCH * 8));
    const words = new Uint32Array(buf.buffer);
    const runs: { start: number; pages: number; frames: number[] }[] = [];
    let zero = 0;
    let swapped = 0;
    try {
      for (const m of maps) {
        if (!mayHoldAnonymous(m)) continue;
        const endVpn = m.end / PAGE_SIZE;
        for (let vpn = m.start / PAGE_SIZE; vpn < endVpn; ) {
          const want = Math.min(PAGEMAP_BATCH, endVpn - vpn);
          const got = readPagemap(fd, buf, vpn, want);
          if (got === 0) break; // the mapping went away under us
          for (let i = 0; i < got; i++) {
            const hi = words[2 * i + 1]!;
            if ((hi & PM_PRESENT_HI) === 0) {
              if ((hi & PM_SWAP_HI) !== 0) swapped++;
              continue;
            }
            if ((hi & PM_FILE_HI) !== 0) continue;
            const pfn = pagemapPfn(words[2 * i]!, hi);
            // Only a page not exclusively ours can be the zero page: look its frame up.
            if ((hi & PM_MMAP_EXCLUSIVE_HI) === 0 && this.#zeroFrames.isZeroPage(pfn)) {
              zero++;
              continue;
            }
            const addr = (vpn + i) * PAGE_SIZE;
            const last = runs.at(-1);
            if (last !== undefined && last.start + last.pages * PAGE_SIZE === addr) {
              last.pages++;
              last.frames.push(pfn);
            } else {
              runs.push({ start: addr, pages: 1, frames: [pfn] });
            }
          }
          vpn += got;
        }
      }
    } finally {
      closeSync(fd);
    }
    return { runs, zero, swapped };
  }
}

/** One live process, planned: its mappings and present anonymous pages, ready to be read. */
export class LiveProcess implements PageSource {
  readonly owner: PageOwner;
  readonly maps: readonly MapsEntry[];
  readonly runs: readonly PageRun[];
  /** Present anonymous pages found in pagemap (what pages() will try to read). */
  readonly pageCount: number;
  /** Zero-page mappings left out (they hold no memory of the process). */
  readonly zeroPages: number;
  /** Swapped-out pages left out (reading them would swap them back in). */
  readonly swappedPages: number;
  /** Pages that were planned but could not be read (unmapped meanwhile, or the process exited). */
  unreadPages = 0;
  #fd: number | undefined;
  readonly #chunkBytes: number;
  readonly #warn: (message: string) => void;

  constructor(
    owner: PageOwner,
    maps: readonly MapsEntry[],
    plan: { runs: PageRun[]; zero: number; swapped: number },
    memFd: number,
    chunkBytes: number,
    warn: (message: string) => void,
  ) {
    this.owner = owner;
    this.maps = maps;
    this.runs = plan.runs;
    this.pageCount = plan.runs.reduce((n, r) => n + r.pages, 0);
    this.zeroPages = plan.zero;
    this.swappedPages = plan.swapped;
    this.#fd = memFd;
    this.#chunkBytes = chunkBytes;
    this.#warn = warn;
  }

  get pid(): number {
    return this.owner.pid;
  }

  /** The planned pages' current bytes, one chunk buffer reused for all (see Page). */
  *pages(): Iterable<Page> {
    const fd = this.#fd;
    if (fd === undefined) throw new Error(`Process ${this.pid} was already closed`);
    const buf = Buffer.allocUnsafeSlow(this.#chunkBytes);
    const chunkPages = this.#chunkBytes / PAGE_SIZE;
    for (const [r, run] of this.runs.entries()) {
      let addr = run.start;
      let left = run.pages;
      while (left > 0) {
        const want = Math.min(left, chunkPages);
        const got = readFully(fd, buf, want * PAGE_SIZE, addr) / PAGE_SIZE;
        const whole = Math.floor(got);
        const first = run.pages - left;
        for (let i = 0; i < whole; i++) {
          const pfn = run.frames[first + i]!;
          const address = addr + i * PAGE_SIZE;
          const offset = i * PAGE_SIZE;
          yield pfn === 0
            ? { owner: this.owner, address, buffer: buf, offset }
            : { owner: this.owner, address, buffer: buf, offset, frame: pfn };
        }
        if (whole === want) {
          addr += want * PAGE_SIZE;
          left -= want;
          continue;
        }
        if (!isAlive(this.pid)) {
          const rest = left - whole + this.runs.slice(r + 1).reduce((n, x) => n + x.pages, 0);
          this.unreadPages += rest;
          this.#warn(
            `Process ${this.pid} (${this.owner.comm}) vanished while its memory was read; ${rest} pages not read`,
          );
          return;
        }
        // The page after the last whole one is unreadable now (unmapped since pagemap): skip it.
        this.unreadPages++;
        addr += (whole + 1) * PAGE_SIZE;
        left -= whole + 1;
      }
    }
    if (this.unreadPages > 0)
      this.#warn(
        `Process ${this.pid} (${this.owner.comm}): ${this.unreadPages} pages were unmapped while being read; skipped`,
      );
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * pread until `len` bytes or the first failure; returns the bytes read. A failure (EIO for
 * an address no longer mapped, ESRCH or 0 bytes for a process that exited) only ends the
 * read: the caller decides what it means.
 */
function readFully(fd: number, buf: Buffer, len: number, position: number): number {
  let done = 0;
  while (done < len) {
    let n: number;
    try {
      n = readSync(fd, buf, done, len - done, position + done);
    } catch (e) {
      const code = errorCode(e);
      if (code === 'EIO' || code === 'ESRCH' || code === 'ENOENT' || code === 'EFAULT') return done;
      throw e;
    }
    if (n === 0) return done;
    done += n;
  }
  return done;
}

/**
 * Opens the processes named by pid and by program name (every process of that name), in pid
 * order, warning about a name no process has and about processes that cannot be read.
 * Throws when there is nothing to read.
 */
export function openNamedProcesses(
  reader: LiveReader,
  pids: readonly number[],
  names: readonly string[],
  warn: (message: string) => void,
): LiveProcess[] {
  const all = new Set(pids);
  for (const name of names) {
    const found = pidsByName(name);
    if (found.length === 0) warn(`No process named "${name}"`);
    for (const pid of found) all.add(pid);
  }
  if (all.size === 0) throw new Error('No process to read: no pid given and no process has the names given');
  const procs = openLiveProcesses(
    reader,
    [...all].sort((a, b) => a - b),
  );
  if (procs.length === 0) throw new Error('None of the processes could be read (see the warnings above)');
  return procs;
}

/** Opens every pid (warning about those that cannot be read), as one PageSource. */
export function openLiveProcesses(reader: LiveReader, pids: readonly number[]): LiveProcess[] {
  const out: LiveProcess[] = [];
  for (const pid of pids) {
    const p = reader.open(pid);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/** The pages of several live processes in turn. */
export function livePageSource(procs: readonly LiveProcess[]): PageSource {
  return {
    *pages(): Iterable<Page> {
      for (const p of procs) yield* p.pages();
    },
  };
}
