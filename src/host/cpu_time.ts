/**
 * A stopwatch of this process's own CPU time, its threads' scheduler runtimes read with
 * procfs.ts readSchedstat (ns). getrusage (process.cpuUsage) scales the same runtime, keeps
 * it monotonic and lags it by up to a tick: over a window of a millisecond or two, as one
 * full scan of a bench workload can be, mostly rounding.
 *
 * A thread's figure is brought up to date when it stops running, not while it runs: a
 * thread timing itself sleeps 0.1 ms first (Atomics.wait), which costs no CPU.
 */
import { readdirSync } from 'node:fs';
import { readSchedstat } from './procfs.ts';

/** Sleeps the calling thread for `ms` milliseconds without returning to the event loop. */
export function napMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** CPU time in ns of this process's main thread and of all its threads, since a start. */
export interface CpuSplit {
  readonly mainNs: number;
  readonly processNs: number;
}

/**
 * A stopwatch of this process's CPU time, its main thread's apart from the sum over all
 * its threads (V8's compiler and collector threads work for the process too), or undefined
 * where schedstat is missing. Reading the main thread last when starting and first when
 * stopping keeps the reading of the other threads' files out of its figure.
 */
export function cpuStopwatch(): (() => CpuSplit) | undefined {
  const self = process.pid;
  if (readSchedstat(self) === undefined) return undefined;
  const others = (): Map<number, number> => {
    const out = new Map<number, number>();
    for (const name of readdirSync('/proc/self/task')) {
      const tid = Number(name);
      if (tid === self) continue;
      const ns = readSchedstat(self, tid)?.runtimeNs;
      if (ns !== undefined) out.set(tid, ns);
    }
    return out;
  };
  const before = others();
  napMs(0.1);
  const own0 = readSchedstat(self)?.runtimeNs ?? 0;
  return () => {
    napMs(0.1);
    const own = (readSchedstat(self)?.runtimeNs ?? own0) - own0;
    let rest = 0;
    for (const [tid, ns] of others()) rest += ns - (before.get(tid) ?? 0);
    return { mainNs: own, processNs: own + rest };
  };
}
