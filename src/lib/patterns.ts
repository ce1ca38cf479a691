/**
 * Fill patterns of the scenario contract (../shared/SCENARIO.md, "Patterns"): every byte of
 * a filled range is a function of its offset from the start of the region.
 */
export type Pattern =
  | { readonly kind: 'zero' }
  | { readonly kind: 'byte'; readonly byte: number }
  | { readonly kind: 'byte-cycle' }
  | { readonly kind: 'word-index' }
  | { readonly kind: 'neg-word-index' }
  | { readonly kind: 'random'; readonly seed: bigint }
  | { readonly kind: 'page-mod'; readonly period: number; readonly seed: bigint }
  | { readonly kind: 'text'; readonly text: string };
