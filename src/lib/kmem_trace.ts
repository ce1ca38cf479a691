/**
 * ksmd's allocations and frees in KSM's kmem cache, from the text of a trace of its
 * `kmem:kmem_cache_alloc` and `kmem:kmem_cache_free` events with raw pointers, beside KSM's
 * own events (which name rmap_items by address). The model's slab (ksm/slab.ts) keeps the
 * same sequence, so the two can be compared object for object.
 *
 * rmap_items and stable nodes share one cache, and where that cache is merged with others
 * of the same size the events name it by whichever was created first (`dmaengine-unmap-2`
 * on the CI machine kind), so the cache is found from the trace itself: the one an
 * rmap_item that a KSM event names was allocated from.
 */

/** One allocation or free, the object numbered by its first allocation in the sequence (from 1). */
export interface SlabEvent {
  readonly op: 'alloc' | 'free';
  readonly object: number;
}

const KMEM = /\bkmem_cache_(alloc|free): call_site=\S+ ptr=(?:0x)?([0-9a-f]+) name=(\S+)/;
const RMAP_ITEM = /\bksm_\w+: .*\brmap_item (?:0x)?([0-9a-f]+)/;

/** The trace's kmem events in KSM's cache as numbered objects; undefined where no KSM event names an rmap_item. */
export function parseKsmdSlabTrace(text: string): SlabEvent[] | undefined {
  const kmem: Array<{ op: 'alloc' | 'free'; ptr: string; cache: string }> = [];
  const cacheOf = new Map<string, string>();
  let cache: string | undefined;
  for (const line of text.split('\n')) {
    const m = KMEM.exec(line);
    if (m !== null) {
      const op = m[1] === 'alloc' ? 'alloc' : 'free';
      kmem.push({ op, ptr: m[2]!, cache: m[3]! });
      if (op === 'alloc') cacheOf.set(m[2]!, m[3]!);
      continue;
    }
    const item = RMAP_ITEM.exec(line);
    if (item !== null && cache === undefined) cache = cacheOf.get(item[1]!);
  }
  if (cache === undefined) return undefined;
  return numberedObjects(kmem.filter((e) => e.cache === cache).map((e) => ({ op: e.op, key: e.ptr })));
}

/**
 * Events with their objects numbered by first allocation, from 1: a sequence that two
 * allocators can be compared by, whatever their addresses. A free of an object never
 * allocated in the sequence (allocated before it began) counts as object 0.
 */
export function numberedObjects<K>(
  events: ReadonlyArray<{ readonly op: 'alloc' | 'free'; readonly key: K }>,
): SlabEvent[] {
  const numbers = new Map<K, number>();
  return events.map(({ op, key }) => {
    let n = numbers.get(key);
    if (n === undefined && op === 'alloc') {
      n = numbers.size + 1;
      numbers.set(key, n);
    }
    return { op, object: n ?? 0 };
  });
}
