/**
 * The ptrace system-call injector, native/inject-syscall.c (samepage-inject-syscall): makes a
 * running process execute prctl(PR_SET_MEMORY_MERGE / PR_GET_MEMORY_MERGE) or
 * madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) itself, since both act on the caller only. Its
 * header documents how, what it refuses and the risks; this file builds its command line and
 * reads its answer. Several calls share one stop of the target.
 */
import { spawnSync } from 'node:child_process';
import { nativeHelperPath } from './ksm_native.ts';
import { readComm, sleepSync, statusField } from './procfs.ts';

export const INJECT_SYSCALL = 'samepage-inject-syscall';

/** prctl options the injector accepts (include/uapi/linux/prctl.h). */
export const PR_SET_MEMORY_MERGE = 67;
export const PR_GET_MEMORY_MERGE = 68;
/** madvise advice the injector accepts (include/uapi/asm-generic/mman-common.h). */
export const MADV_MERGEABLE = 12;
export const MADV_UNMERGEABLE = 13;

/** One system call for the target to make. */
export type InjectedCall =
  | { readonly call: 'prctl'; readonly option: typeof PR_SET_MEMORY_MERGE; readonly arg: 0 | 1 }
  | { readonly call: 'prctl'; readonly option: typeof PR_GET_MEMORY_MERGE; readonly arg: 0 }
  | {
      readonly call: 'madvise';
      readonly address: number;
      readonly length: number;
      readonly advice: typeof MADV_MERGEABLE | typeof MADV_UNMERGEABLE;
    };

/** What one call returned: its result (a value or -errno) and how the `syscall` was found. */
export interface CallResult {
  readonly result: number;
  /** rip-2, scan or patch (see inject-syscall.c), with a note such as seccomp-trap. */
  readonly method: string;
}

/**
 * The injector's answer: one result per call that ran, in order; `error` when the rest did
 * not, `final` when trying again cannot help (another process or program has the pid now,
 * or seccomp forbids the calls); `pauseNs` how long the target was held, when it was.
 */
export interface InjectAnswer {
  readonly results: readonly CallResult[];
  readonly error?: string;
  readonly final?: true;
  readonly pauseNs?: number;
}

/** Conditions the injector checks in the target before it makes any call. */
export interface InjectGuard {
  /** Field 22 of /proc/PID/stat: a reused pid is refused. */
  readonly start?: string;
  /** The comm the target must still have: a program that exec'd another is refused. */
  readonly comm?: string;
  /** Refuse unless seccomp allows every call (else only filters that would kill or wait are refused). */
  readonly allowedOnly?: boolean;
}

/** The injector's options for a guard, before the pid. */
export function guardArgs(guard: InjectGuard | undefined): string[] {
  if (guard === undefined) return [];
  return [
    ...(guard.start === undefined ? [] : ['--start', guard.start]),
    ...(guard.comm === undefined ? [] : ['--comm', Buffer.from(guard.comm, 'utf8').toString('hex')]),
    ...(guard.allowedOnly === true ? ['--allowed-only'] : []),
  ];
}

/** The injector's arguments for the calls, after the pid. */
export function callArgs(calls: readonly InjectedCall[]): string[] {
  return calls.flatMap((c) =>
    c.call === 'prctl'
      ? ['prctl', String(c.option), String(c.arg)]
      : ['madvise', `0x${c.address.toString(16)}`, String(c.length), String(c.advice)],
  );
}

/** Parses the helper's lines: `ok RESULT METHOD ADDRESS [NOTE]` per call, `pause NS`, maybe `err [final] MESSAGE`. */
export function parseInjectAnswer(text: string): InjectAnswer {
  const results: CallResult[] = [];
  let pauseNs: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const pause = /^pause (\d+)$/.exec(line);
    if (pause?.[1] !== undefined) {
      pauseNs = Number(pause[1]);
      continue;
    }
    const ok = /^ok (-?\d+) (\S+) (\S+)(?: (\S+))?$/.exec(line);
    if (ok?.[1] !== undefined && ok[2] !== undefined) {
      results.push({ result: Number(ok[1]), method: ok[4] === undefined ? ok[2] : `${ok[2]} (${ok[4]})` });
      continue;
    }
    const err = /^err (final )?(.*)$/.exec(line);
    if (err?.[2] !== undefined) return { results, error: err[2], ...(err[1] === undefined ? {} : { final: true }) };
  }
  if (results.length === 0) return { results, error: 'the helper printed nothing' };
  return pauseNs === undefined ? { results } : { results, pauseNs };
}

/**
 * Makes process `pid` execute `calls`, synchronously (a millisecond or so, more for a
 * MADV_UNMERGEABLE of many merged pages). A usage error of the helper (a refused call) or a
 * helper that cannot run comes back as `error` with no results.
 */
export function injectSyscalls(
  pid: number,
  calls: readonly InjectedCall[],
  helper = nativeHelperPath(INJECT_SYSCALL),
  guard?: InjectGuard,
): InjectAnswer {
  if (calls.length === 0) return { results: [] };
  const r = spawnSync(helper, [...guardArgs(guard), String(pid), ...callArgs(calls)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error !== undefined) return { results: [], error: `cannot run ${helper}: ${r.error.message}` };
  if (r.status === 2) return { results: [], error: r.stderr.split('\n')[0]?.trim() || 'usage error' };
  const answer = parseInjectAnswer(r.stdout);
  if (answer.error === undefined && answer.results.length < calls.length) {
    const why = r.signal !== null ? `the helper was killed by ${r.signal}` : `the helper exited with ${r.status}`;
    return { results: answer.results, error: `${why} after ${answer.results.length} of ${calls.length} calls` };
  }
  return answer;
}

/** The injector as the kernel names it (a task's comm holds 15 bytes). */
const INJECTOR_COMM = INJECT_SYSCALL.slice(0, 15);

/**
 * Waits, at most `ms`, while an injector is attached to process `pid`: a samepage injection
 * into it is in flight (the daemon that started it may have died since: the injector is a
 * process of its own and finishes), and a restore must judge the process on what that
 * injection leaves, not on what was there before it. True once no injector is attached.
 */
export function waitForInjection(pid: number, ms = 10_000): boolean {
  for (let waited = 0; ; waited += 10) {
    const tracer = Number(statusField(pid, 'TracerPid') ?? 0);
    if (tracer === 0 || readComm(tracer) !== INJECTOR_COMM) return true;
    if (waited >= ms) return false;
    sleepSync(10);
  }
}
