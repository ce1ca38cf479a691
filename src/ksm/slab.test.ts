import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KsmSlab } from './slab.ts';

test('KsmSlab: the object freed last is allocated first, whatever kind took it; 0 is never given', () => {
  const slab = new KsmSlab();
  const [a, b, c] = [slab.alloc(), slab.alloc(), slab.alloc()];
  assert.deepEqual([a, b, c], [1, 2, 3]);
  // A stable node (a) goes stale, then two rmap_items (b, c) are freed.
  slab.free(a);
  slab.free(b);
  slab.free(c);
  // The next three objects: c and b for the first two, a (the node's memory) for the third.
  assert.deepEqual([slab.alloc(), slab.alloc(), slab.alloc(), slab.alloc()], [c, b, a, 4]);
});

test('KsmSlab logs its allocations and frees from startLog on, numbered as a kmem trace is', () => {
  const slab = new KsmSlab();
  const before = slab.alloc();
  slab.startLog();
  const a = slab.alloc();
  slab.free(before);
  slab.free(a);
  slab.alloc();
  slab.alloc();
  assert.deepEqual(slab.logged(), [
    { op: 'alloc', object: 1 },
    { op: 'free', object: 0 },
    { op: 'free', object: 1 },
    { op: 'alloc', object: 1 },
    { op: 'alloc', object: 2 },
  ]);
});
