/**
 * Linux x86_64 errno values (include/uapi/asm-generic/errno-base.h and errno.h): the one
 * table of names, numbers and the C library's messages. The model returns `-errno` as the
 * kernel does, scenario files name an error (`errno: EBUSY`), reports and the live-machine
 * tools print a name or a message: all of them read this table. Only the names a sysfs
 * store, madvise, prctl, a /proc read or a ptrace injection can plausibly return are listed;
 * an unknown number is shown as a number.
 */

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EIO = 5;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ERANGE = 34;

/** Name, number and strerror(3) text (glibc's, as bash prints it after a failed write). */
const ERRNOS: ReadonlyArray<readonly [name: string, value: number, message: string]> = [
  ['EPERM', EPERM, 'Operation not permitted'],
  ['ENOENT', ENOENT, 'No such file or directory'],
  ['ESRCH', ESRCH, 'No such process'],
  ['EINTR', 4, 'Interrupted system call'],
  ['EIO', EIO, 'Input/output error'],
  ['ENXIO', 6, 'No such device or address'],
  ['E2BIG', 7, 'Argument list too long'],
  ['ENOEXEC', 8, 'Exec format error'],
  ['EBADF', 9, 'Bad file descriptor'],
  ['ECHILD', 10, 'No child processes'],
  ['EAGAIN', 11, 'Resource temporarily unavailable'],
  ['ENOMEM', ENOMEM, 'Cannot allocate memory'],
  ['EACCES', EACCES, 'Permission denied'],
  ['EFAULT', EFAULT, 'Bad address'],
  ['ENOTBLK', 15, 'Block device required'],
  ['EBUSY', EBUSY, 'Device or resource busy'],
  ['EEXIST', 17, 'File exists'],
  ['EXDEV', 18, 'Invalid cross-device link'],
  ['ENODEV', 19, 'No such device'],
  ['ENOTDIR', ENOTDIR, 'Not a directory'],
  ['EISDIR', EISDIR, 'Is a directory'],
  ['EINVAL', EINVAL, 'Invalid argument'],
  ['ENFILE', 23, 'Too many open files in system'],
  ['EMFILE', 24, 'Too many open files'],
  ['ENOTTY', 25, 'Inappropriate ioctl for device'],
  ['ETXTBSY', 26, 'Text file busy'],
  ['EFBIG', 27, 'File too large'],
  ['ENOSPC', 28, 'No space left on device'],
  ['ESPIPE', 29, 'Illegal seek'],
  ['EROFS', 30, 'Read-only file system'],
  ['EMLINK', 31, 'Too many links'],
  ['EPIPE', 32, 'Broken pipe'],
  ['EDOM', 33, 'Numerical argument out of domain'],
  ['ERANGE', ERANGE, 'Numerical result out of range'],
  ['EDEADLK', 35, 'Resource deadlock avoided'],
  ['ENAMETOOLONG', 36, 'File name too long'],
  ['ENOLCK', 37, 'No locks available'],
  ['ENOSYS', 38, 'Function not implemented'],
  ['ENOTEMPTY', 39, 'Directory not empty'],
  ['ELOOP', 40, 'Too many levels of symbolic links'],
  ['EOVERFLOW', 75, 'Value too large for defined data type'],
  ['EOPNOTSUPP', 95, 'Operation not supported'],
  ['ETIMEDOUT', 110, 'Connection timed out'],
  ['EHWPOISON', 133, 'Memory page has hardware error'],
];

/** Aliases Linux defines to the same number; the canonical name is the one shown. */
const ERRNO_ALIASES: ReadonlyMap<string, string> = new Map([
  ['EWOULDBLOCK', 'EAGAIN'],
  ['EDEADLOCK', 'EDEADLK'],
  ['ENOTSUP', 'EOPNOTSUPP'],
]);

const BY_NAME: ReadonlyMap<string, number> = new Map(ERRNOS.map(([name, value]) => [name, value]));
const BY_NUMBER: ReadonlyMap<number, readonly [string, number, string]> = new Map(ERRNOS.map((e) => [e[1], e]));

/** The positive errno number of a name such as `EBUSY` (or an alias), or undefined if unknown. */
export function errnoNumber(name: string): number | undefined {
  return BY_NAME.get(ERRNO_ALIASES.get(name) ?? name);
}

/** The name of an errno number, given as `16` or `-16` (`EBUSY`), or undefined if unknown. */
export function errnoName(value: number): string | undefined {
  return BY_NUMBER.get(Math.abs(value))?.[0];
}

/** The name of an errno number (either sign), or `errno N` when the table does not know it. */
export function describeErrno(value: number): string {
  return errnoName(value) ?? `errno ${Math.abs(value)}`;
}

/** strerror(3) of an errno number (either sign), as glibc words it: `Invalid argument`. */
export function strerror(value: number): string {
  return BY_NUMBER.get(Math.abs(value))?.[2] ?? `Unknown error ${Math.abs(value)}`;
}

/**
 * How a kernel-style return value reads in a report: `success` for 0 and above, the errno
 * name for a known -errno, the number itself otherwise.
 */
export function describeReturn(result: number): string {
  if (result >= 0) return 'success';
  return errnoName(result) ?? String(result);
}

/** Every errno name this table knows, aliases included, for messages and schemas. */
export function errnoNames(): string[] {
  return [...BY_NAME.keys(), ...ERRNO_ALIASES.keys()];
}
