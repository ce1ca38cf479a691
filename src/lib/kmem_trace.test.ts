import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numberedObjects, parseKsmdSlabTrace } from './kmem_trace.ts';

/** Lines as Linux 6.18.44 printed them (nohash-ptr), cut after the name, and one invented line of another cache. */
const alloc = (ptr: string, cache = 'dmaengine-unmap-2'): string =>
  `            ksmd-39      [000] ..... 84339.405641: kmem_cache_alloc: call_site=ksm_scan_thread+0x660/0x2200 ptr=${ptr} name=${cache} bytes_req=64 bytes_alloc=64 gfp_flags=GFP_KERNEL|__GFP_ZERO node=-1 accounted=false`;
const free = (ptr: string, cache = 'dmaengine-unmap-2'): string =>
  `            ksmd-39      [000] ..... 84339.512345: kmem_cache_free: call_site=ksm_get_folio+0x1b2/0x250 ptr=${ptr} name=${cache}`;
const merge = (ptr: string): string =>
  `            ksmd-39      [000] ..... 84339.405700: ksm_merge_with_ksm_page: ksm pfn 1259649 rmap_item ${ptr} mm ffff888113d876c0 error 0`;

test('parseKsmdSlabTrace numbers the objects of the cache an rmap_item came from, in order', () => {
  const text = [
    '# tracer: nop',
    free('ffff8881051db000'), // allocated before the trace
    alloc('ffff8881051dbdc0'),
    alloc('ffff8881051dbe40'),
    alloc('ffff888100a00040', 'ksm_mm_slot'), // another cache
    merge('ffff8881051dbe40'),
    alloc('ffff8881051db300'),
    free('ffff8881051db300'),
    free('ffff888100a00040', 'ksm_mm_slot'),
    free('ffff8881051dbdc0'),
    alloc('ffff8881051dbdc0'),
    alloc('ffff8881051db300'),
  ].join('\n');
  assert.deepEqual(parseKsmdSlabTrace(text), [
    { op: 'free', object: 0 },
    { op: 'alloc', object: 1 },
    { op: 'alloc', object: 2 },
    { op: 'alloc', object: 3 },
    { op: 'free', object: 3 },
    { op: 'free', object: 1 },
    { op: 'alloc', object: 1 },
    { op: 'alloc', object: 3 },
  ]);
});

test('parseKsmdSlabTrace cannot tell the cache where no KSM event names an rmap_item', () => {
  assert.equal(parseKsmdSlabTrace([alloc('ffff8881051dbdc0'), free('ffff8881051dbdc0')].join('\n')), undefined);
  assert.equal(parseKsmdSlabTrace(''), undefined);
});

test('numberedObjects: the same sequence from any addresses gives the same numbers', () => {
  const a = numberedObjects([
    { op: 'alloc', key: 'x' },
    { op: 'alloc', key: 'y' },
    { op: 'free', key: 'x' },
    { op: 'alloc', key: 'x' },
  ]);
  const b = numberedObjects([
    { op: 'alloc', key: 17 },
    { op: 'alloc', key: 4 },
    { op: 'free', key: 17 },
    { op: 'alloc', key: 17 },
  ]);
  assert.deepEqual(a, b);
  assert.deepEqual(
    a.map((e) => e.object),
    [1, 2, 1, 1],
  );
});
