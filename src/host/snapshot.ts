/**
 * Snapshot files: the anonymous memory of some processes at one moment, to study or to load
 * into the model later (`samepage predict`). Content-addressed: each distinct page is stored
 * once (by MD5), zlib-compressed; each process keeps its pid, comm, mappings and, per present
 * page, its address and the index of its content. A hashes-only snapshot keeps the MD5 and
 * class of each content and no bytes. Written with mode 0600: memory holds secrets.
 *
 * Layout (version 1, integers little-endian):
 *   header, 64 bytes: magic "SPSNAP\r\n" | u32 version | u32 flags (bit 0: hashes only) |
 *                     u64 body length | SHA-256 of the body (32 bytes) | 8 zero bytes
 *   body:  A. pages, unless hashes only: per 256 contents, u32 length + one zlib stream of
 *             their bytes (the last block may hold fewer)
 *          B. contents: per content, MD5 (16) | u16 period (period-N, else 0) | u8 class
 *             (0 other, 1 zero, 2 ones, 3 period-N) | u8 0
 *          C. pages of each process in turn: u32 address low | u32 address high | u32 content
 *             | u32 frame (version 2: 1.. numbers the physical frames in order of first sight,
 *             so pages of one frame, such as a forked child's, are known as one; 0 unknown)
 *          D. metadata, UTF-8 JSON (SnapshotMeta)
 *          trailer: u64 length of A | u64 contents | u64 length of C | u64 length of D
 * The body is written as it is read, the header last, into a temporary file renamed into
 * place, so a snapshot that exists is whole. The reader checks length and checksum before it
 * believes anything else, then every index and count.
 */
import { createHash, hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, read, renameSync, unlinkSync, writeSync, fchmodSync } from 'node:fs';
import { promisify } from 'node:util';
import { release } from 'node:os';
import { deflateSync, inflateSync, constants as zc } from 'node:zlib';
import { describeFsError, openInputFile, readFully } from '../lib/input_file.ts';
import { SNAPSHOT_MAGIC } from '../lib/file_kind.ts';
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import type { DuplicateStatistics } from '../stats/duplicate_statistics.ts';
import { classifyPage, type PageClass } from '../stats/page_class.ts';

/** Written now; version 1 (no frames) is still read. */
export const SNAPSHOT_VERSION = 2;
const HEADER_BYTES = 64;
const TRAILER_BYTES = 32;
const CONTENT_ENTRY = 20;
/** Bytes of a page entry, by version. */
const PAGE_ENTRY: Readonly<Record<number, number>> = { 1: 12, 2: 16 };
/** Contents per compressed block: 1 MiB of pages, so one page can be read without the rest. */
export const BLOCK_PAGES = 256;
const FLAG_HASHES_ONLY = 1;
const readAsync = promisify(read);

/** A mapping of the process, as /proc/PID/maps showed it. */
export interface SnapshotVma {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  readonly offset: number;
  readonly path: string;
}

/** What the writer needs of a process: who it is, its mappings, and its pages (lent bytes). */
export interface SnapshotProcessInput {
  readonly pid: number;
  readonly comm: string;
  readonly vmas: readonly SnapshotVma[];
  readonly zeroPages?: number;
  readonly swappedPages?: number;
  pages(): Iterable<{
    readonly address: number;
    readonly buffer: Uint8Array;
    readonly offset: number;
    readonly frame?: number;
  }>;
}

/** The JSON part of the file. */
interface SnapshotMeta {
  readonly created: string;
  readonly kernel: string;
  readonly processes: readonly {
    readonly pid: number;
    readonly comm: string;
    readonly vmas: readonly SnapshotVma[];
    readonly pageCount: number;
    readonly zeroPages: number;
    readonly swappedPages: number;
  }[];
}

/**
 * One process of a snapshot: page i is at addresses[i], holds content contents[i] and is in
 * frame frames[i] (0: unknown, its own frame).
 */
