import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { radixOrder } from './radix_sort.ts';

test('radixOrder orders 32-bit keys ascending, stably, as a comparison sort does', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat(20), fc.nat(0xffffffff)), { maxLength: 300 }), (values) => {
      const keys = Uint32Array.from(values);
      const got = [...radixOrder(keys, keys.length)];
      const want = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
      assert.deepEqual(got, want);
    }),
    { seed: 11, numRuns: 200 },
  );
});
