/**
 * Linux x86_64 errno values, so scenario files can name an error (`errno: EBUSY`) while
 * backends return `-errno` numbers as the kernel does (include/uapi/asm-generic/errno-base.h
 * and errno.h). Only the names a sysfs store, madvise or prctl can plausibly return are
 * listed; an unknown number is shown as its negative value.
 */

const ERRNO_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['EPERM', 1],
  ['ENOENT', 2],
  ['ESRCH', 3],
  ['EINTR', 4],
  ['EIO', 5],
  ['ENXIO', 6],
  ['E2BIG', 7],
  ['ENOEXEC', 8],
  ['EBADF', 9],
  ['ECHILD', 10],
  ['EAGAIN', 11],
  ['ENOMEM', 12],
  ['EACCES', 13],
  ['EFAULT', 14],
  ['ENOTBLK', 15],
  ['EBUSY', 16],
  ['EEXIST', 17],
  ['EXDEV', 18],
  ['ENODEV', 19],
  ['ENOTDIR', 20],
  ['EISDIR', 21],
  ['EINVAL', 22],
  ['ENFILE', 23],
  ['EMFILE', 24],
  ['ENOTTY', 25],
  ['ETXTBSY', 26],
  ['EFBIG', 27],
  ['ENOSPC', 28],
  ['ESPIPE', 29],
  ['EROFS', 30],
  ['EMLINK', 31],
  ['EPIPE', 32],
  ['EDOM', 33],
  ['ERANGE', 34],
  ['EDEADLK', 35],
  ['ENAMETOOLONG', 36],
  ['ENOLCK', 37],
  ['ENOSYS', 38],
  ['ENOTEMPTY', 39],
  ['ELOOP', 40],
  ['EOVERFLOW', 75],
  ['EOPNOTSUPP', 95],
  ['ETIMEDOUT', 110],
  ['EHWPOISON', 133],
]);

/** Aliases Linux defines to the same number; the canonical name is the one shown. */
const ERRNO_ALIASES: ReadonlyMap<string, string> = new Map([
  ['EWOULDBLOCK', 'EAGAIN'],
  ['EDEADLOCK', 'EDEADLK'],
  ['ENOTSUP', 'EOPNOTSUPP'],
]);

const ERRNO_BY_NUMBER: ReadonlyMap<number, string> = new Map([...ERRNO_BY_NAME].map(([name, value]) => [value, name]));

/** The positive errno number of a name such as `EBUSY`, or undefined if it is not known. */
export function errnoNumber(name: string): number | undefined {
  return ERRNO_BY_NAME.get(ERRNO_ALIASES.get(name) ?? name);
}

/** The name of a positive errno number (`16` -> `EBUSY`), or undefined if it is not known. */
export function errnoName(value: number): string | undefined {
  return ERRNO_BY_NUMBER.get(value);
}

/**
 * How a kernel-style return value reads in a report: `success` for 0 and above, the errno
 * name for a known -errno, the number itself otherwise.
 */
export function describeReturn(result: number): string {
  if (result >= 0) return 'success';
  return errnoName(-result) ?? String(result);
}

/** Every errno name this table knows, aliases included, for messages and schemas. */
export function errnoNames(): string[] {
  return [...ERRNO_BY_NAME.keys(), ...ERRNO_ALIASES.keys()];
}
