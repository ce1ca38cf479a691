/**
 * The KSM+ daemon's view of the live machine (src/policy/host.ts): processes from
 * /proc/PID/stat, cgroups, mappings, page states from /proc/PID/pagemap and /proc/kpageflags,
 * page bytes from /proc/PID/mem, KSM's view from /proc/PID/ksm_stat and smaps' VmFlags. It
 * reads only; root is needed to see frame numbers and other users' memory.
 *
 * A selected process's mem and pagemap descriptors are opened together once and kept until
 * the policy forgets the process: a descriptor is tied to the address space it was opened on,
 * so a pid reused by another process can never slip its memory in. A page that is not
 * present is never read through mem (that would fault it in and change the process).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { parseMaps, parseSmapsFlags } from '../lib/proc_maps.ts';
import {
  PAGE_ANON,
  PAGE_KSM,
  PAGE_PRESENT,
  PAGE_SHARED,
  PAGE_ZERO,
  type PlusHost,
  type PlusKsmStat,
  type PlusMapping,
  type PlusProcessInfo,
} from '../policy/host.ts';
import { readProcessKsmStat } from './ksm_stat.ts';
import { KSM_DIR, readSysfs } from './ksm_sysfs.ts';
import {
  KPF_ANON,
  KPF_KSM,
  KPF_ZERO_PAGE,
  PM_FILE_HI,
  PM_MMAP_EXCLUSIVE_HI,
  PM_PRESENT_HI,
  KPAGEFLAGS,
  KpageFile,
  pagemapPfn,
} from './pagemap.ts';
import { listPids, readStatIdentity } from './procfs.ts';

/** Pagemap entries per pread, and pages per mem pread: 1 MiB. */
const RUN = 256;

/** How many of vpns[i..count) run on consecutively from vpns[i], at most RUN: one pread's worth. */
function consecutiveRun(vpns: Float64Array, i: number, count: number): number {
  let n = 1;
  while (i + n < count && n < RUN && vpns[i + n] === vpns[i]! + n) n++;
  return n;
}

interface Open {
  readonly start: string;
  readonly mem: number;
  readonly pagemap: number;
}

export class LivePlusHost implements PlusHost {
  readonly #open = new Map<number, Open>();
  #kpageflags: KpageFile | undefined;
  readonly #pmBuf = Buffer.alloc(RUN * 8);
  readonly #pmWords = new Uint32Array(this.#pmBuf.buffer, this.#pmBuf.byteOffset, RUN * 2);
  readonly #kpfPfns = new Float64Array(RUN);
  readonly #kpfIdx = new Int32Array(RUN);
  readonly #kpfOut = new Uint32Array(RUN);
  /** Processes never reported (the daemon itself and its helpers). */
  readonly #exclude: (pid: number) => boolean;

  constructor(exclude: (pid: number) => boolean = (pid) => pid === process.pid) {
    this.#exclude = exclude;
  }

