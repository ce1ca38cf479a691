/**
 * A batch of 4 KiB pages held in WebAssembly memory, where the page kernel
 * (wasm/pagekernel.wat) hashes and compares them in place. Whoever fills the batch (the KSM+
 * daemon's readers of live or model memory) writes straight into `bytes`, so a page is
 * copied once, from the process into the batch, and never again before it is hashed.
 *
 * The hash is XXH64 with seed 0, as two unsigned 32-bit halves: a 64-bit fingerprint to find
 * candidate duplicates; equality is always confirmed on the bytes before anything acts on it.
 */
import { PAGE_SIZE } from './sizes.ts';
import { compilePageKernel, wasmApi, type WasmMemory } from './page_arena.ts';

interface BatchExports {
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  eq(a: number, b: number, len: number): number;
}

const WASM_PAGE = 65536;
const MASK32 = 0xffffffffn;

export class PageBatch {
  /** How many pages the batch holds. */
  readonly capacity: number;
  readonly #memory: WasmMemory;
  readonly #exports: BatchExports;
  /** The batch's pages: page i is `bytes[i * 4096, (i + 1) * 4096)`. */
  readonly bytes: Buffer;
  /** The halves of the last hash: set by `hash`. */
  hi = 0;
  lo = 0;

  constructor(capacity: number, kernel: object = compilePageKernel()) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`PageBatch capacity ${capacity}`);
    this.capacity = capacity;
    const pages = Math.ceil((capacity * PAGE_SIZE) / WASM_PAGE);
    this.#memory = new (wasmApi().Memory)({ initial: pages, maximum: pages });
    this.#exports = new (wasmApi().Instance)(kernel, { env: { memory: this.#memory } })
      .exports as unknown as BatchExports;
    this.bytes = Buffer.from(this.#memory.buffer, 0, capacity * PAGE_SIZE);
  }

  /** Hashes page `i` (XXH64, seed 0) into `hi` and `lo`. */
  hash(i: number): void {
    const h = this.#exports.xxh64(i * PAGE_SIZE, PAGE_SIZE, 0n);
    this.hi = Number((h >> 32n) & MASK32);
    this.lo = Number(h & MASK32);
  }

  /** Whether pages i and j of the batch hold the same bytes. */
  equal(i: number, j: number): boolean {
    return this.#exports.eq(i * PAGE_SIZE, j * PAGE_SIZE, PAGE_SIZE) !== 0;
  }

  /** Bytes of memory the batch holds. */
  byteLength(): number {
    return this.#memory.buffer.byteLength;
  }
}
