/**
 * What the kernel keeps of a process name: task->comm holds TASK_COMM_LEN - 1 = 15 bytes and
 * a NUL, and a longer name (a program's file name, PR_SET_NAME) is cut, so "epiphany-browser"
 * runs as "epiphany-browse". The model's tasks, KSM+'s processes_to_scan and the live
 * lookups by name (src/host/targets.ts) all compare names through this rule.
 */

/** TASK_COMM_LEN: a comm holds 15 bytes and a NUL. */
export const TASK_COMM_LEN = 16;

/** The comm as the kernel stores it: cut to TASK_COMM_LEN - 1 bytes. */
export function kernelComm(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length < TASK_COMM_LEN ? name : bytes.subarray(0, TASK_COMM_LEN - 1).toString('utf8');
}

/**
 * The comms of `names` (kernelComm) found among `present`: a name that matches nothing is
 * told through `warn`, and when none matches at all it throws, naming what `where` holds,
 * since a table of zeros would read as "no duplicates" rather than "wrong name".
 */
export function selectComms(
  names: readonly string[],
  present: Iterable<string>,
  where: string,
  warn: (message: string) => void,
): Set<string> {
  const known = [...new Set(present)];
  const wanted = new Set(names.map(kernelComm));
  const missing = [...wanted].filter((n) => !known.includes(n));
  const holds = `its processes: ${known.join(', ') || 'none'}`;
  if (missing.length === wanted.size)
    throw new Error(`No process of comm ${missing.map((n) => `"${n}"`).join(', ')} in ${where} (${holds})`);
  for (const name of missing) warn(`No process of comm "${name}" in ${where} (${holds})`);
  return wanted;
}
