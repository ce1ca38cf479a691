/**
 * The files the shell sees: `/sys/kernel/mm/{ksm,ksm+,parser}` from the model's sysfs
 * attribute tables and `/proc/PID/…` from its tasks, over an in-memory filesystem for
 * everything else (/tmp, the home directory). Errors carry Linux's errno, so commands print
 * what they print on Linux ("Permission denied" for a file sysfs cannot create, "Is a
 * directory", "Not a directory").
 *
 * A write to a sysfs file is the attribute's store. Its error cannot be thrown: the bash
 * interpreter writes redirected output after the command has finished and would end the whole
 * script on an exception, so the error is kept in `writeErrors` for the command's check
 * (see write_check.ts), which prints bash's "write error" line and sets the status.
 */
import type { BufferEncoding, CpOptions, FileContent, FsStat, IFileSystem, MkdirOptions, RmOptions } from 'just-bash';
import { InMemoryFs } from 'just-bash';

/** An entry of readdirWithFileTypes (the library does not export its type). */
interface DirentEntry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly isSymbolicLink: boolean;
}
import { describeErrno, EACCES, EISDIR, ENOENT, ENOTDIR, EPERM, strerror } from '../lib/errno.ts';
import type { Task } from '../mm/memory_manager.ts';
import { sysfsKfWrite } from '../sysfs/attribute.ts';
import { procKsmMergingPages, procKsmStat } from '../sysfs/proc_ksm.ts';
import { procVmstat } from '../sysfs/proc_vmstat.ts';
import type { System } from '../system.ts';

const SYS_MM = '/sys/kernel/mm';
/** Linux truncates a task's comm to TASK_COMM_LEN - 1 bytes. */
const TASK_COMM_LEN = 16;

/** A filesystem error as Node reports one: `code` is the errno name, `errno` the number. */
export class FsError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(errno: number, syscall: string, path: string) {
    super(`${describeErrno(errno)}: ${strerror(errno).toLowerCase()}, ${syscall} '${path}'`);
    this.errno = errno;
    this.code = describeErrno(errno);
  }
}

/** The errno of an error a filesystem threw, when it says (ENOENT for anything else). */
export function errnoOf(e: unknown): number {
  if (e instanceof FsError) return e.errno;
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'EISDIR') return EISDIR;
  if (code === 'ENOTDIR') return ENOTDIR;
  if (code === 'EACCES') return EACCES;
  return ENOENT;
}

/** One failed store: the file and the errno its attribute returned. */
export interface WriteError {
  readonly path: string;
  readonly errno: number;
}

type Node =
  | { readonly kind: 'dir'; readonly entries: () => string[]; readonly create: number }
  | {
      readonly kind: 'file';
      readonly show: () => string;
      readonly store: ((value: string) => number) | undefined;
    };

/** What a /proc/PID file holds, by name, for a live task. */
const PROC_FILES: Readonly<Record<string, (t: Task) => string>> = {
  comm: (t) => `${t.comm}\n`,
  ksm_merging_pages: (t) => procKsmMergingPages(t.mm),
  ksm_stat: (t) => procKsmStat(t.mm),
  status: procStatus,
};

/**
 * The lines of /proc/PID/status the model knows, in Linux's order and format.
 * @linux fs/proc/array.c proc_pid_status
 */
function procStatus(t: Task): string {
  const kb = (pages: number) => `${String(pages * 4).padStart(8)} kB`;
  return (
    `Name:\t${t.comm}\nTgid:\t${t.pid}\nPid:\t${t.pid}\n` +
    `RssAnon:\t${kb(t.mm.rssAnon)}\nRssShmem:\t${kb(t.mm.rssShmem)}\n`
  );
}

/** Whether every character of `s` is one byte (a latin1-shaped byte string). */
function isLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

