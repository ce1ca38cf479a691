/**
 * Page storage inside WebAssembly memory, so the page kernel (wasm/pagekernel.wat) hashes
 * and compares pages where they are, without copying each 4 KiB page into its own memory
 * first: a copy that cost as much as the hash when the page is not in cache.
 *
 * An arena is one WebAssembly memory with its own instance of the kernel: two scratch
 * pages, then page slots. It grows by doubling, up to ARENA_SLOTS pages (1 GiB); more
 * pages take more arenas. Growing detaches the old view, so `bytes` must be read again
 * after `reserve`, never kept across it.
 */
import { GEN_NEG_INDEX, GEN_SPLITMIX, type WordGenerator } from './pattern_pages.ts';
import { PAGE_SIZE } from './sizes.ts';
import { PAGEKERNEL_WASM_BASE64 } from './wasm/pagekernel-bytes.ts';

/** Page slots per arena: 2^18 pages, 1 GiB. */
export const ARENA_SHIFT = 18;
export const ARENA_SLOTS = 1 << ARENA_SHIFT;
/** Bytes before slot 0: two scratch pages for the kernel's two-page operations. */
const SCRATCH = 2 * PAGE_SIZE;
/** Where a page is generated to be looked at before it has a slot (see scratch()). */
export const SCRATCH_PAGE = 0;
const WASM_PAGE = 65536;
const INITIAL_SLOTS = 256;

interface ArenaExports {
  checksum(ptr: number): number;
  cmp(a: number, b: number, len: number): number;
  gen_splitmix(dst: number, baseLo: number, baseHi: number, first: number, wrap: number): void;
  gen_index(dst: number, first: number, negate: number): void;
}

/**
 * The slice of the WebAssembly JS API used here. The project compiles against ES2023 and
 * @types/node only, which do not declare WebAssembly (it lives in lib.dom), so it is typed
 * locally rather than pulling DOM types into every file.
 */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: object };
}

export function wasmApi(): WasmApi {
  return (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
}

/** The compiled page kernel, shared by the arenas of one owner (compiling takes a while). */
export function compilePageKernel(): object {
  return new (wasmApi().Module)(Buffer.from(PAGEKERNEL_WASM_BASE64, 'base64'));
}

export class PageArena {
  readonly #memory: WasmMemory;
  readonly #exports: ArenaExports;
  #bytes: Buffer;
  #slots: number;

  constructor(kernel: object) {
    const wasm = wasmApi();
    const maximum = Math.ceil((SCRATCH + ARENA_SLOTS * PAGE_SIZE) / WASM_PAGE);
    this.#slots = INITIAL_SLOTS;
    this.#memory = new wasm.Memory({ initial: Math.ceil((SCRATCH + INITIAL_SLOTS * PAGE_SIZE) / WASM_PAGE), maximum });
    this.#exports = new wasm.Instance(kernel, { env: { memory: this.#memory } }).exports as unknown as ArenaExports;
    this.#bytes = Buffer.from(this.#memory.buffer);
  }

  /** The arena's memory; replaced by `reserve` when it grows. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** Where slot `slot` starts in `bytes`. */
  static offsetOf(slot: number): number {
    return SCRATCH + slot * PAGE_SIZE;
  }

  /** Bytes of memory the arena holds now. */
  byteLength(): number {
    return this.#bytes.length;
  }

  /** Grows the memory (by doubling) until slot `slot` fits. */
  reserve(slot: number): void {
    if (slot < this.#slots) return;
    let slots = this.#slots;
    while (slots <= slot) slots = Math.min(ARENA_SLOTS, slots * 2);
    const needed = Math.ceil((SCRATCH + slots * PAGE_SIZE) / WASM_PAGE);
    this.#memory.grow(needed - this.#memory.buffer.byteLength / WASM_PAGE);
    this.#slots = slots;
    this.#bytes = Buffer.from(this.#memory.buffer);
  }

  /** KSM's checksum (low 32 bits of XXH64, seed 0) of the page at `offset`, unsigned. */
  checksum(offset: number): number {
    return this.#exports.checksum(offset) >>> 0;
  }

  /**
   * Writes the page of a word pattern whose first word has counter `first` (see
   * pattern_pages.ts firstWordOf) at `offset`: a slot's offset, or SCRATCH_PAGE.
   */
  generate(offset: number, gen: WordGenerator, first: number): void {
    if (gen.op === GEN_SPLITMIX) this.#exports.gen_splitmix(offset, gen.baseLo, gen.baseHi, first, gen.wrap);
    else this.#exports.gen_index(offset, first, gen.op === GEN_NEG_INDEX ? 1 : 0);
  }

  /** memcmp of the pages at two offsets of this arena: <0, 0 or >0. */
  compare(a: number, b: number): number {
    return this.#exports.cmp(a, b, PAGE_SIZE);
  }
}
