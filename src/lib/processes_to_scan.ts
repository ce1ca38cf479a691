/**
 * The one rule for writes to a processes_to_scan file, KSM+'s (/sys/kernel/mm/ksm+) and the
 * statistics module's (/sys/kernel/mm/parser): the thesis's `sscanf(buf, "%c %s", ...)`
 * with its sharp edges made explicit.
 *
 * A write is a sign, `+` (scan this program) or `-` (stop), then the program's name: the
 * rest of the write after any blanks that follow the sign, without the trailing newline
 * (echo adds one) and trailing blanks. Blanks inside the name are kept, since a comm may hold
 * them (Firefox's "Web Content"): `+  two` names "two", `+ a b` names "a b", `+okular` names
 * "okular". No sign, an empty name or a name longer than a comm (15 bytes, TASK_COMM_LEN - 1)
 * is invalid. The thesis's sscanf would also accept `+ a b` but keep only "a", and would
 * copy a name of any length.
 */
import { TASK_COMM_LEN } from './comm.ts';

export interface ScanWrite {
  readonly add: boolean;
  readonly name: string;
}

/** The sign and name of a write, or undefined when the write is invalid (the file says EINVAL). */
export function parseProcessesToScan(value: string): ScanWrite | undefined {
  const m = /^([+-])[ \t]*(.*?)[ \t]*\n?$/s.exec(value);
  if (m === null) return undefined;
  const name = m[2]!;
  if (name.length === 0 || name.includes('\n') || Buffer.byteLength(name, 'utf8') >= TASK_COMM_LEN) return undefined;
  return { add: m[1] === '+', name };
}
