/**
 * The scenario-file format (docs/scenario-format.md, version 1) as TypeScript types.
 * These are plain readonly data: the parser produces them, backends consume them.
 */

import type { Pattern } from '../lib/patterns.ts';
import type { WaitUnit } from '../system.ts';

export type { Pattern, WaitUnit };

export type Advice = 'MADV_MERGEABLE' | 'MADV_UNMERGEABLE' | 'MADV_DONTNEED';
export type PrctlOption = 'PR_SET_MEMORY_MERGE' | 'PR_GET_MEMORY_MERGE';

/** Where a step came from in the file, for messages. */
export interface StepSource {
  readonly index: number;
  readonly line: number | undefined;
}

export type Step =
  | { readonly kind: 'spawn'; readonly proc: string; readonly comm: string }
  | {
      readonly kind: 'mmap';
      readonly proc: string;
      readonly region: string;
      readonly size: number;
      readonly shared: boolean;
      readonly node: number | undefined;
    }
  | {
      readonly kind: 'fill';
      readonly proc: string;
      readonly region: string;
      readonly pattern: Pattern;
      readonly offset: number;
      /** undefined: to the end of the region. */
      readonly size: number | undefined;
    }
  | {
      readonly kind: 'write';
      readonly proc: string;
      readonly region: string;
      readonly offset: number;
      readonly bytes: Uint8Array;
    }
  | {
      readonly kind: 'read';
      readonly proc: string;
      readonly region: string;
      readonly offset: number;
      readonly size: number;
      readonly sha256: string;
    }
  | {
      readonly kind: 'madvise';
      readonly proc: string;
      readonly region: string;
      readonly advice: Advice;
      readonly offset: number;
      /** undefined: to the end of the region. */
      readonly size: number | undefined;
      /** The return value the call must give: a number, or an errno name for -errno. */
      readonly returns?: number | string;
    }
  | {
      readonly kind: 'prctl';
      readonly proc: string;
      readonly option: PrctlOption;
      readonly arg: number;
      /** The return value the call must give: a number (PR_GET_MEMORY_MERGE's 0 or 1), or an errno name. */
      readonly returns?: number | string;
    }
  | { readonly kind: 'fork'; readonly proc: string; readonly child: string }
  | { readonly kind: 'exec'; readonly proc: string; readonly comm: string }
  | { readonly kind: 'munmap'; readonly proc: string; readonly region: string }
  | { readonly kind: 'exit'; readonly proc: string }
  | { readonly kind: 'sysfs'; readonly path: string; readonly value: string; readonly errno: string | undefined }
  | { readonly kind: 'wait'; readonly unit: WaitUnit; readonly count: number }
  | { readonly kind: 'expect'; readonly checks: readonly ExpectCheck[] }
  | { readonly kind: 'record'; readonly label: string };

/** One `path: value` of an expect step. */
export interface ExpectCheck {
  readonly path: string;
  readonly expected: number | string;
}

export interface Machine {
  /** Model RAM in bytes. */
  readonly ram: number;
  readonly numaNodes: number;
  /**
   * Read faults allocate a page instead of mapping the shared zero page (mm_forbids_zeropage);
   * undefined where the file does not say: the model then takes Linux's default (false), or
   * the live kernel's when it is compared with one (differential/diff.ts).
   */
  readonly mmForbidsZeropage?: boolean;
}

export interface Scenario {
  readonly version: 1;
  readonly name: string;
  readonly description: string | undefined;
  readonly machine: Machine;
  /** Initial /sys/kernel/mm/ksm values, in file order. */
  readonly ksm: ReadonlyArray<readonly [file: string, value: string]>;
  readonly steps: readonly Step[];
  /** Line of each step in the source file (same index as steps), when known. */
  readonly stepLines: ReadonlyArray<number | undefined>;
}

export type StepKind = Step['kind'];
