/**
 * Flag words of the memory manager, with the kernel's names. Bit positions are ours where
 * userspace cannot see them (VMA and mm flags); values visible to userspace (madvise advice,
 * prctl options) are Linux's x86_64 ABI values.
 *
 * All words here fit in 31 bits, so `(x & F) !== 0` is safe with JavaScript's 32-bit
 * bitwise operators. Frame numbers never take part in bitwise arithmetic.
 */

// ---- vm_area_struct.vm_flags (include/linux/mm.h) ----
export const VM_READ = 1 << 0;
export const VM_WRITE = 1 << 1;
export const VM_EXEC = 1 << 2;
export const VM_SHARED = 1 << 3;
export const VM_MAYREAD = 1 << 4;
export const VM_MAYWRITE = 1 << 5;
export const VM_MAYEXEC = 1 << 6;
export const VM_MAYSHARE = 1 << 7;
export const VM_GROWSDOWN = 1 << 8;
export const VM_PFNMAP = 1 << 10;
export const VM_LOCKED = 1 << 13;
export const VM_IO = 1 << 14;
export const VM_DONTEXPAND = 1 << 18;
export const VM_HUGETLB = 1 << 22;
export const VM_MIXEDMAP = 1 << 28;
export const VM_MERGEABLE = 1 << 29;
/**
 * KSM+ (the thesis's extension, not Linux): the VMA was sampled long enough without a
 * single merge, so the KSM+ scanner leaves it alone from now on.
 */
export const VM_NOT_MERGEABLE = 1 << 27;
export const VM_DROPPABLE = 1 << 30;
/** VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP, as include/linux/mm.h defines it. */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

// ---- mm_struct.flags (include/linux/sched/coredump.h, mm_types.h) ----
/** The mm is registered with KSM (has an mm_slot). */
export const MMF_VM_MERGEABLE = 1 << 0;
/** PR_SET_MEMORY_MERGE: every compatible VMA of the mm is VM_MERGEABLE. */
export const MMF_VM_MERGE_ANY = 1 << 1;
/** Flags a new mm inherits from the old one on fork and exec (MMF_INIT_LEGACY_MASK). */
export const MMF_INIT_LEGACY_MASK = MMF_VM_MERGE_ANY;

// ---- PTE bits (arch/x86/include/asm/pgtable_types.h, the ones the model needs) ----
export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_DIRTY = 1 << 2;
/** pte_special: maps a page without a struct page refcount (the shared zero page). */
export const _PAGE_SPECIAL = 1 << 3;

// ---- page flags (include/linux/page-flags.h, the ones the model needs) ----
export const PG_anon = 1 << 0;
/** folio_test_ksm: anon folio whose mapping points at a KSM stable node. */
export const PG_ksm = 1 << 1;
export const PG_anon_exclusive = 1 << 2;
/** A page of a shared anonymous (shmem) object. */
export const PG_shmem = 1 << 3;
/** The kernel's shared zero page. */
export const PG_zero = 1 << 4;

// ---- madvise advice (include/uapi/asm-generic/mman-common.h) ----
export const MADV_DONTNEED = 4;
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;

// ---- prctl options (include/uapi/linux/prctl.h) ----
export const PR_SET_MEMORY_MERGE = 67;
export const PR_GET_MEMORY_MERGE = 68;

// ---- fault flags and results (include/linux/mm_types.h) ----
export const FAULT_FLAG_WRITE = 1 << 0;
export const FAULT_FLAG_REMOTE = 1 << 7;
export const FAULT_FLAG_UNSHARE = 1 << 10;
export const VM_FAULT_OOM = 1 << 0;
export const VM_FAULT_SIGBUS = 1 << 1;
export const VM_FAULT_SIGSEGV = 1 << 6;
