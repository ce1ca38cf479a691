;; samepage page kernel: XXH64 and 4 KiB page comparisons over one imported memory.
;; Hand-written from the XXH64 specification (github.com/Cyan4973/xxHash, doc/xxhash_spec.md)
;; because hashing pages is the hottest loop of a KSM scan: in WebAssembly the 64-bit
;; multiplies are native, where JavaScript would need BigInt or 16-bit limbs.
;; Rebuild the committed bytes with `node scripts/build-wasm.mjs` after editing.
(module
  (memory (import "env" "memory") 1)

  ;; XXH64 primes (spec section "Prime constants").
  (global $P1 i64 (i64.const 0x9E3779B185EBCA87))
  (global $P2 i64 (i64.const 0xC2B2AE3D27D4EB4F))
  (global $P3 i64 (i64.const 0x165667B19E3779F9))
  (global $P4 i64 (i64.const 0x85EBCA77C2B2AE63))
  (global $P5 i64 (i64.const 0x27D4EB2F165667C5))

  ;; One accumulator round: acc = rotl(acc + lane * P2, 31) * P1.
  (func $round (param $acc i64) (param $lane i64) (result i64)
    (i64.mul
      (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $lane) (global.get $P2))) (i64.const 31))
      (global.get $P1)))

  ;; Folds an accumulator into the hash: h = (h ^ round(0, acc)) * P1 + P4.
  (func $merge (param $h i64) (param $acc i64) (result i64)
    (i64.add
      (i64.mul (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $acc))) (global.get $P1))
      (global.get $P4)))

  ;; XXH64 of memory[p, p + len) with the given seed.
  (func $xxh64 (export "xxh64") (param $p i32) (param $len i32) (param $seed i64) (result i64)
    (local $end i32) (local $limit i32) (local $h i64)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (if (i32.ge_u (local.get $len) (i32.const 32))
      (then
        (local.set $v1 (i64.add (i64.add (local.get $seed) (global.get $P1)) (global.get $P2)))
        (local.set $v2 (i64.add (local.get $seed) (global.get $P2)))
        (local.set $v3 (local.get $seed))
        (local.set $v4 (i64.sub (local.get $seed) (global.get $P1)))
        (local.set $limit (i32.sub (local.get $end) (i32.const 32)))
        ;; 32-byte stripes, two per iteration while 64 bytes remain, then one. The rounds are
        ;; written out, with P1 and P2 as immediates, so the loop body has no calls or global
        ;; loads: measured 20-35 % faster than one stripe per iteration reading the globals.
        (block $done64
          (loop $stripes64
            (br_if $done64 (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $limit)))
          (local.set $v1 (i64.mul (i64.rotl (i64.add (local.get $v1)
            (i64.mul (i64.load offset=0 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v2 (i64.mul (i64.rotl (i64.add (local.get $v2)
            (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v3 (i64.mul (i64.rotl (i64.add (local.get $v3)
            (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v4 (i64.mul (i64.rotl (i64.add (local.get $v4)
            (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v1 (i64.mul (i64.rotl (i64.add (local.get $v1)
            (i64.mul (i64.load offset=32 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v2 (i64.mul (i64.rotl (i64.add (local.get $v2)
            (i64.mul (i64.load offset=40 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v3 (i64.mul (i64.rotl (i64.add (local.get $v3)
            (i64.mul (i64.load offset=48 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v4 (i64.mul (i64.rotl (i64.add (local.get $v4)
            (i64.mul (i64.load offset=56 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
            (local.set $p (i32.add (local.get $p) (i32.const 64)))
            (br $stripes64)))
        (block $done32
          (loop $stripes
            (br_if $done32 (i32.gt_u (local.get $p) (local.get $limit)))
          (local.set $v1 (i64.mul (i64.rotl (i64.add (local.get $v1)
            (i64.mul (i64.load offset=0 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v2 (i64.mul (i64.rotl (i64.add (local.get $v2)
            (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v3 (i64.mul (i64.rotl (i64.add (local.get $v3)
            (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
          (local.set $v4 (i64.mul (i64.rotl (i64.add (local.get $v4)
            (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31)) (i64.const 0x9E3779B185EBCA87)))
            (local.set $p (i32.add (local.get $p) (i32.const 32)))
            (br $stripes)))
        (local.set $h (i64.add
          (i64.add (i64.rotl (local.get $v1) (i64.const 1)) (i64.rotl (local.get $v2) (i64.const 7)))
          (i64.add (i64.rotl (local.get $v3) (i64.const 12)) (i64.rotl (local.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (local.get $v1)))
        (local.set $h (call $merge (local.get $h) (local.get $v2)))
        (local.set $h (call $merge (local.get $h) (local.get $v3)))
        (local.set $h (call $merge (local.get $h) (local.get $v4))))
      (else
        (local.set $h (i64.add (local.get $seed) (global.get $P5)))))
    (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (local.get $len))))
    ;; Remaining 8-byte lanes.
    (block $done8
      (loop $lanes8
        (br_if $done8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $p)))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 27)) (global.get $P1)) (global.get $P4)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $lanes8)))
    ;; At most one 4-byte lane.
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h (i64.xor (local.get $h)
          (i64.mul (i64.load32_u (local.get $p)) (global.get $P1))))
        (local.set $h (i64.add (i64.mul (i64.rotl (local.get $h) (i64.const 23)) (global.get $P2)) (global.get $P3)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    ;; Remaining single bytes.
    (block $done1
      (loop $bytes
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h (i64.xor (local.get $h)
          (i64.mul (i64.load8_u (local.get $p)) (global.get $P5))))
        (local.set $h (i64.mul (i64.rotl (local.get $h) (i64.const 11)) (global.get $P1)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    ;; Avalanche.
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (global.get $P2)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (global.get $P3)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))

  ;; KSM's page checksum: the low 32 bits of XXH64(page, 4096, seed 0), as an i32.
  (func (export "checksum") (param $p i32) (result i32)
    (i32.wrap_i64 (call $xxh64 (local.get $p) (i32.const 4096) (i64.const 0))))

  ;; 1 when memory[a, a + len) equals memory[b, b + len), else 0; len a multiple of 64.
  (func (export "eq") (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $a) (local.get $len)))
    (block $differ
      (loop $blocks
        (br_if $differ (v128.any_true (v128.or
          (v128.or
            (v128.xor (v128.load offset=0 (local.get $a)) (v128.load offset=0 (local.get $b)))
            (v128.xor (v128.load offset=16 (local.get $a)) (v128.load offset=16 (local.get $b))))
          (v128.or
            (v128.xor (v128.load offset=32 (local.get $a)) (v128.load offset=32 (local.get $b)))
            (v128.xor (v128.load offset=48 (local.get $a)) (v128.load offset=48 (local.get $b)))))))
        (local.set $a (i32.add (local.get $a) (i32.const 64)))
        (local.set $b (i32.add (local.get $b) (i32.const 64)))
        (br_if $blocks (i32.lt_u (local.get $a) (local.get $end))))
      (return (i32.const 1)))
    (i32.const 0))

  ;; memcmp order: the difference of the first differing unsigned bytes, 0 when equal;
  ;; len a multiple of 16.
  (func (export "cmp") (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $end i32) (local $x i32) (local $y i32)
    (local.set $end (i32.add (local.get $a) (local.get $len)))
    (block $equal
      (loop $blocks
        (br_if $equal (i32.ge_u (local.get $a) (local.get $end)))
        (if (i8x16.all_true (i8x16.eq (v128.load (local.get $a)) (v128.load (local.get $b))))
          (then
            (local.set $a (i32.add (local.get $a) (i32.const 16)))
            (local.set $b (i32.add (local.get $b) (i32.const 16)))
            (br $blocks)))
        ;; This 16-byte block differs somewhere: find the first byte that does.
        (loop $bytes
          (local.set $x (i32.load8_u (local.get $a)))
          (local.set $y (i32.load8_u (local.get $b)))
          (if (i32.ne (local.get $x) (local.get $y))
            (then (return (i32.sub (local.get $x) (local.get $y)))))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br $bytes))))
    (i32.const 0))

  ;; 1 when memory[p, p + len) is all zero bytes, else 0; len a multiple of 64.
  (func (export "iszero") (param $p i32) (param $len i32) (result i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $nonzero
      (loop $blocks
        (br_if $nonzero (v128.any_true (v128.or
          (v128.or (v128.load offset=0 (local.get $p)) (v128.load offset=16 (local.get $p)))
          (v128.or (v128.load offset=32 (local.get $p)) (v128.load offset=48 (local.get $p))))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br_if $blocks (i32.lt_u (local.get $p) (local.get $end))))
      (return (i32.const 1)))
    (i32.const 0))
;; Pattern pages (the scenario contract's word patterns): the 512 64-bit little-endian
;; words of one 4 KiB page at dst, word j holding f(first + j). Generating a page here costs
;; a fraction of the JavaScript generator, whose 64-bit multiplies need 16-bit pieces.
;; Word counters arrive as f64 (exact below 2^53) so JavaScript passes no BigInt.

  ;; splitmix64 words: word j holds mix(base + c), c = (first + j) wrapping to 0 at `wrap`
  ;; (0: never), base = seed + 0x9E3779B97F4A7C15 as two 32-bit halves: `random` (no wrap)
  ;; and `page-mod` (wrap 512 * N).
  (func (export "gen_splitmix") (param $dst i32) (param $baseLo i32) (param $baseHi i32)
      (param $first f64) (param $wrap f64)
    (local $end i32) (local $base i64) (local $c i64) (local $w i64) (local $z i64)
    (local.set $end (i32.add (local.get $dst) (i32.const 4096)))
    (local.set $base (i64.or (i64.extend_i32_u (local.get $baseLo))
      (i64.shl (i64.extend_i32_u (local.get $baseHi)) (i64.const 32))))
    (local.set $c (i64.trunc_f64_u (local.get $first)))
    (local.set $w (i64.trunc_f64_u (local.get $wrap)))
    (loop $words
      (local.set $z (i64.add (local.get $base) (local.get $c)))
      (local.set $z (i64.mul (i64.xor (local.get $z) (i64.shr_u (local.get $z) (i64.const 30)))
        (i64.const 0xBF58476D1CE4E5B9)))
      (local.set $z (i64.mul (i64.xor (local.get $z) (i64.shr_u (local.get $z) (i64.const 27)))
        (i64.const 0x94D049BB133111EB)))
      (i64.store (local.get $dst) (i64.xor (local.get $z) (i64.shr_u (local.get $z) (i64.const 31))))
      (local.set $c (i64.add (local.get $c) (i64.const 1)))
      (if (i64.eq (local.get $c) (local.get $w)) (then (local.set $c (i64.const 0))))
      (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
      (br_if $words (i32.lt_u (local.get $dst) (local.get $end)))))

  ;; Counting words: word j holds first + j (`word-index`), or its negation mod 2^64 when
  ;; $negate is 1 (`neg-word-index`).
  (func (export "gen_index") (param $dst i32) (param $first f64) (param $negate i32)
    (local $end i32) (local $c i64)
    (local.set $end (i32.add (local.get $dst) (i32.const 4096)))
    (local.set $c (i64.trunc_f64_u (local.get $first)))
    (loop $words
      (i64.store (local.get $dst)
        (select (i64.sub (i64.const 0) (local.get $c)) (local.get $c) (local.get $negate)))
      (local.set $c (i64.add (local.get $c) (i64.const 1)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 8)))
      (br_if $words (i32.lt_u (local.get $dst) (local.get $end)))))
)
