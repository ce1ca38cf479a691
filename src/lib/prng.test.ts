import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Prng } from './prng.ts';

// A deliberately plain BigInt transcription of splitmix32 + xoshiro128**, kept apart from
// the Math.imul implementation under test.
const M32 = 0xffffffffn;
const mul32 = (a: bigint, b: bigint): bigint => (a * b) & M32;
const rotl32 = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M32;

function refSeed(seed: number): bigint[] {
  let counter = BigInt(seed);
  const out: bigint[] = [];
  for (let i = 0; i < 4; i++) {
    counter = (counter + 0x9e3779b9n) & M32;
    let z = counter;
    z = mul32(z ^ (z >> 16n), 0x21f0aaadn);
    z = mul32(z ^ (z >> 15n), 0x735a2d97n);
    out.push(z ^ (z >> 15n));
  }
  return out;
}

function refOutputs(state: bigint[], count: number): number[] {
  const s = [...state] as [bigint, bigint, bigint, bigint];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(mul32(rotl32(mul32(s[1], 5n), 7n), 9n)));
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl32(s[3], 11n);
  }
  return out;
}

const take = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.nextU32());

test('Prng.nextU32 matches the published xoshiro128** sequence from state [1, 2, 3, 4]', () => {
  const p = Prng.fromState([1, 2, 3, 4]);
  const got = take(p, 64);
  assert.deepEqual(got.slice(0, 2), [11520, 0]);
  assert.deepEqual(got, refOutputs([1n, 2n, 3n, 4n], 64));
});

test('Prng seeding via splitmix32 matches the BigInt reference for fixed seeds', () => {
  for (const seed of [0, 1, 42, 0x7fffffff, 0xffffffff]) {
    const p = new Prng(seed);
    assert.deepEqual(p.saveState(), refSeed(seed).map(Number));
    assert.deepEqual(take(p, 32), refOutputs(refSeed(seed), 32));
  }
});

test('Prng output for seed 0 is frozen (golden values)', () => {
  // Recorded from this implementation and the BigInt reference; a change breaks recorded runs.
  assert.deepEqual(take(new Prng(0), 4), refOutputs(refSeed(0), 4));
  assert.deepEqual(new Prng(0).saveState(), GOLDEN_SEED0_STATE);
  assert.deepEqual(take(new Prng(0), 4), GOLDEN_SEED0_OUTPUTS);
});

test('Prng matches the reference for arbitrary seeds', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (seed) => {
      assert.deepEqual(take(new Prng(seed), 16), refOutputs(refSeed(seed), 16));
    }),
    { numRuns: 200, seed: 7 },
  );
});

test('Prng.saveState/fromState resumes the same sequence', () => {
  const a = new Prng(1234);
  take(a, 100);
  const b = Prng.fromState(a.saveState());
  assert.deepEqual(take(b, 50), take(a, 50));
  for (const v of a.saveState()) assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff);
});

test('Prng rejects bad seeds and states', () => {
  assert.throws(() => new Prng(-1), RangeError);
  assert.throws(() => new Prng(2 ** 32), RangeError);
  assert.throws(() => new Prng(1.5), RangeError);
  assert.throws(() => Prng.fromState([0, 0, 0, 0]), RangeError);
  assert.throws(() => Prng.fromState([1, 2, 3]), RangeError);
  assert.throws(() => Prng.fromState([1, 2, 3, -4]), RangeError);
});

test('Prng.below stays in range, is deterministic and rejects bad bounds', () => {
  const p = new Prng(9);
  const q = new Prng(9);
  for (const n of [1, 2, 3, 7, 1000, 2 ** 31 + 1, 2 ** 32]) {
    for (let i = 0; i < 200; i++) {
      const v = p.below(n);
      assert.ok(Number.isInteger(v) && v >= 0 && v < n);
      assert.equal(q.below(n), v);
    }
  }
  assert.throws(() => p.below(0), RangeError);
  assert.throws(() => p.below(2 ** 32 + 1), RangeError);
  assert.throws(() => p.below(2.5), RangeError);
});

test('Prng.below(6) is roughly uniform', () => {
  const p = new Prng(3);
  const counts = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 60000; i++) counts[p.below(6)]! += 1;
  for (const c of counts) assert.ok(c > 9500 && c < 10500, `count ${c}`);
});

const GOLDEN_SEED0_STATE = [1684164658, 3653269916, 2939563536, 2141751570];
const GOLDEN_SEED0_OUTPUTS = [1789933344, 44971166, 2521387044, 3848737593];
