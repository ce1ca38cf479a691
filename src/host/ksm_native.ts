/**
 * The C helpers of `samepage kernel`, built into native/build by scripts/build-native.mjs:
 * samepage-exec-merge (prctl PR_SET_MEMORY_MERGE, then execvp) and samepage-inject-prctl
 * (makes a running process call that prctl, through ptrace). Where they are and how to run
 * the injector; the callers decide whom to act on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProcessKsmStat } from './ksm_stat.ts';
import { isKernelThread, readComm } from './procfs.ts';

export const EXEC_MERGE = 'samepage-exec-merge';
export const INJECT_PRCTL = 'samepage-inject-prctl';

/** native/build/NAME of the package holding this file (from src/ or dist/src/). */
export function nativeHelperPath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native')))
      return join(dir, 'native', 'build', name);
    const up = dirname(dir);
    if (up === dir) return join(process.cwd(), 'native', 'build', name);
    dir = up;
  }
}

/** Says how to build a missing helper, or undefined when it is there. */
export function missingHelper(path: string): string | undefined {
  return existsSync(path)
    ? undefined
    : `The helper ${path} is not built: run \`node scripts/build-native.mjs\` (needs a C compiler)`;
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

/** What happened to one process. */
export interface InjectOutcome {
  readonly pid: number;
  /** The injection ran: `result` is prctl's return (0 or -errno). */
  readonly ok: boolean;
  readonly result?: number;
  /** How the `syscall` instruction was found: rip-2, scan or patch (see inject-prctl.c). */
  readonly method?: string;
  /** Why it could not run (the process was left as it was, or is gone). */
  readonly error?: string;
}

/** Parses the helper's one line: `ok RESULT METHOD ADDRESS [note]` or `err MESSAGE`. */
export function parseInjectLine(pid: number, line: string): InjectOutcome {
  const ok = /^ok (-?\d+) (\S+) (\S+)(?: (\S+))?$/.exec(line.trim());
  if (ok?.[1] !== undefined && ok[2] !== undefined) {
    const method = ok[4] === undefined ? ok[2] : `${ok[2]} (${ok[4]})`;
    return { pid, ok: true, result: Number(ok[1]), method };
  }
  const err = /^err (.*)$/.exec(line.trim());
  return { pid, ok: false, error: err?.[1] ?? (line.trim() || 'the helper printed nothing') };
}

/** Makes process `pid` call prctl(PR_SET_MEMORY_MERGE, enable ? 1 : 0); synchronous, about a millisecond. */
export function injectMemoryMerge(
  pid: number,
  enable: boolean,
  helper = nativeHelperPath(INJECT_PRCTL),
): InjectOutcome {
  const r = spawnSync(helper, [String(pid), enable ? '1' : '0'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) return { pid, ok: false, error: `cannot run ${helper}: ${r.error.message}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith('ok ') || l.startsWith('err ')) ?? r.stderr.trim();
  return parseInjectLine(pid, line);
}

/** What happened to one process: the injection's outcome, its comm, and MERGE_ANY after it. */
export interface MergeReport extends InjectOutcome {
  readonly comm: string;
  readonly ksm_merge_any?: boolean;
}

/**
 * Makes each process call prctl(PR_SET_MEMORY_MERGE, enable ? 1 : 0). With `name`, a
 * process whose comm is no longer that name (renamed or replaced since it was listed) is
 * left alone; a kernel thread is refused (it has no user memory).
 */
export function setMemoryMerge(pids: readonly number[], enable: boolean, helper: string, name?: string): MergeReport[] {
  const reports: MergeReport[] = [];
  for (const pid of pids) {
    const comm = readComm(pid) ?? '?';
    if (name !== undefined && comm !== name) continue;
    const outcome: InjectOutcome = isKernelThread(pid)
      ? { pid, ok: false, error: 'a kernel thread: it has no user memory to merge' }
      : injectMemoryMerge(pid, enable, helper);
    const stat = readProcessKsmStat(pid);
    reports.push({ ...outcome, comm, ...(stat === undefined ? {} : { ksm_merge_any: stat.ksm_merge_any }) });
  }
  return reports;
}