export interface SnapshotProcess {
  readonly pid: number;
  readonly comm: string;
  readonly vmas: readonly SnapshotVma[];
  readonly addresses: Float64Array;
  readonly contents: Uint32Array;
  readonly frames: Uint32Array;
  /** Zero-page mappings and swapped-out pages seen but not stored. */
  readonly zeroPages: number;
  readonly swappedPages: number;
}

/** A snapshot as read back. */
export interface Snapshot {
  readonly version: number;
  /** ISO 8601 time of writing, and the kernel release it was taken on. */
  readonly created: string;
  readonly kernel: string;
  readonly hashesOnly: boolean;
  readonly processes: readonly SnapshotProcess[];
  readonly contentCount: number;
  /** The 16-byte MD5 of a content. */
  md5(index: number): Uint8Array;
  classOf(index: number): PageClass;
  /** The 4096 bytes of a content (a view valid until the next call), or undefined if hashes only. */
  page(index: number): Uint8Array | undefined;
  /** Closes the file the pages are read from (page() fails after). */
  close(): void;
}

export type ReadSnapshotResult =
  | { readonly ok: true; readonly snapshot: Snapshot }
  | { readonly ok: false; readonly problem: string };

export interface WriteSnapshotOptions {
  readonly hashesOnly?: boolean;
  /** Called after each page is stored (for a progress bar). */
  readonly onPage?: () => void;
}

export interface WriteSnapshotSummary {
  readonly processes: number;
  readonly pages: number;
  readonly contents: number;
  readonly bytes: number;
}

/** Appends to the body at the file's current end, hashing as it goes. */
class BodyWriter {
  readonly sha = createHash('sha256');
  pos = HEADER_BYTES;
  readonly fd: number;
  constructor(fd: number) {
    this.fd = fd;
  }
  write(buf: Uint8Array): void {
    this.sha.update(buf);
    let done = 0;
    while (done < buf.length) done += writeSync(this.fd, buf, done, buf.length - done, this.pos + done);
    this.pos += buf.length;
  }
}

/** Writes the snapshot of `processes` to `file` (mode 0600), replacing it only once complete. */
export function writeSnapshot(
  file: string,
  processes: Iterable<SnapshotProcessInput>,
  opts: WriteSnapshotOptions = {},
): WriteSnapshotSummary {
  const hashesOnly = opts.hashesOnly === true;
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    const body = new BodyWriter(fd);
    const index = new Map<string, number>();
    const table: Buffer[] = [];
    const block = Buffer.alloc(BLOCK_PAGES * PAGE_SIZE);
    let inBlock = 0;
    let blocksLen = 0;
    const flush = (): void => {
      if (inBlock === 0) return;
      const z = deflateSync(block.subarray(0, inBlock * PAGE_SIZE), { level: zc.Z_BEST_SPEED });
      const len = Buffer.alloc(4);
      len.writeUInt32LE(z.length);
      body.write(len);
      body.write(z);
      blocksLen += 4 + z.length;
      inBlock = 0;
    };
    const pageTables: Buffer[] = [];
    const meta: SnapshotMeta['processes'][number][] = [];
    /** Physical frame -> its number in the file (1..), in order of first sight. */
    const frameIndex = new Map<number, number>();
    let pages = 0;
    const scratch = new Int32Array(PAGE_SIZE);
    for (const p of processes) {
      const entries: number[] = [];
      for (const page of p.pages()) {
        const bytes = page.buffer.subarray(page.offset, page.offset + PAGE_SIZE);
        const digest = hash('md5', bytes, 'binary');
        let id = index.get(digest);
        if (id === undefined) {
          id = index.size;
          index.set(digest, id);
          table.push(contentEntry(Buffer.from(digest, 'binary'), classifyPage(page.buffer, page.offset, scratch)));
          if (!hashesOnly) {
            block.set(bytes, inBlock * PAGE_SIZE);
            if (++inBlock === BLOCK_PAGES) flush();
          }
        }
        let frame = 0;
        if (page.frame !== undefined) {
          frame = frameIndex.get(page.frame) ?? frameIndex.size + 1;
          frameIndex.set(page.frame, frame);
        }
        entries.push(page.address % 2 ** 32, Math.floor(page.address / 2 ** 32), id, frame);
        pages++;
        opts.onPage?.();
      }
      pageTables.push(Buffer.from(Uint32Array.from(entries).buffer));
      meta.push({
        pid: p.pid,
        comm: p.comm,
        vmas: p.vmas.map(({ start, end, perms, offset, path }) => ({ start, end, perms, offset, path })),
        pageCount: entries.length / 4,
        zeroPages: p.zeroPages ?? 0,
        swappedPages: p.swappedPages ?? 0,
      });
    }
    flush();
    for (const t of table) body.write(t);
    let pagesLen = 0;
    for (const t of pageTables) {
      body.write(t);
      pagesLen += t.length;
    }
    const json = Buffer.from(
      JSON.stringify({ created: new Date().toISOString(), kernel: release(), processes: meta } satisfies SnapshotMeta),
      'utf8',
    );
    body.write(json);
    const trailer = Buffer.alloc(TRAILER_BYTES);
    [blocksLen, index.size, pagesLen, json.length].forEach((v, i) => {
      trailer.writeBigUInt64LE(BigInt(v), i * 8);
    });
    body.write(trailer);

    const header = Buffer.alloc(HEADER_BYTES);
    header.write(SNAPSHOT_MAGIC, 0, 'latin1');
    header.writeUInt32LE(SNAPSHOT_VERSION, 8);
    header.writeUInt32LE(hashesOnly ? FLAG_HASHES_ONLY : 0, 12);
    header.writeBigUInt64LE(BigInt(body.pos - HEADER_BYTES), 16);
    body.sha.digest().copy(header, 24);
    writeSync(fd, header, 0, HEADER_BYTES, 0);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
    return { processes: meta.length, pages, contents: index.size, bytes: body.pos };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* never created or already renamed */
    }
    throw e;
  }
}

