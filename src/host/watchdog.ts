/**
 * The watchdog of a journal (native/watchdog.c): a small process in a session of its own
 * that waits on its owner's pidfd and, if the owner dies with changes still journaled, runs
 * `samepage kernel recover --journal FILE`. It exits by itself once the owner deletes the
 * journal, so a run that ends normally leaves no process behind.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../lib/package_root.ts';
import type { ProcessIdentity } from './journal.ts';
import { missingHelper, nativeHelperPath } from './ksm_native.ts';

export const WATCHDOG = 'samepage-watchdog';

/** The `samepage` command of this package (bin/samepage.js), which the watchdog runs to recover. */
export function samepageBin(): string {
  return join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'bin', 'samepage.js');
}

/**
 * Starts the watchdog of `journal` for `owner`; returns its pid, or why it could not (the
 * helper is not built): the changes are then recovered by the next samepage command only.
 */
export function startWatchdog(
  journal: string,
  owner: ProcessIdentity,
  helper = nativeHelperPath(WATCHDOG),
): number | string {
  const missing = missingHelper(helper);
  if (missing !== undefined) return missing;
  const bin = samepageBin();
  if (!existsSync(bin)) return `${bin} is missing`;
  const child = spawn(
    helper,
    [
      String(owner.pid),
      owner.start_time,
      journal,
      process.execPath,
      bin,
      'kernel',
      'recover',
      '--journal',
      journal,
      '--by',
      'watchdog',
    ],
    // Its own session: a terminal's Ctrl-C or hang-up does not reach it. stderr is the
    // owner's, so the recovery's report lands where the owner's messages did.
    { detached: true, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  child.on('error', () => undefined);
  child.unref();
  return child.pid ?? `cannot start ${helper}`;
}
