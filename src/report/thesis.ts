/**
 * The thesis's own figures for its experiments (Zhou Xiao, "Research and Implementation of
 * Memory Deduplication in the Linux Desktop Environment", master's thesis, 2013, chapter 5),
 * keyed by the name of the shipped scenario that reproduces each, so that `samepage run`,
 * `compare` and `stats` and the HTML reports print the thesis's figure beside samepage's.
 *
 * Every value is copied from the thesis's text or tables, with where it says so. A figure
 * the thesis gives in MB is converted to 4 KiB pages (the thesis's own 4K pages), and is
 * marked approximate where the thesis says "about" or rounds to a tenth of a MB.
 */
import type { CounterRecord, RunResult } from '../scenario/records.ts';
import { plural } from '../lib/plural.ts';

/** What a figure measures. Scanner figures belong to a policy; statistics ones to the parser. */
export type ThesisMetric =
  | 'merged_pages'
  | 'pages_sharing'
  | 'rmap_items'
  | 'profit'
  | 'settle_s'
  | 'pages'
  | 'unique_pages'
  | 'duplicate_pages'
  | 'saving_pages'
  | 'groups'
  | 'top1'
  | 'top2'
  | 'top3'
  | 'top_three';

export type ThesisPolicy = 'ksm' | 'ksm+';

export interface ThesisFigure {
  /** The scanner the figure is about; absent for the statistics module's figures. */
  readonly policy?: ThesisPolicy;
  readonly metric: ThesisMetric;
  /** The figure in the metric's unit: pages, items, bytes or seconds. */
  readonly value: number;
  /** The thesis says "about", or rounds (to 0.1 MB). */
  readonly approx: boolean;
  /** The thesis's words, briefly. */
  readonly says: string;
  /** Where: "Table 5-2", "section 5.1.1". */
  readonly source: string;
}

export interface ThesisExperiment {
  readonly title: string;
  /** The shipped workload to give `samepage compare` for the scanner figures. */
  readonly workload: string;
  readonly figures: readonly ThesisFigure[];
  /** What a reader must know to compare the figures (a different run, a typo in the thesis). */
  readonly notes: readonly string[];
}

const MB = 2 ** 20;
const KB = 1024;
const pagesOf = (bytes: number): number => Math.round(bytes / 4096);

/** A figure; byte values are rounded to whole bytes. */
function F(
  policy: ThesisPolicy | undefined,
  metric: ThesisMetric,
  raw: number,
  approx: boolean,
  says: string,
  source: string,
): ThesisFigure {
  const value = Math.round(raw);
  return policy === undefined
    ? { metric, value, approx, says, source }
    : { policy, metric, value, approx, says, source };
}

const EXPERIMENT_5_1_1: ThesisExperiment = {
  title: 'Thesis 5.1.1: two test processes of 20 MiB of identical pages, merged by name',
  workload: 'scenarios/thesis/5.1.1-workload.yaml',
  figures: [
    F(
      'ksm+',
      'pages_sharing',
      pagesOf(40 * MB),
      true,
      'about 40 MB saved (system 174.0 -> 134.1 MB)',
      'section 5.1.1, Figure 5-2',
    ),
    F('ksm+', 'settle_s', 65, true, 'merged after about 65 s at 100 pages per 600 ms', 'section 5.1.1'),
  ],
  notes: ["The thesis's own estimate for one pass is 40 x 1024 / 667 = 61 s."],
};

const EXPERIMENT_5_2_3: ThesisExperiment = {
  title: 'Thesis 5.2.3 / Table 5-2: two 100 MiB regions, 256 all-ones pages in each, only the first madvised',
  workload: 'scenarios/thesis/5.2.3-workload.yaml',
  figures: [
    F('ksm', 'merged_pages', 256, false, '256 pages (1 MB) merged', 'section 5.2.3'),
    F('ksm', 'rmap_items', 25600, false, '25600 rmap_items', 'Table 5-2'),
    F('ksm', 'profit', -0.6 * MB, true, 'system memory 0.6 MB higher after merging', 'section 5.2.3'),
    F('ksm+', 'merged_pages', 512, false, '512 pages (2 MB) merged', 'section 5.2.3'),
    F('ksm+', 'rmap_items', 1027, false, '1027 rmap_items', 'Table 5-2'),
    F('ksm+', 'profit', 1.3 * MB, true, 'system memory 1.3 MB lower (325.8 -> 324.5 MB)', 'Table 5-2'),
  ],
  notes: [
    "The thesis's memory figures are the whole system's; samepage's profit is general_profit (merged pages minus rmap_items).",
    "Table 5-2 gives KSM's system memory as 334.4 -> 235.0 MB, which contradicts the text's +0.6 MB; the text is used.",
  ],
};