const CLASS_CODES: Readonly<Record<string, number>> = { other: 0, zero: 1, ones: 2 };

function contentEntry(md5: Buffer, cls: PageClass): Buffer {
  const e = Buffer.alloc(CONTENT_ENTRY);
  md5.copy(e, 0);
  const period = cls.startsWith('period-') ? Number(cls.slice('period-'.length)) : 0;
  e.writeUInt16LE(period, 16);
  e.writeUInt8(period > 0 ? 3 : (CLASS_CODES[cls] ?? 0), 18);
  return e;
}

/** Metadata and tables are held in memory (page bytes never are): at most this much of each. */
export const MAX_SNAPSHOT_TABLE_BYTES = 1024 * 1024 * 1024;
/** Bytes hashed per read while the body's checksum is checked. */
const VERIFY_CHUNK = 8 * 1024 * 1024;

export interface ReadSnapshotOptions {
  /** Called as the body's checksum is checked: bytes hashed so far of `total`. */
  readonly onVerify?: (done: number, total: number) => Promise<void> | void;
}

/**
 * Reads and checks a snapshot file: the snapshot, or why it cannot be used. Only regular
 * files are read, of any size: the page blocks stay in the file (read a block at a time
 * when a page is asked for) and the checksum is computed as the body streams past, so
 * memory follows the tables, about 36 bytes per page, not the pages. The snapshot keeps
 * the file open until `close()`.
 */
export async function readSnapshot(file: string, opts: ReadSnapshotOptions = {}): Promise<ReadSnapshotResult> {
  const opened = openInputFile(file, 'snapshot');
  if (!opened.ok) return { ok: false, problem: opened.problem };
  const handle = new SnapshotFile(opened.fd, opened.size);
  try {
    const r = await readOpened(handle, file, opts);
    if (!r.ok) handle.close();
    return r;
  } catch (e) {
    handle.close();
    return { ok: false, problem: `Cannot read snapshot "${file}": ${describeFsError(e)}` };
  }
}

/** Positional reads of an open snapshot file. */
class SnapshotFile {
  readonly fd: number;
  readonly size: number;
  #open = true;

  constructor(fd: number, size: number) {
    this.fd = fd;
    this.size = size;
  }

