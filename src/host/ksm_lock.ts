/**
 * The samepage KSM lock: KSM's settings and counters are global to the machine, so two
 * samepage runs that change them (a kernel-backend run, `kernel exec --run`, a test) must
 * not overlap. A pid file under /run/lock (or /tmp), taken over when its holder died.
 */
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isAlive, readComm } from './procfs.ts';
import { HostUnusable } from './unusable.ts';

export const LOCK_DIR = existsSync('/run/lock') ? '/run/lock' : '/tmp';
export const KSM_LOCK_PATH = `${LOCK_DIR}/samepage-ksm.lock`;
/** Serialises whole test files that use the live KSM (see holdKernelTestLock). */
const KSM_TESTS_LOCK_PATH = `${LOCK_DIR}/samepage-ksm-tests.lock`;

/** Another samepage run holds the KSM lock (worth waiting for, unlike other refusals). */
export class KsmLockHeld extends Error {
  override readonly name = 'KsmLockHeld';
  readonly holder: number;

  constructor(holder: number) {
    super(
      isPlusDaemon(holder)
        ? `samepage plus, the KSM+ daemon (pid ${holder}), is running and holds samepage's KSM lock: it decides ` +
            `what KSM merges in the programs it selected, so this run cannot use KSM beside it (lock ${KSM_LOCK_PATH})`
        : `Another samepage kernel run (pid ${holder}, ${readComm(holder) ?? '?'}) is using KSM; ` +
            `its counters are global, so runs cannot overlap (lock ${KSM_LOCK_PATH})`,
    );
    this.holder = holder;
  }
}

/** Whether `pid` runs `samepage plus` (its command line names the plus command). */
function isPlusDaemon(pid: number): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((a, i) => a.endsWith('samepage-plus.js') || (a.endsWith('samepage.js') && args[i + 1] === 'plus'));
  } catch {
    return false;
  }
}

/**
 * A pid lock file: undefined when taken, else the live holder's pid. The file appears with
 * its content (written aside, then hard-linked into place), so a reader never sees it
 * empty; a lock whose holder died is taken over.
 */
export function tryLock(path: string): number | undefined {
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, path);
        return undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readHolder(path);
      if (holder !== undefined && isAlive(holder)) return holder;
      // Left by a run that died without cleaning up; re-read so as not to drop a new holder's.
      if (readHolder(path) === holder) rmSync(path, { force: true });
    }
    return readHolder(path) ?? -1;
  } finally {
    rmSync(mine, { force: true });
  }
}

/** The KSM+ daemon (`samepage plus`) holding the samepage KSM lock, or undefined when it does not run. */
export function plusDaemonHolder(): number | undefined {
  const holder = readHolder(KSM_LOCK_PATH);
  return holder !== undefined && isAlive(holder) && isPlusDaemon(holder) ? holder : undefined;
}

/** Throws HostUnusable while the KSM+ daemon runs: it decides what KSM merges in its programs. */
export function refuseBesidePlusDaemon(): void {
  const pid = plusDaemonHolder();
  if (pid !== undefined)
    throw new HostUnusable(`${new KsmLockHeld(pid).message}. Stop it, or give it the program: samepage plus add NAME`);
}

/** Drops a lock this process holds (and only then). */
export function unlock(path: string): void {
  if (readHolder(path) === process.pid) rmSync(path, { force: true });
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the samepage KSM lock now, or throws KsmLockHeld naming the holder. */
export function lockKsm(): void {
  const holder = tryLock(KSM_LOCK_PATH);
  if (holder !== undefined) throw new KsmLockHeld(holder);
}

/** Drops the samepage KSM lock if this process holds it. */
export function unlockKsm(): void {
  unlock(KSM_LOCK_PATH);
}

/**
 * Takes `path`, waiting up to `waitMs` for its holder to finish (polling every `pollMs`);
 * `onWait` hears once that it waits, with the holder. Resolves to the release function;
 * rejects with KsmLockHeld-like news when the wait runs out.
 */
async function waitForLock(
  path: string,
  waitMs: number,
  pollMs: number,
  onWait: ((holder: number) => void) | undefined,
): Promise<number | undefined> {
  const deadline = performance.now() + waitMs;
  let told = false;
  for (;;) {
    const holder = tryLock(path);
    if (holder === undefined) return undefined;
    if (performance.now() >= deadline) return holder;
    if (!told) onWait?.(holder);
    told = true;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Takes the samepage KSM lock, waiting up to `waitMs` (default 10 minutes) for another run
 * to finish; `onWait` is told once, with the reason, when it has to wait. Resolves to the
 * release; throws KsmLockHeld when the wait runs out.
 */
export async function takeKsmLock(waitMs = 600_000, onWait?: (why: KsmLockHeld) => void): Promise<() => void> {
  const holder = await waitForLock(KSM_LOCK_PATH, waitMs, 200, (h) => onWait?.(new KsmLockHeld(h)));
  if (holder !== undefined) throw new KsmLockHeld(holder);
  return unlockKsm;
}

/**
 * Serialises whole test files that use the live KSM across processes (a test runner may run
 * files in parallel), so before/after comparisons of sysfs see no other run's values.
 * Resolves to the release function.
 */
export async function holdKernelTestLock(waitMs = 300_000): Promise<() => void> {
  const holder = await waitForLock(KSM_TESTS_LOCK_PATH, waitMs, 200, undefined);
  if (holder !== undefined) throw new Error(`Kernel tests of pid ${holder} still hold ${KSM_TESTS_LOCK_PATH}`);
  return () => unlock(KSM_TESTS_LOCK_PATH);
}
