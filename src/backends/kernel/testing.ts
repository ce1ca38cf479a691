/**
 * Helpers for tests and tools that drive the kernel backend directly, without a scenario
 * file: why it cannot run here, and a bare Scenario to start it with.
 */
import { existsSync } from 'node:fs';
import type { Scenario } from '../../scenario/types.ts';
import { defaultAgentPath } from './agent.ts';
import { findKsmUsers } from './procfs.ts';
import { checkKsmWritable, KSM_DIR } from './sysfs.ts';
import { LOCK_DIR, tryLock, unlock } from './guard.ts';

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
