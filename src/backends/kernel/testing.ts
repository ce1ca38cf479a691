/**
 * Helpers for tests and tools that drive the kernel backend directly, without a scenario
 * file: why it cannot run here, and a bare Scenario to start it with.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Scenario } from '../../scenario/types.ts';
import { defaultAgentPath } from './agent.ts';
import { holdKernelTestLock, takeKsmLock } from '../../host/ksm_lock.ts';
import { findKsmUsers } from '../../host/ksm_stat.ts';
import {
  KSM_DIR,
  ksmUnusableReason,
  readSysfs,
  restorableValue,
  restoreKsm,
  saveKsm,
  writableKsmFiles,
  type SavedFile,
} from '../../host/ksm_sysfs.ts';
import { pidsRunning } from '../../host/procfs.ts';

export { holdKernelTestLock, takeKsmLock };

/**
 * Why the kernel backend cannot run on this machine, or undefined when it can. `machineOnly`
 * leaves out the check for other KSM users, which may be a run that is about to finish.
 */
export function kernelSkipReason(machineOnly = false, agentPath = defaultAgentPath()): string | undefined {
  const machine = ksmUnusableReason();
  if (machine !== undefined) return machine;
  if (!existsSync(agentPath)) return `the agent ${agentPath} is not built (node scripts/build-native.mjs)`;
  if (machineOnly) return undefined;
  const users = findKsmUsers(new Set([process.pid]));
  if (users.length > 0) return `other processes use KSM: ${users.map((u) => `${u.pid} ${u.comm}`).join(', ')}`;
  return undefined;
}

/** Every writable /sys/kernel/mm/ksm file and its text, for before/after comparisons. */
export function snapshotKsm(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const f of writableKsmFiles()) out[f] = readSysfs(`${KSM_DIR}/${f}`);
  return out;
}

/**
 * The KSM files while no samepage run holds KSM (a run that does restores them first), as
 * text and as values to restore: a before/after comparison that other runs cannot upset.
 */
export async function settledKsm(): Promise<{ text: Record<string, string | undefined>; saved: SavedFile[] }> {
  const release = await takeKsmLock();
  try {
    return { text: snapshotKsm(), saved: saveKsm() };
  } finally {
    release();
  }
}

/** Live (not zombie) processes running the agent binary, however they were started. */
export function liveAgents(agentPath = defaultAgentPath()): number[] {
  return pidsRunning(agentPath);
}

/**
 * kernelSkipReason, giving other KSM users up to `waitMs` to go away first: they are
 * usually another samepage run about to finish (its agents).
 */
export async function kernelSkipReasonAfterWait(waitMs = 60_000): Promise<string | undefined> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const reason = kernelSkipReason();
    if (reason === undefined || performance.now() > deadline) return reason;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
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
 * For a test file that uses the live KSM: why this machine cannot run it, or undefined,
 * in which case the kernel tests' lock is taken for the rest of the process (released
 * when it exits), so two runs never interleave their before/after views of sysfs.
 */
export async function holdKernelTestLockForFile(): Promise<string | undefined> {
  const machineSkip = kernelSkipReason(true);
  if (machineSkip === undefined) {
    const release = await holdKernelTestLock();
    process.on('exit', release);
  }
  return machineSkip;
}

/**
 * Why a differential test file cannot run here, or undefined; when it can, the kernel tests'
 * lock is held until the process exits (other kernel test files compare sysfs before and
 * after their runs, which a diff in between would upset). Other KSM users may be another
 * samepage run about to finish (its agents), so they get a minute to go away first.
 */
export async function differentialSkipReason(): Promise<string | undefined> {
  const machine = kernelSkipReason(true);
  if (machine !== undefined) return machine;
  const release = await holdKernelTestLock();
  process.on('exit', release);
  return kernelSkipReasonAfterWait();
}

/** Saves every writable KSM file under the lock; `restore` puts them back under the lock (restoreKsm's order). */
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
        // Skipped when nothing differs: restoreKsm writes run back even when it holds its value.
        const changed = saved.filter((s) => restorableValue(readSysfs(s.path) ?? '') !== s.value);
        return changed.length === 0 ? [] : restoreKsm(saved);
      } finally {
        again();
      }
    },
  };
}

/**
 * An agent outside any backend with one mergeable page: a stand-in for another KSM user on
 * the machine, which the kernel backend must refuse to run beside. `stop` kills it.
 */
export async function startKsmOutsider(comm: string): Promise<{ pid: number; stop: () => Promise<void> }> {
  const outsider = spawn(defaultAgentPath(), ['--comm', comm], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => outsider.once('exit', resolve));
  const stop = async (): Promise<void> => {
    outsider.kill('SIGKILL');
    await exited;
  };
  try {
    const lines = (async function* () {
      let buf = '';
      for await (const chunk of outsider.stdout) {
        buf += String(chunk);
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          yield buf.slice(0, i);
          buf = buf.slice(i + 1);
        }
      }
    })();
    const next = async (): Promise<string> => (await lines.next()).value ?? '';
    const ready = await next();
    if (!ready.startsWith('ready ')) throw new Error(`The outsider agent did not start: ${ready}`);
    outsider.stdin.write('mmap 4096 0 -1\n');
    const address = (await next()).slice(3);
    outsider.stdin.write(`madvise 0x${address} 4096 12\n`);
    const advised = await next();
    if (advised !== 'ok 0') throw new Error(`The outsider agent's madvise failed: ${advised}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: outsider.pid ?? 0, stop };
}