const EXPERIMENT_5_3_OKULAR: ThesisExperiment = {
  title: 'Thesis 5.3, analysis one (Figure 5-12): the parser module on four okular processes',
  workload: 'scenarios/thesis/5.3-desktop-mix.yaml',
  figures: [
    F(undefined, 'pages', 13249 + 3311, false, '13249 pages without duplicate + 3311 duplicate pages', 'Figure 5-12'),
    F(undefined, 'unique_pages', 13249, false, '13249 pages have no duplicate', 'Figure 5-12'),
    F(undefined, 'duplicate_pages', 3311, false, '3311 duplicate pages', 'section 5.3'),
    F(undefined, 'groups', 27, false, 'they merge into 27 pages', 'section 5.3'),
    F(undefined, 'saving_pages', 3311 - 27, false, '(3311 - 27) x 4 KB = 13136 KB saved', 'section 5.3'),
    F(undefined, 'top1', 2746, false, 'the first, all-ones, 2746 times (16 % of all pages)', 'section 5.3'),
    F(
      undefined,
      'top_three',
      3217,
      false,
      'the top three (all-ones, all-zero, a 32-byte period) 3217 pages',
      'section 5.3',
    ),
    F(
      'ksm+',
      'pages_sharing',
      3668,
      false,
      'pages_sharing 3668 (14.4 MB saved) after about two minutes',
      'section 5.1.2, experiment one',
    ),
    F(
      'ksm+',
      'settle_s',
      120,
      true,
      'KSM+ had nearly finished after about two minutes',
      'section 5.1.2, experiment one',
    ),
  ],
  notes: [
    "The KSM+ figures come from experiment one of 5.1.2, another session of four okular processes with other PDFs; Figure 5-12's own session could save 3284 pages.",
    'The thesis gives only the sum of the second and third groups (471); the scenario splits it 400 zero, 71 period-32.',
  ],
};

const EXPERIMENT_5_3_EPIPHANY: ThesisExperiment = {
  title: 'Thesis 5.3, analysis three: the parser module on the epiphany browser',
  workload: 'scenarios/thesis/5.3-epiphany.yaml',
  figures: [
    F(undefined, 'pages', 21165, false, '21165 pages scanned', 'section 5.3'),
    F(undefined, 'duplicate_pages', 688, false, '688 duplicate pages (3.2 %)', 'section 5.3'),
    F(undefined, 'top1', 366, false, '366 all-zero pages', 'section 5.3'),
    F(undefined, 'top2', 29, false, '29 all-ones pages', 'section 5.3'),
    F(undefined, 'top3', 13, false, '13 pages repeating FFFFFF00', 'section 5.3'),
    F(undefined, 'groups', 3 + 1 + 3 + 53 + 52, false, '3 + 1 + 3 + 53 + 52 duplicated contents', 'section 5.3'),
    F(
      undefined,
      'saving_pages',
      pagesOf(2304 * KB),
      false,
      '(688 - 3 - 1 - 3 - 53 - 52) x 4 KB = 2304 KB saved',
      'section 5.3',
    ),
    F(
      'ksm+',
      'pages_sharing',
      pagesOf(3.6 * MB),
      true,
      "the browser's memory fell by 3.6 MB",
      'section 5.1.2, experiment three',
    ),
  ],
  notes: [
    'The KSM+ figure is from experiment three of 5.1.2, another session: 3.6 MB is more than the 2304 KB this session could save.',
  ],
};

const EXPERIMENT_5_1_2_DESKTOP: ThesisExperiment = {
  title: 'Thesis 5.1.2, experiment four (Figure 5-9, Table 5-1): a desktop session merged by KSM+',
  workload: 'scenarios/thesis/5.1.2-workload.yaml',
  figures: [
    F('ksm+', 'pages_sharing', pagesOf(8.7 * MB), true, 'the processes saved 8.7 MB (111.4 -> 102.7 MB)', 'Table 5-1'),
  ],
  notes: [
    "Table 5-1's total row says 11.7 MB saved, but its rows add up to 8.7 MB; the sum is used.",
    "The whole system's memory fell by 5.7 MB (Figure 5-10): other programs and KSM+'s own memory, which the model does not have.",
  ],
};

/** The experiments by scenario name: each workload and the runnable scenarios built on it. */
const BY_SCENARIO: ReadonlyMap<string, ThesisExperiment> = new Map([
  ['thesis-5.1.1', EXPERIMENT_5_1_1],
  ['thesis-5.1.1-ksmplus', EXPERIMENT_5_1_1],
  ['thesis-5.2.3', EXPERIMENT_5_2_3],
  ['thesis-5.2.3-ksm', EXPERIMENT_5_2_3],
  ['thesis-5.3-desktop-mix', EXPERIMENT_5_3_OKULAR],
  ['thesis-5.3-desktop-mix-ksm', EXPERIMENT_5_3_OKULAR],
  ['thesis-5.3-epiphany', EXPERIMENT_5_3_EPIPHANY],
  ['thesis-5.3-epiphany-ksm', EXPERIMENT_5_3_EPIPHANY],
  ['thesis-5.1.2', EXPERIMENT_5_1_2_DESKTOP],
  ['thesis-5.1.2-desktop', EXPERIMENT_5_1_2_DESKTOP],
]);

