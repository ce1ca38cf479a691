/**
 * What the KSM+ daemon's policy sees of a machine, and nothing more: processes, their
 * mappings, the state and frame of pages, page bytes, and KSM's view of a process. The live
 * machine implements it in src/host/plus_host.ts (/proc, pagemap, kpageflags, /proc/PID/mem),
 * the model in src/backends/model/plus_host.ts, so the same policy code predicts on the model
 * and acts on the kernel. madvise is not here: the policy returns the ranges to mark and
 * unmark (actions.ts) and whoever drives it carries them out and reports back.
 */
import type { MapsEntry } from '../lib/proc_maps.ts';

/** One byte per page: what pagemap and kpageflags say about it. */
export const PAGE_PRESENT = 1;
/** An anonymous page (not page cache, not shmem, not the zero page): what KSM can merge. */
export const PAGE_ANON = 2;
/** A KSM page already (kpageflags KPF_KSM). */
export const PAGE_KSM = 4;
/** The shared zero page or the huge zero page: memory nobody owns. */
export const PAGE_ZERO = 8;
/** Mapped by more than this process (a fork's copy-on-write sharing, or KSM). */
export const PAGE_SHARED = 16;

/** A process as the daemon selects it. */
export interface PlusProcessInfo {
  readonly pid: number;
  /** With the pid, the process's identity: its start time (a reused pid has another one). */
  readonly start: string;
  /** task->comm, at most 15 bytes. */
  readonly comm: string;
}

/** One line of /proc/PID/maps (lib/proc_maps.ts parses them). */
export type PlusMapping = MapsEntry;

/** KSM's view of one process (/proc/PID/ksm_stat). */
export interface PlusKsmStat {
  /** PR_SET_MEMORY_MERGE is set: KSM already considers all its memory. */
  readonly mergeAny: boolean;
  /** Some VMA of the process was ever made VM_MERGEABLE (the mm is registered with KSM). */
  readonly mergeable: boolean;
  readonly rmapItems: number;
  readonly mergingPages: number;
  readonly zeroPages: number;
  readonly processProfit: number;
}

export interface PlusHost {
  /** Every user process now (kernel threads left out), in pid order. */
  processes(): readonly PlusProcessInfo[];
  /** One process now, or undefined when there is none with that pid (or it is a kernel thread). */
  process(pid: number): PlusProcessInfo | undefined;
  /** The process's cgroup (the v2 path, "/system.slice/x.service"), or undefined if gone. */
  cgroup(pid: number): string | undefined;
  /** The process's mappings in address order, or undefined when it is gone. */
  mappings(pid: number): readonly PlusMapping[] | undefined;
  /**
   * The state (PAGE_* bits) and frame number of `count` pages, page i at virtual page number
   * `vpns[i]`, into `state` and `pfn`. False when the process is gone.
   */
  pages(pid: number, vpns: Float64Array, count: number, state: Uint8Array, pfn: Float64Array): boolean;
  /**
   * Reads `count` pages, page i at vpn `vpns[i]`, into `out` at page `first + i` (4096 bytes
   * each); `ok[i]` says whether page i was read. False when the process is gone.
   */
  read(pid: number, vpns: Float64Array, count: number, out: Uint8Array, first: number, ok: Uint8Array): boolean;
  /** KSM's view of the process (cheap: one small file), or undefined when it is gone. */
  ksmStat(pid: number): PlusKsmStat | undefined;
  /**
   * The ranges whose VMAs are VM_MERGEABLE now (smaps' "mg": a walk of the process's page
   * tables, so costly), in address order, [start, end) bytes; undefined when it is gone.
   */
  mergeableRanges(pid: number): ReadonlyArray<readonly [number, number]> | undefined;
  /** /sys/kernel/mm/ksm/full_scans: ksmd's passes, the clock a marked range is judged by. */
  fullScans(): number;
  /** The policy is done with a process (it exited or left the selection): drop what is open for it. */
  forget?(pid: number): void;
}
