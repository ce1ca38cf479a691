/**
 * How the live KSM+ daemon makes a target call madvise: the target must make the call
 * itself (madvise acts on the caller, and process_madvise cannot set MADV_MERGEABLE), so the
 * generic injector (native/inject-syscall.c) borrows one of its threads through ptrace for
 * the calls of one action and puts it back exactly. Every mark goes through the journal of
 * live changes (live_changes.ts) before it is made, one entry per process, so that if the
 * daemon is killed its watchdog gives the marks back; an unmark takes its ranges out of the
 * entry once the process has made the calls.
 *
 * The injector checks in the target, before any call: that it is still the process the
 * policy saw (its start time), still the program selected by name (its comm), and that its
 * seccomp filters allow the calls (else it is refused and left as it was, never killed).
 */
import type { ActionOutcome, PlusAction } from '../policy/actions.ts';
import type { InjectAnswer, InjectGuard } from './inject.ts';
import type { LiveChanges } from './live_changes.ts';

const PAGE = 4096;

/** What the daemon needs of an injector: the calls of one action, and an end. */
export interface PlusInjector {
  /**
   * Makes process `a.pid` (if it is still the process that started at `a.start`) call
   * madvise(MADV_MERGEABLE) or madvise(MADV_UNMERGEABLE) on each range of the action.
   */
  madvise(a: PlusAction): Promise<ActionOutcome>;
}

/** The injector's answer as the policy's outcome of an action. */
export function actionOutcome(answer: InjectAnswer, calls: number): ActionOutcome {
  if (answer.error === undefined || answer.results.length === calls) {
    return {
      kind: 'done',
      results: answer.results.map((r) => r.result),
      ...(answer.pauseNs === undefined ? {} : { pauseNs: answer.pauseNs }),
    };
  }
  if (answer.results.length > 0)
    return { kind: 'refused', why: `${answer.error} (after ${answer.results.length} of its calls)`, retry: false };
  return { kind: 'refused', why: answer.error, retry: answer.final !== true };
}

/** The byte ranges [start, length] of an action's page ranges. */
export function byteRanges(a: PlusAction): Array<[number, number]> {
  return a.ranges.map(([s, e]) => [s * PAGE, (e - s) * PAGE]);
}

/** The daemon's injector: the generic helper, each mark journaled (see the file's comment). */
export class JournaledInjector implements PlusInjector {
  readonly #changes: LiveChanges;
  /** The journal entry of each process's marks, by pid and start time. */
  readonly #entries = new Map<string, number>();

  constructor(changes: LiveChanges) {
    this.#changes = changes;
  }

  madvise(a: PlusAction): Promise<ActionOutcome> {
    const key = `${a.pid}:${a.start}`;
    const guard: InjectGuard = {
      start: a.start,
      ...(a.requireComm === true ? { comm: a.comm } : {}),
      allowedOnly: true,
    };
    const ranges = byteRanges(a);
    let answer: InjectAnswer;
    if (a.kind === 'mark') {
      const r = this.#changes.madviseMergeable(a.pid, ranges, this.#entries.get(key), guard);
      if (r.entry === undefined) this.#entries.delete(key);
      else this.#entries.set(key, r.entry);
      answer = r.answer;
    } else {
      const id = this.#entries.get(key);
      answer = this.#changes.madviseUnmergeable(a.pid, ranges, id, guard);
      if (id !== undefined && !this.#changes.entries.some((e) => e.id === id)) this.#entries.delete(key);
    }
    return Promise.resolve(actionOutcome(answer, ranges.length));
  }
}