  /** `length` bytes at `position`; throws if the file ends first. */
  at(position: number, length: number): Buffer {
    // A closed descriptor's number may belong to another file by now.
    if (!this.#open) throw new Error('The snapshot file is closed');
    const buf = Buffer.allocUnsafe(length);
    if (readFully(this.fd, buf, 0, length, position) !== length) {
      throw new Error(`the file ends before byte ${position + length}`);
    }
    return buf;
  }

  close(): void {
    if (this.#open) closeSync(this.fd);
    this.#open = false;
  }
}

/** Whether `file` is a regular file that starts with the snapshot magic (scenario files never do). */
export function isSnapshotFile(file: string): boolean {
  const opened = openInputFile(file, 'snapshot');
  if (!opened.ok) return false;
  try {
    const head = Buffer.alloc(SNAPSHOT_MAGIC.length);
    return readFully(opened.fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === SNAPSHOT_MAGIC;
  } finally {
    closeSync(opened.fd);
  }
}

async function readOpened(f: SnapshotFile, file: string, opts: ReadSnapshotOptions): Promise<ReadSnapshotResult> {
  const bad = (why: string): ReadSnapshotResult => ({
    ok: false,
    problem: `"${file}" is not a usable snapshot: ${why}`,
  });
  if (f.size < HEADER_BYTES || f.at(0, SNAPSHOT_MAGIC.length).toString('latin1') !== SNAPSHOT_MAGIC) {
    return bad('it does not start with the snapshot magic (not a samepage snapshot)');
  }
  const header = f.at(0, HEADER_BYTES);
  const version = header.readUInt32LE(8);
  if (PAGE_ENTRY[version] === undefined)
    return bad(
      `version ${version} is not supported (this samepage reads versions ${Object.keys(PAGE_ENTRY).join(' and ')})`,
    );
  const hashesOnly = (header.readUInt32LE(12) & FLAG_HASHES_ONLY) !== 0;
  const announced = header.readBigUInt64LE(16);
  const actual = f.size - HEADER_BYTES;
  if (announced > BigInt(actual))
    return bad(`it is truncated: the header announces ${announced} bytes of body, the file holds ${actual}`);
  if (announced < BigInt(actual)) return bad(`${actual - Number(announced)} unexpected bytes follow the body`);
  // The layout is checked before the checksum, which reads every byte: a file that cannot be
  // a snapshot is refused at once, whatever its size.
  const layout = sectionLayout(f, actual);
  if (typeof layout === 'string') return bad(layout);
  if (hashesOnly && layout.blocksLen !== 0) return bad('a hashes-only snapshot holds page bytes');
  const sha = createHash('sha256');
  for (let pos = 0; pos < actual; ) {
    const n = Math.min(VERIFY_CHUNK, actual - pos);
    const chunk = Buffer.allocUnsafe(n);
    const { bytesRead } = await readAsync(f.fd, chunk, 0, n, HEADER_BYTES + pos);
    if (bytesRead !== n) return bad(`it shrank while it was read (at byte ${HEADER_BYTES + pos + bytesRead})`);
    sha.update(chunk);
    pos += n;
    await opts.onVerify?.(pos, actual);
  }
  if (!sha.digest().equals(header.subarray(24, 56))) return bad('its checksum does not match: the file is damaged');
  try {
    return { ok: true, snapshot: parseBody(f, layout, version, hashesOnly) };
  } catch (e) {
    return bad(e instanceof Error ? e.message : String(e));
  }
}

/** Where the sections of the body lie (offsets from the body's start), from its trailer. */
interface SectionLayout {
  readonly blocksLen: number;
  readonly contentCount: number;
  readonly pagesLen: number;
  readonly metaLen: number;
}

/** The trailer's section lengths, checked to add up to the body; a string says why not. */
function sectionLayout(f: SnapshotFile, bodyLen: number): SectionLayout | string {
  if (bodyLen < TRAILER_BYTES) return 'the body is shorter than its trailer';
  const t = bodyLen - TRAILER_BYTES;
  const trailer = f.at(HEADER_BYTES + t, TRAILER_BYTES);
  const [blocks, contents, pages, meta] = [0, 1, 2, 3].map((i) => trailer.readBigUInt64LE(i * 8)) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  if (blocks + contents * BigInt(CONTENT_ENTRY) + pages + meta !== BigInt(t))
    return 'its section lengths do not add up';
  const layout = {
    blocksLen: Number(blocks),
    contentCount: Number(contents),
    pagesLen: Number(pages),
    metaLen: Number(meta),
  };
  for (const [what, bytes] of [
    ['content table', layout.contentCount * CONTENT_ENTRY],
    ['page tables', layout.pagesLen],
    ['metadata', layout.metaLen],
  ] as const) {
    if (bytes > MAX_SNAPSHOT_TABLE_BYTES) {
      return `its ${what} hold ${bytes} bytes; samepage keeps at most ${MAX_SNAPSHOT_TABLE_BYTES} (${formatBytes(MAX_SNAPSHOT_TABLE_BYTES)}) of each in memory`;
    }
  }
  return layout;
}

/** The snapshot from its checked body: tables read into memory, page blocks indexed in the file. */
function parseBody(f: SnapshotFile, layout: SectionLayout, version: number, hashesOnly: boolean): Snapshot {
  const { blocksLen, contentCount, pagesLen, metaLen } = layout;
  const tableLen = contentCount * CONTENT_ENTRY;
  const body = HEADER_BYTES;
  const table = f.at(body + blocksLen, tableLen);
  const pageTables = f.at(body + blocksLen + tableLen, pagesLen);
  const meta = parseMeta(f.at(body + blocksLen + tableLen + pagesLen, metaLen).toString('utf8'));

  // Where each block of contents starts in the file, and its compressed length.
  const blockAt: number[] = [];
  const blockLen: number[] = [];
  for (let off = 0; off < blocksLen; ) {
    if (off + 4 > blocksLen) throw new Error('a page block is cut short');
    const len = f.at(body + off, 4).readUInt32LE(0);
    if (off + 4 + len > blocksLen) throw new Error('a page block is cut short');
    blockAt.push(body + off + 4);
    blockLen.push(len);
    off += 4 + len;
  }
  if (!hashesOnly && blockAt.length !== Math.ceil(contentCount / BLOCK_PAGES))
    throw new Error(`it holds ${blockAt.length} page blocks for ${contentCount} contents`);

  const processes = pageTablesOf(meta, pageTables, PAGE_ENTRY[version]!, contentCount);
  const cache: { block: number; bytes: Buffer | undefined } = { block: -1, bytes: undefined };
  const checkIndex = (i: number): void => {
    if (!Number.isInteger(i) || i < 0 || i >= contentCount)
      throw new RangeError(`No content ${i} in a snapshot of ${contentCount}`);
  };
  return {
    version,
    created: meta.created,
    kernel: meta.kernel,
    hashesOnly,
    processes,
    contentCount,
    md5: (i) => {
      checkIndex(i);
      return table.subarray(i * CONTENT_ENTRY, i * CONTENT_ENTRY + 16);
    },
    classOf: (i) => {
      checkIndex(i);
      const code = table.readUInt8(i * CONTENT_ENTRY + 18);
      if (code === 1) return 'zero';
      if (code === 2) return 'ones';
      if (code === 3) return `period-${table.readUInt16LE(i * CONTENT_ENTRY + 16)}`;
      return 'other';
    },
    page: (i) => {
      checkIndex(i);
      if (hashesOnly) return undefined;
      const b = Math.floor(i / BLOCK_PAGES);
      if (cache.block !== b) {
        let bytes: Buffer;
        try {
          bytes = inflateSync(f.at(blockAt[b]!, blockLen[b]!));
        } catch (e) {
          throw new Error(`Snapshot page block ${b} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
        }
        const want = Math.min(BLOCK_PAGES, contentCount - b * BLOCK_PAGES) * PAGE_SIZE;
        if (bytes.length !== want)
          throw new Error(`Snapshot page block ${b} holds ${bytes.length} bytes, expected ${want}`);
        cache.block = b;
        cache.bytes = bytes;
      }
      const o = (i % BLOCK_PAGES) * PAGE_SIZE;
      return cache.bytes!.subarray(o, o + PAGE_SIZE);
    },
    close: () => f.close(),
  };
}

/** Each process's pages from the page tables, every content index checked. */
function pageTablesOf(
  meta: SnapshotMeta,
  pageTables: Buffer,
  entryBytes: number,
  contentCount: number,
): SnapshotProcess[] {
  const processes: SnapshotProcess[] = [];
  let off = 0;
  const stride = entryBytes / 4;
  for (const p of meta.processes) {
    const n = p.pageCount;
    if (off + n * entryBytes > pageTables.length) throw new Error(`the page table of process ${p.pid} is cut short`);
    const words = new Uint32Array(Uint8Array.from(pageTables.subarray(off, off + n * entryBytes)).buffer);
    const addresses = new Float64Array(n);
    const contents = new Uint32Array(n);
    const frames = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      addresses[i] = words[stride * i]! + words[stride * i + 1]! * 2 ** 32;
      const c = words[stride * i + 2]!;
      if (c >= contentCount) throw new Error(`process ${p.pid} refers to content ${c} of ${contentCount}`);
      contents[i] = c;
      if (stride > 3) frames[i] = words[stride * i + 3]!;
    }
    processes.push({
      pid: p.pid,
      comm: p.comm,
      vmas: p.vmas,
      addresses,
      contents,
      frames,
      zeroPages: p.zeroPages,
      swappedPages: p.swappedPages,
    });
    off += n * entryBytes;
  }
  if (off !== pageTables.length) throw new Error('its page tables do not match the processes listed');
  return processes;
}

/** Checks the metadata JSON field by field; a checksummed file should never fail here. */
function parseMeta(text: string): SnapshotMeta {
  const fail = (what: string): never => {
    throw new Error(`its metadata is malformed (${what})`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  const obj = (v: unknown, what: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : fail(what);
  const num = (v: unknown, what: string): number =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : fail(what);
  const str = (v: unknown, what: string): string => (typeof v === 'string' ? v : fail(what));
  const arr = (v: unknown, what: string): unknown[] => (Array.isArray(v) ? v : fail(what));
  const m = obj(raw, 'top level');
  return {
    created: str(m.created, 'created'),
    kernel: str(m.kernel, 'kernel'),
    processes: arr(m.processes, 'processes').map((pv, i) => {
      const p = obj(pv, `processes[${i}]`);
      return {
        pid: num(p.pid, `processes[${i}].pid`),
        comm: str(p.comm, `processes[${i}].comm`),
        pageCount: num(p.pageCount, `processes[${i}].pageCount`),
        zeroPages: num(p.zeroPages, `processes[${i}].zeroPages`),
        swappedPages: num(p.swappedPages, `processes[${i}].swappedPages`),
        vmas: arr(p.vmas, `processes[${i}].vmas`).map((vv, j) => {
          const v = obj(vv, `processes[${i}].vmas[${j}]`);
          const at = `processes[${i}].vmas[${j}]`;
          return {
            start: num(v.start, `${at}.start`),
            end: num(v.end, `${at}.end`),
            perms: str(v.perms, `${at}.perms`),
            offset: num(v.offset, `${at}.offset`),
            path: str(v.path, `${at}.path`),
          };
        }),
      };
    }),
  };
}

/**
 * Counts every page of a snapshot (of the processes `keep` accepts) by its stored MD5 and
 * class: no bytes needed, so hashes-only snapshots work too.
 */
export function addSnapshotPages(
  stats: DuplicateStatistics,
  snap: Snapshot,
  keep: (p: SnapshotProcess) => boolean = () => true,
): void {
  for (const p of snap.processes) {
    if (!keep(p)) continue;
    const owner = { pid: p.pid, comm: p.comm };
    p.contents.forEach((c, i) => {
      const frame = p.frames[i]!;
      stats.addFingerprint(owner, snap.md5(c), snap.classOf(c), frame === 0 ? undefined : frame);
    });
  }
}
