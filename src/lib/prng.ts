/**
 * The project's seeded PRNG: xoshiro128** (Blackman and Vigna) with its 128-bit state
 * filled from a splitmix32 sequence. Hand-written rather than taken from a library so that
 * recorded runs and golden tests never change under a dependency upgrade, and so the state
 * can be saved into a checkpoint and resumed bit for bit.
 */

/** splitmix32's additive constant: 2^32 / golden ratio, rounded to odd. */
const GOLDEN_GAMMA_32 = 0x9e3779b9;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * One splitmix32 output for the counter value `x` (already advanced by the gamma):
 * z ^= z >>> 16; z *= 0x21f0aaad; z ^= z >>> 15; z *= 0x735a2d97; z ^= z >>> 15 (mod 2^32).
 * A bijection of `x`, so distinct counters give distinct outputs.
 */
function splitmix32Mix(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < TWO_POW_32;
}

export class Prng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** `seed` is an integer in [0, 2^32); equal seeds give equal sequences. */
  constructor(seed: number) {
    if (!isU32(seed)) throw new RangeError(`Prng seed must be an integer in [0, 2^32), got ${seed}`);
    // Four consecutive splitmix32 outputs are distinct (the mix is a bijection), so at most
    // one is zero and the state can never be the all-zero state xoshiro must avoid.
    let counter = seed;
    counter = (counter + GOLDEN_GAMMA_32) | 0;
    this.#s0 = splitmix32Mix(counter);
    counter = (counter + GOLDEN_GAMMA_32) | 0;
    this.#s1 = splitmix32Mix(counter);
    counter = (counter + GOLDEN_GAMMA_32) | 0;
    this.#s2 = splitmix32Mix(counter);
    counter = (counter + GOLDEN_GAMMA_32) | 0;
    this.#s3 = splitmix32Mix(counter);
  }

  /** A generator continuing from a state returned by `saveState`. */
  static fromState(state: readonly number[]): Prng {
    if (state.length !== 4 || !state.every(isU32)) {
      throw new RangeError(`Prng state must be four integers in [0, 2^32), got [${state.join(', ')}]`);
    }
    if (state.every((v) => v === 0)) throw new RangeError('Prng state must not be all zero');
    const p = new Prng(0);
    p.#s0 = state[0] as number;
    p.#s1 = state[1] as number;
    p.#s2 = state[2] as number;
    p.#s3 = state[3] as number;
    return p;
  }

  /** The four 32-bit state words, enough to resume the sequence with `fromState`. */
  saveState(): readonly number[] {
    return Object.freeze([this.#s0, this.#s1, this.#s2, this.#s3]);
  }

  /** The next output, uniform in [0, 2^32). */
  nextU32(): number {
    const s1 = this.#s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 = s1 ^ this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    // Keep the saved state in the u32 range (bitwise results are signed int32).
    this.#s0 >>>= 0;
    this.#s1 >>>= 0;
    this.#s2 >>>= 0;
    this.#s3 >>>= 0;
    return result;
  }

  /**
   * A uniform integer in [0, n) for an integer n in [1, 2^32], without modulo bias: outputs
   * at or above the largest multiple of n are drawn again.
   */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32)
      throw new RangeError(`Prng.below needs an integer in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }
}
