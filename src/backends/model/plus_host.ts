/**
 * The KSM+ daemon's view of a model machine (src/policy/host.ts): what /proc, pagemap,
 * kpageflags and /proc/PID/mem show of the model's processes, read from its page tables,
 * frames and contents. It changes nothing: madvise goes through the daemon's driver
 * (plus_daemon.ts), as on the live machine it goes through the injector.
 */
import { PAGE_SIZE } from '../../lib/sizes.ts';
import {
  MMF_VM_MERGE_ANY,
  MMF_VM_MERGEABLE,
  PG_anon,
  VM_EXEC,
  VM_MERGEABLE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  _PAGE_PRESENT,
  _PAGE_SPECIAL,
} from '../../mm/constants.ts';
import type { Task } from '../../mm/memory_manager.ts';
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
} from '../../policy/host.ts';
import { ksmProcessProfit } from '../../sysfs/proc_ksm.ts';
import type { System } from '../../system.ts';

export class ModelPlusHost implements PlusHost {
  readonly #sys: System;

  constructor(sys: System) {
    this.#sys = sys;
  }

  #task(pid: number): Task | undefined {
    const t = this.#sys.mmgr.tasks.get(pid);
    return t === undefined || t.exited ? undefined : t;
  }

  processes(): readonly PlusProcessInfo[] {
    // A model pid is never reused, so it is the process's identity on its own.
    return this.#sys.mmgr.liveTasks().map((t) => ({ pid: t.pid, start: String(t.pid), comm: t.comm }));
  }

  process(pid: number): PlusProcessInfo | undefined {
    const t = this.#task(pid);
    return t === undefined ? undefined : { pid, start: String(pid), comm: t.comm };
  }

  /** The model has no cgroups: every process is in the root one. */
  cgroup(pid: number): string | undefined {
    return this.#task(pid) === undefined ? undefined : '/';
  }

  mappings(pid: number): readonly PlusMapping[] | undefined {
    const t = this.#task(pid);
    if (t === undefined) return undefined;
    return t.mm.vmas.map((v) => {
      const f = v.vmFlags;
      const perms = `${f & VM_READ ? 'r' : '-'}${f & VM_WRITE ? 'w' : '-'}${f & VM_EXEC ? 'x' : '-'}${f & VM_SHARED ? 's' : 'p'}`;
      // The model's anonymous mappings are read-write whatever their flags say (docs/scenario-format.md).
      return {
        start: v.vmStart,
        end: v.vmEnd,
        perms: perms === '---p' ? 'rw-p' : perms,
        offset: 0,
        dev: '00:00',
        inode: 0,
        path: '',
      };
    });
  }

  pages(pid: number, vpns: Float64Array, count: number, state: Uint8Array, pfn: Float64Array): boolean {
    const t = this.#task(pid);
    if (t === undefined) return false;
    const pt = t.mm.pgtable;
    const frames = this.#sys.mmgr.frames;
    for (let i = 0; i < count; i++) {
      const vpn = vpns[i]!;
      const f = pt.flags(vpn);
      if ((f & _PAGE_PRESENT) === 0) {
        state[i] = 0;
        pfn[i] = 0;
        continue;
      }
      const frame = pt.pfn(vpn);
      pfn[i] = frame;
      if ((f & _PAGE_SPECIAL) !== 0) {
        state[i] = PAGE_PRESENT | PAGE_ZERO;
        continue;
      }
      let s = PAGE_PRESENT;
      if ((frames.flags[frame]! & PG_anon) !== 0) s |= PAGE_ANON;
      if (frames.isKsm(frame)) s |= PAGE_KSM;
      if (frames.mapcount[frame]! > 1) s |= PAGE_SHARED;
      state[i] = s;
    }
    return true;
  }

  read(pid: number, vpns: Float64Array, count: number, out: Uint8Array, first: number, ok: Uint8Array): boolean {
    const t = this.#task(pid);
    if (t === undefined) return false;
    const pt = t.mm.pgtable;
    const mmgr = this.#sys.mmgr;
    for (let i = 0; i < count; i++) {
      const vpn = vpns[i]!;
      const at = (first + i) * PAGE_SIZE;
      if ((pt.flags(vpn) & _PAGE_PRESENT) === 0) {
        // An absent page of a mapping reads as zeros, as /proc/PID/mem gives it.
        ok[i] = t.mm.vmaLookup(vpn * PAGE_SIZE) === undefined ? 0 : 1;
        out.fill(0, at, at + PAGE_SIZE);
        continue;
      }
      const content = mmgr.frames.content[pt.pfn(vpn)]!;
      const buf = mmgr.contents.bufferOf(content);
      const off = mmgr.contents.offsetOf(content);
      out.set(buf.subarray(off, off + PAGE_SIZE), at);
      ok[i] = 1;
    }
    return true;
  }

  ksmStat(pid: number): PlusKsmStat | undefined {
    const t = this.#task(pid);
    if (t === undefined) return undefined;
    const mm = t.mm;
    return {
      mergeAny: (mm.flags & MMF_VM_MERGE_ANY) !== 0,
      mergeable: (mm.flags & MMF_VM_MERGEABLE) !== 0,
      rmapItems: mm.ksmRmapItems,
      mergingPages: mm.ksmMergingPages,
      zeroPages: mm.ksmZeroPages,
      processProfit: ksmProcessProfit(mm),
    };
  }

  mergeableRanges(pid: number): ReadonlyArray<readonly [number, number]> | undefined {
    const t = this.#task(pid);
    if (t === undefined) return undefined;
    const out: Array<[number, number]> = [];
    for (const v of t.mm.vmas) {
      if ((v.vmFlags & VM_MERGEABLE) === 0) continue;
      const last = out.at(-1);
      if (last !== undefined && last[1] === v.vmStart) last[1] = v.vmEnd;
      else out.push([v.vmStart, v.vmEnd]);
    }
    return out;
  }

  fullScans(): number {
    return this.#sys.ksm.ksmScan.seqnr;
  }
}
