/**
 * The knobs of the KSM+ daemon for stock kernels (`samepage plus`): the thesis's sampling
 * constants with the meanings and defaults of the model's /sys/kernel/mm/ksm+ (src/ksmplus/),
 * and the daemon's own pace and marking rules. Each is a file of the daemon's control
 * directory (/run/samepage/ksm+/ on a live machine), a key of its config file and a
 * `--set` of `samepage plus`. docs/ksmplus-live.md gives the measurements behind the
 * defaults.
 */

export interface PlusKnobs {
  /** 0 stop sampling (marks stay), 1 run, 2 stop and unmark every range (the pages unmerge). */
  readonly run: number;
  /** Pages read (sampled) per batch. */
  readonly pages_to_scan: number;
  /** Sleep between batches. */
  readonly sleep_millisecs: number;
  /**
   * A round starts at most this often: once the coefficients sit at their floor a round is
   * short, and without this the daemon would sample the same 1 % several times a second.
   */
  readonly round_millisecs: number;
  /** Percent of a region's pages sampled in its first round (thesis: 100). */
  readonly initial_coefficient: number;
  /** How much the coefficient falls after each round (thesis: 10). */
  readonly coefficient_step: number;
  /** The coefficient's floor: a region that keeps merged pages is sampled at 1 % for ever. */
  readonly min_coefficient: number;
  /**
   * A region whose decremented coefficient (before the floor) is below this, with nothing of
   * it merged or marked, is dropped: not sampled again until it changes (thesis: 10).
   */
  readonly drop_coefficient: number;
  /** Unmarked pages between two duplicates that one marked range may bridge. */
  readonly merge_gap: number;
  /** ksmd full scans a marked range gets to merge something before it is demoted. */
  readonly demote_scans: number;
  /** Marked ranges per process at most (each can split a VMA in three). */
  readonly max_ranges: number;
  /** Rounds a sampled page stays in the duplicate index without being sampled again. */
  readonly index_rounds: number;
}

export type PlusKnobName = keyof PlusKnobs;

/** One knob: default and the values a write may give (anything else is EINVAL). */
export interface KnobSpec {
  readonly name: PlusKnobName;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly what: string;
}

/**
 * Every knob, in the order the control directory and `status` list them. The pace
 * (pages_to_scan, sleep_millisecs) is not the thesis's 100 pages per 600 ms: a sampled page
 * costs the live daemon about 2.4 us of CPU to read and hash and 0.6 us to look up, and a
 * wake-up about 1.1 ms (measured, docs/ksmplus-live.md "Sampling pace and the other
 * defaults"). At 2000 pages per 100 ms the Table 5-2 program had 512 pages merging 1.7 s
 * after it was selected, the daemon used 7.4 % of one CPU in the first 10 s and about 1 %
 * once the rounds settled; 500 pages took 5.7 s and 8000 pages 0.8 s at 11.5 %.
 */
export const KNOB_SPECS: readonly KnobSpec[] = [
  { name: 'run', default: 0, min: 0, max: 2, what: '0 stop, 1 run, 2 stop and unmark every range' },
  { name: 'pages_to_scan', default: 2000, min: 0, max: 1_000_000, what: 'pages sampled per batch' },
  { name: 'sleep_millisecs', default: 100, min: 1, max: 3_600_000, what: 'sleep between batches' },
  { name: 'round_millisecs', default: 1000, min: 0, max: 3_600_000, what: 'a round starts at most this often' },
  { name: 'initial_coefficient', default: 100, min: 1, max: 100, what: 'percent sampled in a first round' },
  { name: 'coefficient_step', default: 10, min: 0, max: 100, what: 'fall of the coefficient per round' },
  { name: 'min_coefficient', default: 1, min: 1, max: 100, what: 'floor of the coefficient' },
  { name: 'drop_coefficient', default: 10, min: 0, max: 100, what: 'a region with nothing merged goes below this' },
  { name: 'merge_gap', default: 8, min: 0, max: 4096, what: 'unmarked pages one range may bridge' },
  { name: 'demote_scans', default: 3, min: 1, max: 1_000_000, what: 'ksmd full scans a range gets to merge' },
  { name: 'max_ranges', default: 256, min: 1, max: 16_384, what: 'marked ranges per process' },
  { name: 'index_rounds', default: 2, min: 1, max: 1000, what: 'rounds a sampled page stays indexed' },
];

export const PLUS_DEFAULTS: PlusKnobs = Object.fromEntries(
  KNOB_SPECS.map((k) => [k.name, k.default]),
) as unknown as PlusKnobs;

export function knobSpec(name: string): KnobSpec | undefined {
  return KNOB_SPECS.find((k) => k.name === name);
}

/**
 * A knob's value from the text of a write: decimal digits, an optional trailing newline
 * (echo adds one), inside the knob's range; undefined when the write is invalid (EINVAL).
 */
export function parseKnobValue(spec: KnobSpec, text: string): number | undefined {
  const m = /^\s*(\d{1,16})\s*$/.exec(text);
  if (m === null) return undefined;
  const v = Number(m[1]);
  return v >= spec.min && v <= spec.max ? v : undefined;
}
