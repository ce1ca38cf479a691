/**
 * Input files of the command line (scenarios, snapshots, scripts): regular files only, read
 * within a bound, with every refusal said in words. A device (`/dev/zero` never ends), a FIFO
 * (opening it waits for a writer), a socket or a directory is refused before it is read, so
 * no input can make samepage read for ever or block; a file over the caller's limit is
 * refused by its size, before a byte is read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { formatBytes } from './sizes.ts';

/** Why a file could not be opened, in words, for the usual error codes. */
const OPEN_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'the file does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'the path has too many symbolic links (a loop?)',
  ENAMETOOLONG: 'the path is too long',
  ENXIO: 'it is a socket or a device with nothing behind it',
  EMFILE: 'too many files are open',
};

/** What a non-regular file is, for the message that refuses it. */
function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The reason an error of node:fs gives, in words where its code is known. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code === undefined ? undefined : OPEN_ERRORS[code]) ?? (e instanceof Error ? e.message : String(e));
}

export type OpenedInput =
  | { readonly ok: true; readonly fd: number; readonly size: number }
  | { readonly ok: false; readonly problem: string };

/**
 * Opens `path` for reading if it is a regular file of at most `maxBytes` (default: any size).
 * `what` names it in messages ("scenario file"). The caller closes the descriptor.
 */
export function openInputFile(path: string, what: string, maxBytes = Number.POSITIVE_INFINITY): OpenedInput {
  const refuse = (why: string): OpenedInput => ({ ok: false, problem: `Cannot read ${what} "${path}": ${why}` });
  // stat first, so a device or FIFO is never opened (opening a FIFO waits for a writer).
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    return refuse(describeFsError(e));
  }
  const kind = kindOf(st);
  if (kind !== undefined) return refuse(`it is ${kind}; only regular files are read`);
  let fd: number;
  try {
    // O_NONBLOCK and O_NOCTTY: should the path have become a FIFO or a terminal since the stat.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return refuse(describeFsError(e));
  }
  const st2 = fstatSync(fd);
  const kind2 = kindOf(st2);
  const problem =
    kind2 !== undefined
      ? `it is ${kind2}; only regular files are read`
      : st2.size > maxBytes
        ? `it holds ${st2.size} bytes, and samepage reads at most ${maxBytes} (${formatBytes(maxBytes)})`
        : undefined;
  if (problem !== undefined) {
    closeSync(fd);
    return refuse(problem);
  }
  return { ok: true, fd, size: st2.size };
}

/** Reads `length` bytes at `position` of `fd` into `buf` (from `offset`); fewer only at the end of the file. */
export function readFully(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export type ReadInput =
  | { readonly ok: true; readonly bytes: Buffer }
  | { readonly ok: false; readonly problem: string };

/**
 * The whole of a regular file of at most `maxBytes`. A file that grows while it is read is
 * refused too: never more than `maxBytes` (+1, to notice) is read.
 */
export function readInputFile(path: string, what: string, maxBytes: number): ReadInput {
  const opened = openInputFile(path, what, maxBytes);
  if (!opened.ok) return opened;
  try {
    // A pseudo-file (/proc/self/status) says it holds 0 bytes: read it until its end.
    let buf = Buffer.allocUnsafe(Math.min(opened.size > 0 ? opened.size : 64 * 1024, maxBytes) + 1);
    let n = readFully(opened.fd, buf, 0, buf.length, 0);
    while (n === buf.length && n <= maxBytes) {
      const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxBytes + 1));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
      n += readFully(opened.fd, buf, n, buf.length - n, n);
      if (buf.length === maxBytes + 1) break;
    }
    if (n > maxBytes) {
      return {
        ok: false,
        problem: `Cannot read ${what} "${path}": it grew past the ${maxBytes} bytes (${formatBytes(maxBytes)}) samepage reads while it was read`,
      };
    }
    return { ok: true, bytes: buf.subarray(0, n) };
  } catch (e) {
    return { ok: false, problem: `Cannot read ${what} "${path}": ${describeFsError(e)}` };
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * Whether writing `output` would replace one of `inputs` (the same file by path, link or
 * hard link). An output that does not exist yet replaces nothing.
 */
export function overwritesInput(output: string, inputs: readonly string[]): string | undefined {
  let out: Stats;
  try {
    out = statSync(output);
  } catch {
    return undefined;
  }
  for (const input of inputs) {
    try {
      const st = statSync(input);
      if (st.dev === out.dev && st.ino === out.ino) return input;
      if (realpathSync(input) === realpathSync(output)) return input;
    } catch {
      /* an input that cannot be stat'ed is not the output */
    }
  }
  return undefined;
}