/** The thesis experiment a scenario reproduces, if it is one. */
export function thesisExperiment(scenario: string): ThesisExperiment | undefined {
  return BY_SCENARIO.get(scenario);
}

/** What compare measured under one policy (the fields of a policy result it needs). */
export interface PolicyFigures {
  /** ksm, ksm+, or plus (the daemon, which the thesis did not have). */
  readonly policy: string;
  readonly merged_pages: number;
  readonly pages_sharing: number;
  readonly rmap_items: number;
  readonly profit: number;
  readonly merged_settle_s: number;
}

/** What the statistics module counted (the fields of a statistics result it needs). */
export interface StatisticsFigures {
  readonly pages: number;
  readonly unique_pages: number;
  readonly duplicate_pages: number;
  readonly saving_pages: number;
  /** Every duplicated content, highest count first (at least three for the top figures). */
  readonly top: ReadonlyArray<{ readonly count: number }>;
  /** Duplicated contents in all, when `top` was cut short. */
  readonly groups?: number;
}

/** samepage's value of a scanner figure in a compare result, or undefined if not measured. */
export function measuredByPolicy(f: ThesisFigure, results: readonly PolicyFigures[]): number | undefined {
  const r = results.find((x) => x.policy === f.policy);
  if (r === undefined) return undefined;
  switch (f.metric) {
    case 'merged_pages':
      return r.merged_pages;
    case 'pages_sharing':
      return r.pages_sharing;
    case 'rmap_items':
      return r.rmap_items;
    case 'profit':
      return r.profit;
    case 'settle_s':
      return r.merged_settle_s;
    default:
      return undefined;
  }
}

/** samepage's value of a statistics figure, or undefined if it is a scanner figure. */
export function measuredByStatistics(f: ThesisFigure, s: StatisticsFigures): number | undefined {
  if (f.policy !== undefined) return undefined;
  const top = (i: number) => s.top[i]?.count;
  switch (f.metric) {
    case 'pages':
      return s.pages;
    case 'unique_pages':
      return s.unique_pages;
    case 'duplicate_pages':
      return s.duplicate_pages;
    case 'saving_pages':
      return s.saving_pages;
    case 'groups':
      return s.groups ?? s.top.length;
    case 'top1':
      return top(0);
    case 'top2':
      return top(1);
    case 'top3':
      return top(2);
    case 'top_three':
      return (top(0) ?? 0) + (top(1) ?? 0) + (top(2) ?? 0);
    default:
      return undefined;
  }
}

/**
 * samepage's value of a scanner figure in a run's records: the last record's counters of
 * that scanner (KSM's /sys/kernel/mm/ksm, KSM+'s /sys/kernel/mm/ksm+); for settle_s, the
 * time of the first record at which pages_sharing had its final value, counted from the
 * last record before the scanner started. Undefined when that scanner never ran.
 */
export function measuredByRecords(f: ThesisFigure, records: readonly CounterRecord[]): number | undefined {
  if (f.policy === undefined) return undefined;
  const files = (r: CounterRecord) => (f.policy === 'ksm' ? r.ksm : (r.ksmplus ?? {}));
  const num = (r: CounterRecord, name: string): number => Number(files(r)[name] ?? 0);
  const last = records.at(-1);
  if (last === undefined || !scannerRan(records, f.policy)) return undefined;
  switch (f.metric) {
    case 'merged_pages':
      return Object.values(last.procs).reduce((n, p) => n + p.ksm_merging_pages, 0);
    case 'pages_sharing':
      return num(last, 'pages_sharing');
    // KSM has no rmap_items file: its items are the sum of the processes' ksm_rmap_items.
    case 'rmap_items':
      return f.policy === 'ksm'
        ? Object.values(last.procs).reduce((n, p) => n + p.ksm_rmap_items, 0)
        : num(last, 'rmap_items');
    case 'profit':
      return num(last, 'general_profit');
    case 'settle_s': {
      const final = num(last, 'pages_sharing');
      const start = records.filter((r) => num(r, 'full_scans') === 0 && num(r, 'pages_sharing') === 0).at(-1);
      const done = records.find((r) => num(r, 'pages_sharing') === final);
      return start === undefined || done === undefined ? undefined : (done.time_ms - start.time_ms) / 1000;
    }
    default:
      return undefined;
  }
}