export class ModelFs implements IFileSystem {
  readonly #sys: () => System;
  readonly #base = new InMemoryFs();
  /** The mtime of the model's files: when this filesystem was made. */
  #made: Date | undefined;
  readonly #sinks: Readonly<Record<string, (text: string) => void>>;
  /** Stores that failed since the last check, in order. */
  readonly writeErrors: WriteError[] = [];
  /** The errno of the last failed open for writing, by path. */
  readonly #openErrors = new Map<string, number>();

  /**
   * `sys` is asked on every access: the machine exists once the backend has started.
   * `sinks`: files whose writes go straight to a stream (the shell's stdout and stderr).
   */
  constructor(sys: () => System, sinks: Readonly<Record<string, (text: string) => void>> = {}) {
    this.#sys = sys;
    this.#sinks = sinks;
  }

  /** Makes the directories and the sink files (empty files the interpreter may open). */
  async prepare(dirs: readonly string[]): Promise<void> {
    for (const d of dirs) await this.#base.mkdir(d, { recursive: true });
    this.#made = (await this.#base.stat('/')).mtime;
    for (const f of Object.keys(this.#sinks)) await this.#base.writeFile(f, '');
  }

  /** Why opening `target` for writing failed (ENOENT when it did not): the last failure at that path. */
  openError(target: string): number {
    const exact = this.#openErrors.get(target);
    if (exact !== undefined) return exact;
    for (const [path, errno] of this.#openErrors) if (path.endsWith(`/${target}`)) return errno;
    return ENOENT;
  }

  /** The model's node at an absolute, normalised path; undefined outside /sys and /proc. */
  #node(path: string): Node | 'missing' | undefined {
    if (path === '/sys') return { kind: 'dir', entries: () => ['kernel'], create: EACCES };
    if (path === '/sys/kernel') return { kind: 'dir', entries: () => ['mm'], create: EACCES };
    if (path === SYS_MM) return { kind: 'dir', entries: () => [...this.#sys().sysfs.keys()], create: EACCES };
    if (path.startsWith(`${SYS_MM}/`)) return this.#sysfsNode(path.slice(SYS_MM.length + 1).split('/'));
    if (path.startsWith('/sys/')) return 'missing';
    if (path === '/proc') {
      return {
        kind: 'dir',
        entries: () => [
          ...this.#sys()
            .mmgr.liveTasks()
            .map((t) => String(t.pid)),
          'vmstat',
        ],
        create: ENOENT,
      };
    }
    // The KSM lines of /proc/vmstat (cow_ksm, ksm_swpin_copy): the rest is not modelled.
    if (path === '/proc/vmstat') return { kind: 'file', show: () => procVmstat(this.#sys().mmgr), store: undefined };
    if (path.startsWith('/proc/')) return this.#procNode(path.slice('/proc/'.length).split('/'));
    return undefined;
  }

  #sysfsNode(parts: string[]): Node | 'missing' {
    const group = this.#sys().sysfs.get(parts[0] ?? '');
    if (group === undefined) return 'missing';
    if (parts.length === 1) return { kind: 'dir', entries: () => [...group.keys()], create: EACCES };
    const attr = group.get(parts[1] ?? '');
    if (attr === undefined || parts.length > 2) return 'missing';
    return {
      kind: 'file',
      show: () => attr.show(),
      store: attr.store === undefined ? undefined : (value: string) => sysfsKfWrite(attr, value),
    };
  }

  #procNode(parts: string[]): Node | 'missing' {
    const pid = /^[1-9]\d*$/.test(parts[0] ?? '') ? Number(parts[0]) : undefined;
    const task = pid === undefined ? undefined : this.#sys().mmgr.tasks.get(pid);
    if (task === undefined || task.exited) return 'missing';
    if (parts.length === 1) return { kind: 'dir', entries: () => Object.keys(PROC_FILES), create: ENOENT };
    const read = PROC_FILES[parts[1] ?? ''];
    if (read === undefined || parts.length > 2) return 'missing';
    // A task's comm is writable (prctl PR_SET_NAME from outside); the rest is read-only.
    const store =
      parts[1] === 'comm'
        ? (value: string) => {
            task.comm = value.replace(/\n$/, '').slice(0, TASK_COMM_LEN - 1);
            return 0;
          }
        : undefined;
    return { kind: 'file', show: () => read(task), store };
  }

  /** The errno of a path that does not exist: ENOTDIR when a file stands where a directory must. */
  #missing(path: string): number {
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    const up = this.#node(parent);
    if (up !== undefined && up !== 'missing' && up.kind === 'file') return ENOTDIR;
    return ENOENT;
  }

  #lookup(path: string, syscall: string): Node | undefined {
    const node = this.#node(path);
    if (node === 'missing') throw new FsError(this.#missing(path), syscall, path);
    return node;
  }

  #file(path: string, syscall: string): Node & { kind: 'file' } {
    const node = this.#lookup(path, syscall)!;
    if (node.kind === 'dir') throw new FsError(EISDIR, syscall, path);
    return node;
  }

  async readFile(path: string, options?: { encoding?: BufferEncoding | null } | BufferEncoding): Promise<string> {
    if (this.#node(path) === undefined) return this.#base.readFile(path, options);
    return this.#file(path, 'open').show();
  }

  async readFileBuffer(path: string): Promise<Uint8Array> {
    if (this.#node(path) === undefined) return this.#base.readFileBuffer(path);
    return new TextEncoder().encode(this.#file(path, 'open').show());
  }

  async writeFile(path: string, content: FileContent, options?: BufferEncoding | { encoding?: BufferEncoding }) {
    if (this.#sink(path, content, options)) return;
    if (this.#node(path) === undefined) return this.#base.writeFile(path, content, options);
    this.#write(path, content);
  }

  async appendFile(path: string, content: FileContent, options?: BufferEncoding | { encoding?: BufferEncoding }) {
    if (this.#sink(path, content, options)) return;
    if (this.#node(path) === undefined) return this.#base.appendFile(path, content, options);
    this.#write(path, content);
  }

  /**
   * A write to a sink file. The interpreter hands bytes as a latin1-shaped string with the
   * 'binary' encoding (output that went through a pipe): those are UTF-8 bytes to decode.
   */
  #sink(path: string, content: FileContent, options?: BufferEncoding | { encoding?: BufferEncoding }): boolean {
    const sink = this.#sinks[path];
    if (sink === undefined) return false;
    const encoding = typeof options === 'string' ? options : options?.encoding;
    const text =
      typeof content !== 'string'
        ? new TextDecoder().decode(content)
        : encoding === 'binary' && isLatin1(content)
          ? Buffer.from(content, 'latin1').toString('utf8')
          : content;
    if (text !== '') sink(text);
    return true;
  }

  /**
   * Opening for write (an empty write: the interpreter truncates on open) fails as Linux's
   * open does; a write with content is the attribute's store.
   */
  #write(path: string, content: FileContent): void {
    try {
      this.#store(path, content);
    } catch (e) {
      if (e instanceof FsError) this.#openErrors.set(path, e.errno);
      throw e;
    }
  }

  #store(path: string, content: FileContent): void {
    const node = this.#node(path);
    if (node === 'missing') {
      const parent = this.#node(path.slice(0, path.lastIndexOf('/')) || '/');
      const errno = parent !== undefined && parent !== 'missing' && parent.kind === 'dir' ? parent.create : ENOENT;
      throw new FsError(errno === ENOENT ? this.#missing(path) : errno, 'open', path);
    }
    if (node === undefined) return;
    if (node.kind === 'dir') throw new FsError(EISDIR, 'open', path);
    if (node.store === undefined) throw new FsError(EACCES, 'open', path);
    const text = typeof content === 'string' ? content : new TextDecoder().decode(content);
    if (text === '') return;
    const err = node.store(text);
    if (err !== 0) this.writeErrors.push({ path, errno: -err });
  }

  async exists(path: string): Promise<boolean> {
    const node = this.#node(path);
    if (node === undefined) return this.#base.exists(path);
    return node !== 'missing';
  }

  async stat(path: string): Promise<FsStat> {
    const node = this.#lookup(path, 'stat');
    if (node === undefined) return this.#base.stat(path);
    const dir = node.kind === 'dir';
    return {
      isFile: !dir,
      isDirectory: dir,
      isSymbolicLink: false,
      // sysfs: 0644 with a store, 0444 without; procfs files as Linux shows them.
      mode: dir ? 0o40555 : node.store === undefined ? 0o100444 : 0o100644,
      // sysfs and procfs files report size 4096 and 0; a read is what counts.
      size: 0,
      mtime: this.#made ?? (await this.#base.stat('/')).mtime,
    };
  }

  async lstat(path: string): Promise<FsStat> {
    return this.#node(path) === undefined ? this.#base.lstat(path) : this.stat(path);
  }

  async readdir(path: string): Promise<string[]> {
    const node = this.#lookup(path, 'scandir');
    if (node === undefined) return this.#merged(path, await this.#base.readdir(path));
    if (node.kind === 'file') throw new FsError(ENOTDIR, 'scandir', path);
    return node.entries();
  }

  async readdirWithFileTypes(path: string): Promise<DirentEntry[]> {
    const names = await this.readdir(path);
    return Promise.all(
      names.map(async (name) => {
        const s = await this.stat(`${path === '/' ? '' : path}/${name}`);
        return { name, isFile: s.isFile, isDirectory: s.isDirectory, isSymbolicLink: false };
      }),
    );
  }

  /** The root lists /sys and /proc beside what the in-memory part holds. */
  #merged(path: string, names: string[]): string[] {
    if (path !== '/') return names;
    return [...new Set([...names, 'proc', 'sys'])].sort();
  }

  #readOnly(path: string, syscall: string): void {
    if (this.#node(path) !== undefined) throw new FsError(EPERM, syscall, path);
  }

  async mkdir(path: string, options?: MkdirOptions): Promise<void> {
    this.#readOnly(path, 'mkdir');
    return this.#base.mkdir(path, options);
  }

  async rm(path: string, options?: RmOptions): Promise<void> {
    this.#readOnly(path, 'rm');
    return this.#base.rm(path, options);
  }

  async cp(src: string, dest: string, options?: CpOptions): Promise<void> {
    this.#readOnly(dest, 'copyfile');
    if (this.#node(src) === undefined) return this.#base.cp(src, dest, options);
    return this.#base.writeFile(dest, await this.readFile(src));
  }

  async mv(src: string, dest: string): Promise<void> {
    this.#readOnly(src, 'rename');
    this.#readOnly(dest, 'rename');
    return this.#base.mv(src, dest);
  }

  resolvePath(base: string, path: string): string {
    return this.#base.resolvePath(base, path);
  }

  getAllPaths(): string[] {
    return this.#base.getAllPaths();
  }

  async chmod(path: string, mode: number): Promise<void> {
    this.#readOnly(path, 'chmod');
    return this.#base.chmod(path, mode);
  }

  async symlink(target: string, linkPath: string): Promise<void> {
    this.#readOnly(linkPath, 'symlink');
    return this.#base.symlink(target, linkPath);
  }

  async link(existingPath: string, newPath: string): Promise<void> {
    this.#readOnly(newPath, 'link');
    return this.#base.link(existingPath, newPath);
  }

  async readlink(path: string): Promise<string> {
    if (this.#node(path) !== undefined) throw new FsError(EPERM, 'readlink', path);
    return this.#base.readlink(path);
  }

  async realpath(path: string): Promise<string> {
    const node = this.#node(path);
    if (node === undefined) return this.#base.realpath(path);
    if (node === 'missing') throw new FsError(ENOENT, 'realpath', path);
    return path;
  }

  async utimes(path: string, atime: Date, mtime: Date): Promise<void> {
    this.#readOnly(path, 'utime');
    return this.#base.utimes(path, atime, mtime);
  }
}
