import { ARENA_SHIFT, ARENA_SLOTS, PageArena, SCRATCH_PAGE, compilePageKernel } from '../lib/page_arena.ts';
import type { WordGenerator } from '../lib/pattern_pages.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { grownCapacity, resized } from '../lib/typed_arrays.ts';

/** The two operations on page bytes outside the store (pages being interned); injected so they can be WASM. */
export interface PageOps {
  /** Low 32 bits of XXH64(page, 4096, seed 0): KSM's calc_checksum. */
  checksum(buf: Uint8Array, off: number): number;
  /** memcmp over one page: <0, 0, >0. */
  compare(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number;
}

const STATE_SUM = 1;
const STATE_INTERNED = 2;
const STATE_KEY = 4;
const STATE_LAZY = 8;
/** 64-bit words in a page. */
const WORDS_PER_PAGE = PAGE_SIZE / 8;
/** Word generators a store can name (the index column is a Uint16Array). */
const MAX_GENERATORS = 0xffff;

/**
 * The bytes of simulated page frames. A content is an immutable 4 KiB value with an integer
 * id and a reference count; many frames may point at one content (a model of 64 GiB of
 * duplicate-heavy memory then needs only its distinct pages). Writing to a content that
 * other frames share copies it first: copy-on-write inside the simulator, invisible to the
 * model, which still compares and hashes bytes exactly as Linux does. A content's checksum
 * is cached because the content can only change through `write`, which drops the cache.
 *
 * The bytes live in WebAssembly arenas (src/lib/page_arena.ts), 2^18 contents each, where
 * the page kernel hashes and compares them in place; the arena and slot of an id are a
 * shift and a mask.
 *
 * A page of a word pattern (pattern_pages.ts) may be stored lazily: `fromGenerated` generates
 * it once, keeps its checksum and first 8 bytes, and writes its bytes into its slot only when
 * something reads them (bufferOf, a compare its first bytes do not decide, a write). Filling
 * gigabytes of unique pattern pages then costs no host memory until the pages are read, and
 * the checksum ksmd asks for first is computed while the page is hot in cache. The bytes
 * written later are the ones generated at fill time: same generator, same word counter.
 *
 * Content 0 is the zero page's bytes and lives for ever.
 */
export class ContentStore {
  static readonly ZERO = 0;
  readonly #arenas: PageArena[] = [];
  /** The compiled page kernel every arena instantiates. */
  readonly #kernel: object;
  #refs = new Int32Array(1024);
  #sums = new Uint32Array(1024);
  /**
   * The first 8 bytes of a content as two big-endian u32 (cached with STATE_KEY): memcmp
   * order of pages that differ there, which random pages almost always do, without
   * reading the pages. Tree walks compare a page with ~log2(n) others per visit.
   */
  #key0 = new Uint32Array(1024);
  #key1 = new Uint32Array(1024);
  /**
   * STATE_SUM: checksum cached; STATE_INTERNED: in the intern table; STATE_KEY: key cached;
   * STATE_LAZY: bytes not written yet (see fromGenerated).
   */
  #state = new Uint8Array(1024);
  /** A lazy content's generator: index + 1 into #generators. */
  #lazyGen = new Uint16Array(1024);
  /**
   * A lazy content's first word counter (pattern_pages.ts firstWordOf), in pages: a
   * counter is a whole number of pages (512 words), and 4 bytes hold 16 TiB of them.
   */
  #lazyPage = new Uint32Array(1024);
  readonly #generators: WordGenerator[] = [];
  readonly #generatorIds = new Map<string, number>();
  readonly #freeIds: number[] = [];
  #nextId = 0;
  #live = 0;
  /** checksum -> ids of interned contents with that checksum. */
  readonly #interned = new Map<number, number[]>();

  readonly #ops: PageOps;

  /** Contents the owner expects at most (its frames): growth stops there before going past. */
  readonly #sizeHint: number;

  constructor(ops: PageOps, sizeHint = 0) {
    this.#ops = ops;
    this.#sizeHint = sizeHint;
    this.#kernel = compilePageKernel();
    const zero = this.#alloc();
    this.bufferOf(zero).fill(0, this.offsetOf(zero), this.offsetOf(zero) + PAGE_SIZE);
    this.#internId(zero);
  }

  /** Number of distinct contents alive. */
  liveCount(): number {
    return this.#live;
  }

  /** Bytes held by the arenas (the host memory the page contents cost). */
  storageBytes(): number {
    return this.#arenas.reduce((n, a) => n + a.byteLength(), 0);
  }

