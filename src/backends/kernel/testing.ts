/**
 * Helpers for tests and tools that drive the kernel backend directly, without a scenario
 * file: why it cannot run here, and a bare Scenario to start it with.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Scenario } from '../../scenario/types.ts';
import { defaultAgentPath } from './agent.ts';
import { findKsmUsers } from './procfs.ts';
import { checkKsmWritable, KSM_DIR, restorableValue, restoreKsm, saveKsm, type SavedFile } from './sysfs.ts';
import { LOCK_DIR, LockHeld, MachineGuard, tryLock, unlock } from './guard.ts';

/**
 * Why the kernel backend cannot run on this machine, or undefined when it can. `machineOnly`
 * leaves out the check for other KSM users, which may be a run that is about to finish.
 */
export function kernelSkipReason(machineOnly = false, agentPath = defaultAgentPath()): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync(KSM_DIR)) return `${KSM_DIR} is missing`;
  try {
    checkKsmWritable();
  } catch {
    return `${KSM_DIR} is not writable`;
  }
  if (!existsSync(agentPath)) return `the agent ${agentPath} is not built (node scripts/build-native.mjs)`;
  if (machineOnly) return undefined;
  const users = findKsmUsers(new Set([process.pid]));
  if (users.length > 0) return `other processes use KSM: ${users.map((u) => `${u.pid} ${u.comm}`).join(', ')}`;
  return undefined;
}

/** A scenario with no steps: the backend is then driven call by call. */
export function bareScenario(name: string, ksm: ReadonlyArray<readonly [string, string]> = []): Scenario {
  return {
    version: 1,
    name,
    description: undefined,
    machine: { ram: 1 << 30, numaNodes: 1 },
    ksm,
    steps: [],
    stepLines: [],
  };
}

/**
 * Serialises whole test files that use the live KSM across processes (a test runner may run
 * files in parallel), so before/after comparisons of sysfs see no other run's values.
 * Resolves to the release function.
 */
export async function holdKernelTestLock(waitMs = 300_000): Promise<() => void> {
  const path = `${LOCK_DIR}/samepage-ksm-tests.lock`;
  const deadline = performance.now() + waitMs;
  for (;;) {
    const holder = tryLock(path);
    if (holder === undefined) return () => unlock(path);
    if (performance.now() > deadline) throw new Error(`Kernel tests of pid ${holder} still hold ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Takes the samepage KSM lock, waiting for another run to finish; resolves to its release. */
export async function takeKsmLock(): Promise<() => void> {
  const guard = new MachineGuard({ killAgents: () => undefined, onWarning: () => undefined });
  for (let waited = 0; ; waited += 200) {
    try {
      guard.lock();
      return () => guard.release();
    } catch (err) {
      if (!(err instanceof LockHeld) || waited > 600_000) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** Saves every writable KSM file under the lock; `restore` puts them back under the lock (run=2 first). */
export async function saveKsmValues(): Promise<{ saved: SavedFile[]; restore: () => Promise<string[]> }> {
  const unlock = await takeKsmLock();
  let saved: SavedFile[];
  try {
    saved = saveKsm();
  } finally {
    unlock();
  }
  return {
    saved,
    restore: async () => {
      const again = await takeKsmLock();
      try {
        // run=2 first, then every saved value; skipped when nothing differs, since run=2
        // unmerges every process on the machine.
        const changed = saved.filter((s) => restorableValue(readFileSync(s.path, 'utf8')) !== s.value);
        return changed.length === 0 ? [] : restoreKsm(saved);
      } finally {
        again();
      }
    },
  };
}
