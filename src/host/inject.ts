/**
 * The ptrace system-call injector, native/inject-syscall.c (samepage-inject-syscall): makes a
 * running process execute prctl(PR_SET_MEMORY_MERGE / PR_GET_MEMORY_MERGE) or
 * madvise(MADV_MERGEABLE / MADV_UNMERGEABLE) itself, since both act on the caller only. Its
 * header documents how, what it refuses and the risks; this file builds its command line and
 * reads its answer. Several calls share one stop of the target.
 */
import { spawnSync } from 'node:child_process';
import { nativeHelperPath } from './ksm_native.ts';

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

/** The injector's answer: one result per call that ran, in order; `error` when the rest did not. */
export interface InjectAnswer {
  readonly results: readonly CallResult[];
  readonly error?: string;
}

/** The injector's arguments for the calls, after the pid. */
export function callArgs(calls: readonly InjectedCall[]): string[] {
  return calls.flatMap((c) =>
    c.call === 'prctl'
      ? ['prctl', String(c.option), String(c.arg)]
      : ['madvise', `0x${c.address.toString(16)}`, String(c.length), String(c.advice)],
  );
}

/** Parses the helper's lines: `ok RESULT METHOD ADDRESS [NOTE]` per call, maybe `err MESSAGE`. */
export function parseInjectAnswer(text: string): InjectAnswer {
  const results: CallResult[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const ok = /^ok (-?\d+) (\S+) (\S+)(?: (\S+))?$/.exec(line);
    if (ok?.[1] !== undefined && ok[2] !== undefined) {
      results.push({ result: Number(ok[1]), method: ok[4] === undefined ? ok[2] : `${ok[2]} (${ok[4]})` });
      continue;
    }
    const err = /^err (.*)$/.exec(line);
    if (err?.[1] !== undefined) return { results, error: err[1] };
  }
  return results.length > 0 ? { results } : { results, error: 'the helper printed nothing' };
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
): InjectAnswer {
  if (calls.length === 0) return { results: [] };
  const r = spawnSync(helper, [String(pid), ...callArgs(calls)], { encoding: 'utf8', timeout: 60_000 });
  if (r.error !== undefined) return { results: [], error: `cannot run ${helper}: ${r.error.message}` };
  if (r.status === 2) return { results: [], error: r.stderr.split('\n')[0]?.trim() || 'usage error' };
  const answer = parseInjectAnswer(r.stdout);
  if (answer.error === undefined && answer.results.length < calls.length) {
    const why = r.signal !== null ? `the helper was killed by ${r.signal}` : `the helper exited with ${r.status}`;
    return { results: answer.results, error: `${why} after ${answer.results.length} of ${calls.length} calls` };
  }
  return answer;
}
