/**
 * Helpers for tests and tools that drive the kernel backend directly, without a scenario
 * file: why it cannot run here, and a bare Scenario to start it with.
 */
import { existsSync } from 'node:fs';
import type { Scenario } from '../../scenario/types.ts';
import { defaultAgentPath } from './agent.ts';
import { findKsmUsers } from './procfs.ts';
import { checkKsmWritable, KSM_DIR } from './sysfs.ts';

/** Why the kernel backend cannot run on this machine, or undefined when it can. */
export function kernelSkipReason(agentPath = defaultAgentPath()): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!existsSync(KSM_DIR)) return `${KSM_DIR} is missing`;
  try {
    checkKsmWritable();
  } catch {
    return `${KSM_DIR} is not writable`;
  }
  if (!existsSync(agentPath)) return `the agent ${agentPath} is not built (node scripts/build-native.mjs)`;
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
