/**
 * The C helpers of `samepage kernel`, built into native/build by scripts/build-native.mjs:
 * samepage-exec-merge (prctl PR_SET_MEMORY_MERGE, then execvp), samepage-inject-syscall
 * (makes a running process call prctl or madvise, through ptrace: inject.ts) and
 * samepage-watchdog (watchdog.ts). Where they are, and whether this process may ptrace.
 */
import { existsSync, readFileSync } from 'node:fs';
import { packageRoot } from '../lib/package_root.ts';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostUnusable } from './unusable.ts';

export const EXEC_MERGE = 'samepage-exec-merge';

/** native/build/NAME of the package holding this file (from src/ or dist/src/). */
export function nativeHelperPath(name: string): string {
  return join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'native', 'build', name);
}

/** Says how to build a missing helper, or undefined when it is there. */
export function missingHelper(path: string): string | undefined {
  return existsSync(path)
    ? undefined
    : `The helper ${path} is not built: run \`node scripts/build-native.mjs\` (needs a C compiler)`;
}

/** The path of helper `name`, or HostUnusable saying how to build it. */
export function requireHelper(name: string): string {
  const path = nativeHelperPath(name);
  const missing = missingHelper(path);
  if (missing !== undefined) throw new HostUnusable(missing);
  return path;
}

/** Throws HostUnusable, naming `command`, when this process may not ptrace others. */
export function requirePtrace(command: string): void {
  const refusal = ptraceRefusal();
  if (refusal !== undefined) throw new HostUnusable(`${command} ${refusal}`);
}

/** Why this process may not ptrace others, or undefined: root, or CAP_SYS_PTRACE in effect. */
export function ptraceRefusal(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, not ${process.platform}`;
  if (process.arch !== 'x64') return `the injector supports x86-64 only, not ${process.arch}`;
  if (process.getuid?.() === 0) return undefined;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    // CAP_SYS_PTRACE is capability 19.
    if (m?.[1] !== undefined && (BigInt(`0x${m[1]}`) & (1n << 19n)) !== 0n) return undefined;
  } catch {
    // fall through
  }
  return 'needs root (or CAP_SYS_PTRACE): it attaches to other processes with ptrace and writes their registers';
}

/** The Yama LSM's ptrace_scope (0-3), or undefined when Yama is not there. */
export function ptraceScope(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim());
  } catch {
    return undefined;
  }
}
