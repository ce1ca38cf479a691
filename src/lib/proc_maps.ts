/**
 * /proc/PID/maps, parsed, and the choice of mappings that can hold a process's anonymous
 * memory.
 *
 * Anonymous memory, as samepage counts it on a live process, is every present page that
 * pagemap does not flag as file-backed or shared (PM_FILE, bit 61), in a private mapping:
 *   - anonymous mappings, [heap] and [stack], and named ones ([anon:...]);
 *   - private file mappings too: a page of a program's data segment or of any MAP_PRIVATE
 *     file becomes anonymous when the process writes it (copy-on-write), and RELRO pages
 *     stay anonymous after the loader makes them read-only again; the untouched page-cache
 *     pages of the same mapping are left out by PM_FILE;
 *   - read-only and PROT_NONE private mappings are kept for the same reason; their pagemap
 *     costs 8 bytes per page to read, and holes cost the kernel next to nothing.
 * Left out: shared mappings (shmem and shared files: page cache, which KSM never merges) and
 * the kernel's own [vvar], [vvar_vclock], [vdso] and [vsyscall].
 */

/** One line of /proc/PID/maps. */
export interface MapsEntry {
  readonly start: number;
  readonly end: number;
  /** "rw-p", "r-xp", "rw-s", ... */
  readonly perms: string;
  readonly offset: number;
  readonly dev: string;
  readonly inode: number;
  /** The path, a [name] or "" for an unnamed anonymous mapping. */
  readonly path: string;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;

const KERNEL_MAPPINGS = new Set(['[vvar]', '[vvar_vclock]', '[vdso]', '[vsyscall]']);

/**
 * Parses the text of /proc/PID/maps. Lines that do not parse, and addresses beyond 2^53
 * (only [vsyscall], in the kernel's half, on x86_64 with 4-level paging), are left out.
 */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = MAPS_LINE.exec(line);
    if (m === null) continue;
    const start = parseInt(m[1]!, 16);
    const end = parseInt(m[2]!, 16);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) continue;
    out.push({ start, end, perms: m[3]!, offset: parseInt(m[4]!, 16), dev: m[5]!, inode: Number(m[6]), path: m[7]! });
  }
  return out;
}

/** Whether a mapping can hold anonymous pages worth reading (see the file comment). */
export function mayHoldAnonymous(e: MapsEntry): boolean {
  return e.perms[3] === 'p' && !KERNEL_MAPPINGS.has(e.path);
}

/** One VMA's range and the two-letter flags of its VmFlags line. */
export interface VmaFlags {
  readonly start: number;
  readonly end: number;
  /** "rd", "wr", "mg" (VM_MERGEABLE), ... as fs/proc/task_mmu.c show_smap_vma_flags prints them; empty when it had none. */
  readonly flags: ReadonlySet<string>;
}

/** One mapping of /proc/PID/smaps: its maps line, its VmFlags and some of its sizes. */
export interface SmapsEntry extends MapsEntry, VmaFlags {
  /** Rss: resident pages of the mapping, in kB. */
  readonly rssKb: number;
  /** Anonymous: its anonymous pages (KSM pages included, the zero page not), in kB. */
  readonly anonymousKb: number;
  /** KSM: its pages that are KSM pages, in kB (any mapping, mergeable or not). */
  readonly ksmKb: number;
  /** Shared_Clean + Shared_Dirty: its resident pages mapped more than once, in kB. */
  readonly sharedKb: number;
}

/** VmFlags code of VM_MERGEABLE: the mapping is KSM's to scan (madvise or MERGE_ANY). */
export const VM_MERGEABLE_CODE = 'mg';

/**
 * Parses the text of /proc/PID/smaps: each mapping's header line, its VmFlags line and its
 * Rss, Anonymous, KSM and Shared_* sizes (the other fields are left out). Headers that do not parse are
 * skipped with their fields.
 */
export function parseSmapsFlags(text: string): SmapsEntry[] {
  const out: SmapsEntry[] = [];
  let current: MapsEntry | undefined;
  let flags: ReadonlySet<string> = new Set();
  let sizes = { rssKb: 0, anonymousKb: 0, ksmKb: 0, sharedKb: 0 };
  const flush = (): void => {
    if (current !== undefined) out.push({ ...current, flags, ...sizes });
    current = undefined;
    flags = new Set();
    sizes = { rssKb: 0, anonymousKb: 0, ksmKb: 0, sharedKb: 0 };
  };
  const kb = (line: string): number => Number.parseInt(line.slice(line.indexOf(':') + 1), 10) || 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('VmFlags:')) {
      flags = new Set(
        line
          .slice('VmFlags:'.length)
          .trim()
          .split(/\s+/)
          .filter((f) => f !== ''),
      );
    } else if (line.startsWith('Rss:')) {
      sizes.rssKb = kb(line);
    } else if (line.startsWith('Anonymous:')) {
      sizes.anonymousKb = kb(line);
    } else if (line.startsWith('KSM:')) {
      sizes.ksmKb = kb(line);
    } else if (line.startsWith('Shared_Clean:') || line.startsWith('Shared_Dirty:')) {
      sizes.sharedKb += kb(line);
    } else if (/^[0-9a-f]+-/.test(line)) {
      // Field lines are "Name:   value"; a header starts with a hex address and a dash.
      flush();
      current = parseMaps(line)[0];
    }
  }
  flush();
  return out;
}

/** The parts of [start, start+length) that lie in VMAs carrying `flag` ("mg": VM_MERGEABLE). */
export function rangesWithFlag(
  vmas: readonly VmaFlags[],
  start: number,
  length: number,
  flag: string,
): Array<{ start: number; length: number }> {
  const end = start + length;
  const out: Array<{ start: number; length: number }> = [];
  for (const v of vmas) {
    if (!v.flags.has(flag) || v.end <= start || v.start >= end) continue;
    const s = Math.max(start, v.start);
    const e = Math.min(end, v.end);
    const last = out[out.length - 1];
    if (last !== undefined && last.start + last.length === s)
      out[out.length - 1] = { start: last.start, length: e - last.start };
    else out.push({ start: s, length: e - s });
  }
  return out;
}
