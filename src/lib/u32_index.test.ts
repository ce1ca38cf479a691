import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { U32Index } from './u32_index.ts';

test('U32Index numbers keys in order of first sight, as a Map would, through growth', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 0xffffffff })), { maxLength: 3000 }),
      fc.integer({ min: 1, max: 64 }),
      (keys, expected) => {
        const idx = new U32Index(expected);
        const ref = new Map<number, number>();
        for (const k of keys) {
          if (!ref.has(k)) ref.set(k, ref.size);
          assert.equal(idx.indexOf(k), ref.get(k));
        }
        assert.equal(idx.size, ref.size);
        assert.deepEqual([...idx.keys()], [...ref.keys()]);
      },
    ),
    { seed: 5, numRuns: 150 },
  );
  assert.throws(() => new U32Index().indexOf(0), /reserved/);
});