/** Whether a scanner did anything in these records (a scan, an rmap_item or a merge). */
export function scannerRan(records: readonly CounterRecord[], policy: ThesisPolicy): boolean {
  return records.some((r) => {
    const files = policy === 'ksm' ? r.ksm : r.ksmplus;
    return (
      files !== undefined &&
      ['full_scans', 'rmap_items', 'pages_sharing', 'pages_scanned'].some((k) => Number(files[k] ?? 0) > 0)
    );
  });
}

/** A figure's value as people read it: pages with their MiB, bytes in MiB, seconds. */
export function formatFigure(f: ThesisFigure, value: number): string {
  const mib = (bytes: number) => `${(bytes / MB).toFixed(bytes % MB === 0 ? 0 : 2)} MiB`;
  switch (f.metric) {
    case 'settle_s':
      return `${value.toFixed(1)} s`;
    case 'profit':
      return `${value} B (${mib(value)})`;
    case 'rmap_items':
      return `${value}`;
    case 'groups':
      return plural(value, 'content');
    default:
      return `${plural(value, 'page')} (${mib(value * 4096)})`;
  }
}

/** One row of a "thesis beside samepage" table. */
export interface FigureRow {
  readonly what: string;
  readonly samepage: string;
  readonly thesis: string;
  /** Where the thesis says so, and what it says. */
  readonly source: string;
}

const METRIC_NAMES: Readonly<Record<ThesisMetric, string>> = {
  merged_pages: 'merged pages (Σ ksm_merging_pages)',
  pages_sharing: 'pages saved (pages_sharing)',
  rmap_items: 'rmap_items',
  profit: 'profit (general_profit)',
  settle_s: 'time until merged',
  pages: 'pages counted',
  unique_pages: 'pages without duplicate',
  duplicate_pages: 'duplicate pages',
  saving_pages: 'pages merging would free',
  groups: 'duplicated contents',
  top1: 'most duplicated content',
  top2: 'second most duplicated',
  top3: 'third most duplicated',
  top_three: 'top three contents together',
};

/** The thesis's figures of one experiment beside samepage's, ready to print. */
export interface ThesisComparison {
  readonly title: string;
  readonly rows: readonly FigureRow[];
  readonly notes: readonly string[];
}

export interface ComparisonOptions {
  /** The scenario file, for the hint at statistics figures (stats takes any scenario). */
  readonly file?: string;
  /** samepage's settle_s is only known to the record that first showed it (run). */
  readonly settleAtRecord?: boolean;
}

/**
 * The thesis's figures with samepage's beside them; `measure` gives samepage's value of a
 * figure, or undefined where this command did not measure it (the row says which does).
 */
export function thesisComparison(
  exp: ThesisExperiment,
  measure: (f: ThesisFigure) => number | undefined,
  opts: ComparisonOptions = {},
): ThesisComparison {
  const file = opts.file ?? 'FILE';
  // Where the figures this command did not measure come from: said once, under the table.
  const elsewhere = new Map<string, string>();
  const rows = exp.figures.map((f): FigureRow => {
    const v = measure(f);
    const who = f.policy === undefined ? 'statistics' : f.policy.toUpperCase();
    if (v === undefined)
      elsewhere.set(who, f.policy === undefined ? `samepage stats ${file}` : `samepage compare ${exp.workload}`);
    const shown = v === undefined ? '-' : formatFigure(f, v);
    return {
      what: `${who}: ${METRIC_NAMES[f.metric]}`,
      samepage:
        v !== undefined && f.metric === 'settle_s' && opts.settleAtRecord === true
          ? `by ${shown} (first record with the final pages_sharing)`
          : shown,
      thesis: `${f.approx ? 'about ' : ''}${formatFigure(f, f.value)}`,
      source: `${f.source}: ${f.says}`,
    };
  });
  const pointers = [...elsewhere].map(([who, command]) => `The ${who} figures marked - come from ${command}.`);
  return { title: exp.title, rows, notes: [...pointers, ...exp.notes] };
}

/** The thesis's figures beside the run's, when the scenario reproduces one of its experiments. */
export function runThesisComparison(result: RunResult, file: string): ThesisComparison | undefined {
  const exp = thesisExperiment(result.scenario);
  return exp === undefined
    ? undefined
    : thesisComparison(exp, (f) => measuredByRecords(f, result.records), { file, settleAtRecord: true });
}

/** The thesis's figures beside `samepage stats` of scenario `name` (in `file`), when it is one of its experiments. */
export function statisticsThesisComparison(
  name: string,
  all: StatisticsFigures,
  file: string,
): ThesisComparison | undefined {
  const exp = thesisExperiment(name);
  return exp === undefined ? undefined : thesisComparison(exp, (f) => measuredByStatistics(f, all), { file });
}