  processes(): readonly PlusProcessInfo[] {
    const out: PlusProcessInfo[] = [];
    for (const pid of listPids()) {
      if (this.#exclude(pid)) continue;
      const id = readStatIdentity(pid);
      if (id !== undefined && !id.kthread) out.push({ pid, start: id.start, comm: id.comm });
    }
    return out;
  }

  process(pid: number): PlusProcessInfo | undefined {
    if (this.#exclude(pid)) return undefined;
    const id = readStatIdentity(pid);
    return id === undefined || id.kthread ? undefined : { pid, start: id.start, comm: id.comm };
  }

  cgroup(pid: number): string | undefined {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    // cgroup v2: the one line "0::/path"; under v1 the same line is there for the unified tree.
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3);
  }

  mappings(pid: number): readonly PlusMapping[] | undefined {
    try {
      return parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  /** The process's descriptors, opened on first use (mem first: it pins the address space). */
  #fds(pid: number): Open | undefined {
    const have = this.#open.get(pid);
    if (have !== undefined) return have;
    const id = readStatIdentity(pid);
    if (id === undefined) return undefined;
    let mem: number | undefined;
    try {
      mem = openSync(`/proc/${pid}/mem`, 'r');
      const pagemap = openSync(`/proc/${pid}/pagemap`, 'r');
      // The pid may have been reused between the stat read and the opens: check it is the same.
      if (readStatIdentity(pid)?.start !== id.start) {
        closeSync(mem);
        closeSync(pagemap);
        return undefined;
      }
      const o = { start: id.start, mem, pagemap };
      this.#open.set(pid, o);
      return o;
    } catch {
      if (mem !== undefined) closeSync(mem);
      return undefined;
    }
  }

  /** Closes a process's descriptors (the policy forgot it). */
  forget(pid: number): void {
    const o = this.#open.get(pid);
    if (o === undefined) return;
    this.#open.delete(pid);
    closeSync(o.mem);
    closeSync(o.pagemap);
  }

  /** Closes everything. */
  close(): void {
    for (const pid of [...this.#open.keys()]) this.forget(pid);
    this.#kpageflags?.close();
    this.#kpageflags = undefined;
  }

  pages(pid: number, vpns: Float64Array, count: number, state: Uint8Array, pfn: Float64Array): boolean {
    const o = this.#fds(pid);
    if (o === undefined) return false;
    let i = 0;
    while (i < count) {
      const n = consecutiveRun(vpns, i, count);
      let got: number;
      try {
        got = Math.floor(readSync(o.pagemap, this.#pmBuf, 0, n * 8, vpns[i]! * 8) / 8);
      } catch {
        return false;
      }
      let shared = 0;
      for (let k = 0; k < n; k++) {
        const at = i + k;
        state[at] = 0;
        pfn[at] = 0;
        if (k >= got) continue;
        const lo = this.#pmWords[2 * k]!;
        const hi = this.#pmWords[2 * k + 1]!;
        if ((hi & PM_PRESENT_HI) === 0) continue;
        pfn[at] = pagemapPfn(lo, hi);
        state[at] = PAGE_PRESENT;
        if ((hi & PM_FILE_HI) !== 0) continue;
        if ((hi & PM_MMAP_EXCLUSIVE_HI) !== 0) {
          state[at] |= PAGE_ANON;
          continue;
        }
        // Mapped more than once, or the zero page: kpageflags tells which.
        this.#kpfPfns[shared] = pfn[at]!;
        this.#kpfIdx[shared] = at;
        shared++;
      }
      if (shared > 0) this.#lookupShared(shared, state);
      i += n;
    }
    return true;
  }

  /** kpageflags of the shared frames gathered by `pages`. */
  #lookupShared(n: number, state: Uint8Array): void {
    // Frames in virtual order: one read per run of consecutive frames (maxGap 1).
    this.#kpageflags ??= new KpageFile(KPAGEFLAGS, { maxSpan: RUN, maxGap: 1 });
    this.#kpageflags.read(this.#kpfPfns, n, this.#kpfOut);
    for (let k = 0; k < n; k++) {
      const f = this.#kpfOut[k]!;
      const at = this.#kpfIdx[k]!;
      if ((f & KPF_ZERO_PAGE) !== 0) state[at] = PAGE_PRESENT | PAGE_ZERO;
      else {
        let s = PAGE_PRESENT | PAGE_SHARED;
        if ((f & KPF_ANON) !== 0) s |= PAGE_ANON;
        if ((f & KPF_KSM) !== 0) s |= PAGE_KSM;
        state[at] = s;
      }
    }
  }

  read(pid: number, vpns: Float64Array, count: number, out: Uint8Array, first: number, ok: Uint8Array): boolean {
    const o = this.#fds(pid);
    if (o === undefined) return false;
    let i = 0;
    while (i < count) {
      const n = consecutiveRun(vpns, i, count);
      let got = 0;
      try {
        got = readSync(o.mem, out, (first + i) * PAGE_SIZE, n * PAGE_SIZE, vpns[i]! * PAGE_SIZE);
      } catch (e) {
        // EIO: the range was unmapped meanwhile; ESRCH or 0: the process is gone.
        if ((e as NodeJS.ErrnoException).code !== 'EIO') return false;
      }
      for (let k = 0; k < n; k++) ok[i + k] = (k + 1) * PAGE_SIZE <= got ? 1 : 0;
      i += n;
    }
    return true;
  }

  ksmStat(pid: number): PlusKsmStat | undefined {
    const stat = readProcessKsmStat(pid);
    if (stat === undefined) return undefined;
    return {
      mergeAny: stat.ksm_merge_any,
      mergeable: stat.ksm_mergeable,
      rmapItems: stat.ksm_rmap_items,
      mergingPages: stat.ksm_merging_pages,
      zeroPages: stat.ksm_zero_pages,
      processProfit: stat.ksm_process_profit,
    };
  }

  mergeableRanges(pid: number): ReadonlyArray<readonly [number, number]> | undefined {
    let smaps: string;
    try {
      smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    } catch {
      return undefined;
    }
    const mergeable: Array<[number, number]> = [];
    for (const v of parseSmapsFlags(smaps)) {
      if (!v.flags.has('mg')) continue;
      const last = mergeable.at(-1);
      if (last !== undefined && last[1] === v.start) last[1] = v.end;
      else mergeable.push([v.start, v.end]);
    }
    return mergeable;
  }

  fullScans(): number {
    return Number(readSysfs(`${KSM_DIR}/full_scans`)?.trim() ?? '0');
  }
}
