import type { MmStruct } from './mm_struct.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';

/** The anon_vma of a VMA: only its existence and identity matter to the model. */
export interface AnonVma {
  readonly id: number;
}

/**
 * The pages of a shared anonymous mapping (a shmem object): shared by every VMA that maps
 * it, including those of forked children, and never copied on write.
 */
export class ShmemObject {
  readonly pages = new Map<number, number>();
  users = 0;
}

/** A virtual memory area (struct vm_area_struct). Addresses are page-aligned byte numbers. */
export class Vma {
  #anonVma: AnonVma | null = null;
  #vmFlags: number;

  readonly vmMm: MmStruct;
  vmStart: number;
  vmEnd: number;
  /** Backing shmem object of a shared anonymous mapping. */
  readonly shmem: ShmemObject | null;
  /** Page offset into `shmem` (vm_pgoff). */
  vmPgoff: number;
  /** NUMA node the VMA's memory policy binds its pages to, if any. */
  readonly bindNode: number | undefined;
  /** A file mapping (the program image): no anonymous pages of its own until written. */
  readonly file: boolean;

  constructor(
    vmMm: MmStruct,
    vmStart: number,
    vmEnd: number,
    vmFlags: number,
    shmem: ShmemObject | null,
    vmPgoff: number,
    bindNode: number | undefined,
    file: boolean,
  ) {
    this.vmMm = vmMm;
    this.vmStart = vmStart;
    this.vmEnd = vmEnd;
    this.#vmFlags = vmFlags;
    this.shmem = shmem;
    this.vmPgoff = vmPgoff;
    this.bindNode = bindNode;
    this.file = file;
  }

  /** VM_* bits. Setting them is a change of memory (MemoryGeneration). */
  get vmFlags(): number {
    return this.#vmFlags;
  }

  set vmFlags(flags: number) {
    this.vmMm.generation.bump();
    this.#vmFlags = flags;
  }

  /** Set at the first anonymous fault; KSM skips a VMA without one. */
  get anonVma(): AnonVma | null {
    return this.#anonVma;
  }

  set anonVma(anonVma: AnonVma | null) {
    this.vmMm.generation.bump();
    this.#anonVma = anonVma;
  }

  pages(): number {
    return (this.vmEnd - this.vmStart) / PAGE_SIZE;
  }

  contains(addr: number): boolean {
    return addr >= this.vmStart && addr < this.vmEnd;
  }
}
