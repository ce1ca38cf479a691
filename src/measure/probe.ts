/**
 * A speed probe of the CPU the bench runs on: the same few milliseconds of integer work,
 * timed on the calling thread (schedstat, host/cpu_time.ts). Nothing depends on it; the
 * bench reports it beside each measured model run (`model_probe_us_by_run` in --json),
 * meant to tell a run whose model figures are off because the CPU was slower then (the
 * VM's host) from one where the model was. Not reliable for that yet: in one bench run its
 * first two readings were 1.8-2.2x its usual and one later reading half of it, none
 * matching the model's figures of the runs beside them (docs/performance.md).
 */
import { cpuStopwatch } from '../host/cpu_time.ts';

/** Rounds of the probe's loop: about 3.5 ms on this project's machine kind. */
const ROUNDS = 2_000_000;

/** One pass: xorshift32 steps, each adding to a cell of a 64 KiB table (in L2). */
function work(rounds: number): void {
  const table = new Int32Array(16_384);
  let x = 2_463_534_242;
  for (let i = 0; i < rounds; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    table[x & 16_383] = (table[x & 16_383]! + x) | 0;
  }
}

/** Untimed passes before the first timed one. */
const WARMUP_PASSES = 4;

/**
 * Returns a probe: each call times one pass of ROUNDS and returns its thread CPU ns, or
 * undefined where schedstat is missing. Making it runs WARMUP_PASSES passes untimed: with
 * one, the first two timed passes in a bench took 2.2-2.4x the others (7.3 and 7.9 ms
 * against 3.1-3.4), and the first again in one process of two that ran only the probe and
 * model warm-ups (the JIT, busy with the model's functions, had not yet compiled the
 * loop's function whole, we think); with four, none of 20 passes in four such processes,
 * but the first two in a later bench run still read 1.8-2.2x.
 */
export function cpuProbe(): () => number | undefined {
  for (let i = 0; i < WARMUP_PASSES; i++) work(ROUNDS);
  return () => {
    const elapsed = cpuStopwatch();
    if (elapsed === undefined) return undefined;
    work(ROUNDS);
    return elapsed().mainNs;
  };
}