  /**
   * The memory holding content `id` (valid until the next content is allocated), its bytes
   * written first if the content is lazy.
   */
  bufferOf(id: number): Buffer {
    if ((this.#state[id]! & STATE_LAZY) !== 0) this.#materialize(id);
    return this.#arenas[id >>> ARENA_SHIFT]!.bytes;
  }

  offsetOf(id: number): number {
    return PageArena.offsetOf(id & (ARENA_SLOTS - 1));
  }

  refCount(id: number): number {
    return this.#refs[id]!;
  }

  retain(id: number): number {
    this.#refs[id]!++;
    return id;
  }

  release(id: number): void {
    const r = --this.#refs[id]!;
    if (r > 0) return;
    if (r < 0 || id === ContentStore.ZERO) throw new Error(`content ${id} released too often`);
    this.#forget(id);
    this.#freeIds.push(id);
    this.#live--;
  }

  /** KSM's checksum of the content, computed once per content (lazy ones when generated). */
  checksum(id: number): number {
    if ((this.#state[id]! & STATE_SUM) === 0) {
      if ((this.#state[id]! & STATE_LAZY) !== 0) this.#materialize(id);
      this.#sums[id] = this.#arenas[id >>> ARENA_SHIFT]!.checksum(this.offsetOf(id));
      this.#state[id]! |= STATE_SUM;
      // The page was just read: its first bytes cost nothing now, a cache miss later.
      if ((this.#state[id]! & STATE_KEY) === 0) this.#cacheKey(id);
    }
    return this.#sums[id]!;
  }

  /**
   * memcmp of two contents: -1, 0 or 1. Equal ids are equal without looking at a byte;
   * contents whose first 8 bytes differ are ordered by their cached keys.
   */
  compare(a: number, b: number): number {
    if (a === b) return 0;
    const a0 = this.prefixKey(a);
    const b0 = this.prefixKey(b);
    if (a0 !== b0) return a0 < b0 ? -1 : 1;
    const a1 = this.#key1[a]!;
    const b1 = this.#key1[b]!;
    if (a1 !== b1) return a1 < b1 ? -1 : 1;
    if ((this.#state[a]! & STATE_LAZY) !== 0) this.#materialize(a);
    if ((this.#state[b]! & STATE_LAZY) !== 0) this.#materialize(b);
    if (a >>> ARENA_SHIFT === b >>> ARENA_SHIFT) {
      const r = this.#arenas[a >>> ARENA_SHIFT]!.compare(this.offsetOf(a), this.offsetOf(b));
      return r < 0 ? -1 : r > 0 ? 1 : 0;
    }
    return this.#ops.compare(this.bufferOf(a), this.offsetOf(a), this.bufferOf(b), this.offsetOf(b));
  }

  /** The first 4 bytes of a content, big-endian: memcmp order of contents they tell apart. */
  prefixKey(id: number): number {
    if ((this.#state[id]! & STATE_KEY) === 0) this.#cacheKey(id);
    return this.#key0[id]!;
  }

  /** Bytes 4 to 7 of a content, big-endian: memcmp order of contents whose first 4 bytes tie. */
  secondKey(id: number): number {
    if ((this.#state[id]! & STATE_KEY) === 0) this.#cacheKey(id);
    return this.#key1[id]!;
  }

  #cacheKey(id: number): void {
    this.#cacheKeyFrom(id, this.bufferOf(id), this.offsetOf(id));
  }

  #cacheKeyFrom(id: number, buf: Uint8Array, off: number): void {
    this.#key0[id] = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
    this.#key1[id] = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
    this.#state[id]! |= STATE_KEY;
  }

  /**
   * A content holding these 4096 bytes, shared with an identical interned content if one
   * exists. Returns an id carrying one reference for the caller.
   */
  intern(src: Uint8Array, srcOff: number): number {
    const sum = this.#ops.checksum(src, srcOff);
    const bucket = this.#interned.get(sum);
    if (bucket !== undefined) {
      for (const id of bucket) {
        if (this.#ops.compare(src, srcOff, this.bufferOf(id), this.offsetOf(id)) === 0) return this.retain(id);
      }
    }
    const id = this.#alloc();
    this.bufferOf(id).set(src.subarray(srcOff, srcOff + PAGE_SIZE), this.offsetOf(id));
    this.#sums[id] = sum;
    this.#state[id] = STATE_SUM;
    this.#internId(id);
    return id;
  }

  /** A new private content holding these 4096 bytes (not interned: for unique pages). */
  fromBytes(src: Uint8Array, srcOff: number): number {
    const id = this.#alloc();
    this.bufferOf(id).set(src.subarray(srcOff, srcOff + PAGE_SIZE), this.offsetOf(id));
    return id;
  }

  /**
   * The number naming a word generator in `fromGenerated`, or -1 when the store already
   * knows as many as it can name (the caller then writes the bytes itself).
   */
  generatorId(gen: WordGenerator): number {
    const key = `${gen.op}:${gen.baseLo}:${gen.baseHi}:${gen.wrap}`;
    let n = this.#generatorIds.get(key);
    if (n === undefined) {
      if (this.#generators.length >= MAX_GENERATORS) return -1;
      n = this.#generators.length;
      this.#generators.push(gen);
      this.#generatorIds.set(key, n);
    }
    return n;
  }

  /**
   * A new private content holding the page of generator `genId` whose first word counter is
   * `first`, stored lazily: generated now in the arena's scratch page for its checksum and
   * key, written into its slot when first read. Not interned: for pages that never repeat.
   */
  fromGenerated(genId: number, first: number): number {
    const page = first / WORDS_PER_PAGE;
    if (!Number.isInteger(page) || page >= 2 ** 32) {
      // Not a counter lazy storage can hold: the bytes are written at once.
      const id = this.#alloc();
      this.#arenas[id >>> ARENA_SHIFT]!.generate(this.offsetOf(id), this.#generators[genId]!, first);
      return id;
    }
    const id = this.#alloc();
    const arena = this.#arenas[id >>> ARENA_SHIFT]!;
    arena.generate(SCRATCH_PAGE, this.#generators[genId]!, first);
    this.#sums[id] = arena.checksum(SCRATCH_PAGE);
    this.#cacheKeyFrom(id, arena.bytes, SCRATCH_PAGE);
    this.#lazyGen[id] = genId + 1;
    this.#lazyPage[id] = page;
    this.#state[id] = STATE_SUM | STATE_KEY | STATE_LAZY;
    return id;
  }

  /** The bytes of the page of generator `genId` with first word counter `first`, into dst[off..]. */
  generate(genId: number, first: number, dst: Uint8Array, off: number): void {
    const arena = this.#arenas[0]!;
    arena.generate(SCRATCH_PAGE, this.#generators[genId]!, first);
    dst.set(arena.bytes.subarray(SCRATCH_PAGE, SCRATCH_PAGE + PAGE_SIZE), off);
  }

  /** Writes a lazy content's bytes into its slot. */
  #materialize(id: number): void {
    const gen = this.#generators[this.#lazyGen[id]! - 1]!;
    this.#arenas[id >>> ARENA_SHIFT]!.generate(this.offsetOf(id), gen, this.#lazyPage[id]! * WORDS_PER_PAGE);
    this.#state[id]! &= ~STATE_LAZY;
  }

  /**
   * Stores `len` bytes of `src` at `off` inside content `id`, consuming the caller's
   * reference to `id` and returning the id (same or a copy) that now holds the result.
   */
  write(id: number, off: number, src: Uint8Array, srcOff: number, len: number): number {
    // The bytes around the written range must be there before the cache is dropped.
    if ((this.#state[id]! & STATE_LAZY) !== 0) this.#materialize(id);
    let target = id;
    if (id === ContentStore.ZERO || this.#refs[id]! > 1) {
      target = this.#alloc();
      this.bufferOf(id).copy(
        this.bufferOf(target),
        this.offsetOf(target),
        this.offsetOf(id),
        this.offsetOf(id) + PAGE_SIZE,
      );
      this.release(id);
    } else {
      this.#forget(id);
    }
    this.bufferOf(target).set(src.subarray(srcOff, srcOff + len), this.offsetOf(target) + off);
    return target;
  }

  #alloc(): number {
    let id = this.#freeIds.pop();
    if (id === undefined) {
      id = this.#nextId++;
      if (id >= this.#refs.length) this.#grow();
      if (id >>> ARENA_SHIFT >= this.#arenas.length) this.#arenas.push(new PageArena(this.#kernel));
      this.#arenas[id >>> ARENA_SHIFT]!.reserve(id & (ARENA_SLOTS - 1));
    }
    this.#refs[id] = 1;
    this.#state[id] = 0;
    this.#live++;
    return id;
  }

  #grow(): void {
    const n = grownCapacity(this.#refs.length, this.#sizeHint);
    this.#refs = resized(this.#refs, n);
    this.#sums = resized(this.#sums, n);
    this.#state = resized(this.#state, n);
    this.#key0 = resized(this.#key0, n);
    this.#key1 = resized(this.#key1, n);
    this.#lazyGen = resized(this.#lazyGen, n);
    this.#lazyPage = resized(this.#lazyPage, n);
  }

  #internId(id: number): void {
    const sum = this.checksum(id);
    const bucket = this.#interned.get(sum);
    if (bucket === undefined) this.#interned.set(sum, [id]);
    else bucket.push(id);
    this.#state[id]! |= STATE_INTERNED;
  }

  /**
   * Drops the cached checksum and the intern entry: the bytes are about to change or go (a
   * lazy content's bytes must be written first if they are to stay).
   */
  #forget(id: number): void {
    if ((this.#state[id]! & STATE_INTERNED) !== 0) {
      const bucket = this.#interned.get(this.#sums[id]!)!;
      const i = bucket.indexOf(id);
      bucket.splice(i, 1);
      if (bucket.length === 0) this.#interned.delete(this.#sums[id]!);
    }
    this.#state[id] = 0;
  }
}
