/**
 * XXH64 and KSM's page checksum, computed by a small hand-written WebAssembly module
 * (wasm/pagekernel.wat, committed compiled in wasm/pagekernel-bytes.ts).
 *
 * Linux's mm/ksm.c calc_checksum() stores `xxhash(page, PAGE_SIZE, 0)` into a u32; on 64-bit
 * kernels xxhash() is XXH64, so the checksum is the low 32 bits of XXH64 with seed 0.
 * WebAssembly has native 64-bit multiplies, which makes it several times faster than any
 * JavaScript XXH64 (measured on Node 20; docs/performance.md has the model's hashing costs).
 *
 * Each PageKernel owns its module instance and memory: nothing is instantiated at module
 * level, so independent systems (and tests) never share state.
 */
import { PAGE_SIZE } from './sizes.ts';
import { compilePageKernel, wasmApi, type WasmMemory } from './page_arena.ts';

interface PageKernelExports {
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  checksum(ptr: number): number;
  eq(a: number, b: number, len: number): number;
  cmp(a: number, b: number, len: number): number;
  iszero(ptr: number, len: number): number;
}

/** Scratch slots in the kernel's memory: two pages, for the two-page operations. */
const SLOT_A = 0;
const SLOT_B = PAGE_SIZE;
const WASM_PAGE = 65536;

export class PageKernel {
  readonly #memory: WasmMemory;
  readonly #exports: PageKernelExports;
  /** View of the whole memory; replaced whenever the memory grows (growth detaches it). */
  #bytes: Uint8Array;

  constructor() {
    const wasm = wasmApi();
    this.#memory = new wasm.Memory({ initial: 1, maximum: 65536 });
    const instance = new wasm.Instance(compilePageKernel(), { env: { memory: this.#memory } });
    this.#exports = instance.exports as unknown as PageKernelExports;
    this.#bytes = new Uint8Array(this.#memory.buffer);
  }

  /**
   * KSM's checksum of the 4096-byte page at `buf[offset..]`: the low 32 bits of
   * XXH64(page, 4096, 0), as a number in [0, 2^32).
   */
  checksumPage(buf: Uint8Array, offset: number): number {
    this.#bytes.set(buf.subarray(offset, offset + PAGE_SIZE), SLOT_A);
    return this.#exports.checksum(SLOT_A) >>> 0;
  }

  /** XXH64 of `bytes` with `seed` (taken modulo 2^64), as an unsigned 64-bit bigint. */
  xxh64(bytes: Uint8Array, seed: bigint = 0n): bigint {
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, SLOT_A);
    return BigInt.asUintN(64, this.#exports.xxh64(SLOT_A, bytes.length, BigInt.asIntN(64, seed)));
  }

  /**
   * A 128-bit fingerprint of the 4096-byte page at `buf[offset..]`: XXH64 with seed 0 in the
   * high 64 bits and with seed 1 in the low 64 (the page is copied in once for both).
   */
  fingerprint(buf: Uint8Array, offset: number): bigint {
    this.#bytes.set(buf.subarray(offset, offset + PAGE_SIZE), SLOT_A);
    const h0 = BigInt.asUintN(64, this.#exports.xxh64(SLOT_A, PAGE_SIZE, 0n));
    const h1 = BigInt.asUintN(64, this.#exports.xxh64(SLOT_A, PAGE_SIZE, 1n));
    return (h0 << 64n) | h1;
  }

  /** Whether two 4096-byte pages are byte-for-byte equal (WASM SIMD). */
  pagesEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
    this.#bytes.set(a.subarray(aOff, aOff + PAGE_SIZE), SLOT_A);
    this.#bytes.set(b.subarray(bOff, bOff + PAGE_SIZE), SLOT_B);
    return this.#exports.eq(SLOT_A, SLOT_B, PAGE_SIZE) !== 0;
  }

  /** memcmp of two 4096-byte pages: the sign of the first differing unsigned byte, or 0. */
  comparePages(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
    this.#bytes.set(a.subarray(aOff, aOff + PAGE_SIZE), SLOT_A);
    this.#bytes.set(b.subarray(bOff, bOff + PAGE_SIZE), SLOT_B);
    return this.#exports.cmp(SLOT_A, SLOT_B, PAGE_SIZE);
  }

  /** Whether the 4096-byte page at `buf[offset..]` is all zero bytes. */
  isZeroPage(buf: Uint8Array, offset: number): boolean {
    this.#bytes.set(buf.subarray(offset, offset + PAGE_SIZE), SLOT_A);
    return this.#exports.iszero(SLOT_A, PAGE_SIZE) !== 0;
  }

  /** Grows the memory so `length` bytes fit at SLOT_A. */
  #reserve(length: number): void {
    const needed = SLOT_A + length;
    const have = this.#memory.buffer.byteLength;
    if (needed <= have) return;
    this.#memory.grow(Math.ceil((needed - have) / WASM_PAGE));
    this.#bytes = new Uint8Array(this.#memory.buffer);
  }
}
