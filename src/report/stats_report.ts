/**
 * The duplicate-page statistics (the thesis's parser module) for people: the tables of
 * `samepage stats`, and a report section with a histogram of the pages by how many copies
 * of their content there are, stacked by the content's class, the summary figures and the
 * most duplicated contents.
 */
import { formatBytes, PAGE_SIZE } from '../lib/sizes.ts';
import { fitText } from '../lib/text_width.ts';
import { fitTable } from './fit_table.ts';
import type { StatisticsResult } from '../stats/duplicate_statistics.ts';
import { histogramChart, renderSvg, type HistogramBar, type TopLevelSpec } from './charts.ts';
import type { RunResult } from '../scenario/records.ts';
import { escapeHtml, type ExtraSection, renderHtmlReport } from './html.ts';
import type { ThesisComparison } from './thesis.ts';

/** What the statistics module counted; `top` holds every duplicated content, or the first of them. */
type StatisticsShape = Pick<
  StatisticsResult,
  'pages' | 'unique_pages' | 'duplicate_pages' | 'saving_pages' | 'top' | 'by_process'
>;

/** The per-process columns, for the terminal and the report: pid, comm, then pages with their bytes. */
const PROCESS_HEAD = ['pid', 'comm', 'pages', 'duplicate', 'saving alone'] as const;

function processRows(s: StatisticsShape): string[][] {
  const pages = (n: number) => `${n} (${formatBytes(n * PAGE_SIZE, 1)})`;
  return Object.entries(s.by_process).map(([pid, p]) => [
    pid,
    p.comm,
    pages(p.pages),
    pages(p.duplicate_pages),
    pages(p.saving_pages),
  ]);
}

/** What the per-process columns mean, said once under the table. */
const PROCESS_NOTE =
  'duplicate: pages whose content is held in two frames or more in all; saving alone: pages merging this process only would free';

/**
 * `samepage stats` as tables: the figures, the most duplicated contents, and each process;
 * `groups` is the number of duplicated contents in all (the result's `top` may be cut).
 */
export function renderStatisticsTables(r: StatisticsResult, groups: number, width?: number): string {
  const pct = (n: number): string => (r.pages === 0 ? '-' : `${((100 * n) / r.pages).toFixed(1)} %`);
  const summary = fitTable(
    [
      { head: '', wrap: true },
      { head: '', align: 'right' },
      { head: '', align: 'right' },
    ],
    [
      ['pages', String(r.pages), formatBytes(r.pages * PAGE_SIZE, 1)],
      // Pages that already share a frame (KSM merged them, or a fork left them shared) are
      // one copy: merging frees nothing more of them, so they count once below.
      ...(r.frames < r.pages
        ? [['frames they are in (pages merged or shared by fork count once)', String(r.frames), pct(r.frames)]]
        : []),
      ['unique pages (content in one frame)', String(r.unique_pages), pct(r.unique_pages)],
      ['duplicate pages (content in two frames or more)', String(r.duplicate_pages), pct(r.duplicate_pages)],
      ['duplicated contents', String(groups), ''],
      ['pages merging would free', String(r.saving_pages), formatBytes(r.saving_pages * PAGE_SIZE, 1)],
    ],
    { width },
  );
  const top = fitTable(
    [{ head: 'count', align: 'right' }, { head: 'md5', drop: 1 }, { head: 'class' }],
    r.top.map((g) => [String(g.count), g.md5, g.class]),
    { width, compact: true },
  );
  const procs = fitTable(
    PROCESS_HEAD.map((head, i) => ({
      head,
      ...(i === 1 ? { wrap: true } : i === 0 ? {} : { align: 'right' as const }),
      ...(head === 'duplicate' ? { drop: 1 } : {}),
    })),
    processRows(r),
    { width, compact: true },
  );
  const note = `Per process (${PROCESS_NOTE}):`;
  return (
    `${summary}\n` +
    (r.top.length > 0
      ? `Most duplicated contents:\n${top}\n`
      : r.frames < r.pages
        ? 'No content is held in two frames: what is shared already is all merging would share.\n'
        : 'No page has a duplicate.\n') +
    `${fitText(note, width)}\n${procs}\n`
  );
}

/** Buckets of copies: a page's content occurs this many times in all. */
const BUCKETS: ReadonlyArray<readonly [label: string, min: number, max: number]> = [
  ['1 (no duplicate)', 1, 1],
  ['2', 2, 2],
  ['3', 3, 3],
  ['4', 4, 4],
  ['5–9', 5, 9],
  ['10–99', 10, 99],
  ['100–999', 100, 999],
  ['1000 or more', 1000, Number.POSITIVE_INFINITY],
];

const CLASS_ORDER = ['no duplicate', 'zero', 'ones', 'period', 'other'];
const CLASS_COLOURS = ['#bab0ac', '#4c78a8', '#eeca3b', '#54a24b', '#e45756'];

/** period-32 and period-4 share a colour: the legend stays short. */
const classGroup = (cls: string): string => (cls.startsWith('period-') ? 'period' : cls);

/**
 * The histogram: for each bucket of copies, the pages whose content has that many copies,
 * by class. Needs `top` to hold every duplicated content; pages of contents left out of a
 * cut-short `top` are drawn as class "other" in the bucket "2" (they have at least two).
 */
export function statisticsHistogram(s: StatisticsShape, subtitle?: string): TopLevelSpec {
  const pages = new Map<string, number>();
  const add = (bucket: string, cls: string, n: number) =>
    pages.set(`${bucket}\u0000${cls}`, (pages.get(`${bucket}\u0000${cls}`) ?? 0) + n);
  if (s.unique_pages > 0) add(BUCKETS[0]![0], 'no duplicate', s.unique_pages);
  let listed = 0;
  for (const g of s.top) {
    const bucket = BUCKETS.find(([, min, max]) => g.count >= min && g.count <= max)![0];
    add(bucket, classGroup(g.class), g.count);
    listed += g.count;
  }
  if (listed < s.duplicate_pages) add('2', 'other', s.duplicate_pages - listed);
  const bars: HistogramBar[] = [];
  for (const [label] of BUCKETS) {
    for (const cls of CLASS_ORDER) {
      const count = pages.get(`${label}\u0000${cls}`);
      if (count !== undefined) bars.push({ label, count, class: cls });
    }
  }
  return histogramChart(bars, {
    title: 'Pages by copies of their content',
    ...(subtitle === undefined ? {} : { subtitle }),
    xTitle: "copies of the page's content (MD5) among all pages counted",
    yTitle: 'pages (log scale)',
    classTitle: 'content',
    classOrder: CLASS_ORDER,
    classColours: CLASS_COLOURS,
    logScale: true,
    // Room for the classes side by side in each bucket.
    width: 720,
  });
}

/** The statistics as a report section: the histogram, the figures and the top contents. */
export async function statisticsSection(
  s: StatisticsShape,
  title: string,
  subtitle?: string,
  top = 20,
): Promise<ExtraSection> {
  const pct = (n: number) => (s.pages === 0 ? '-' : `${((100 * n) / s.pages).toFixed(1)} %`);
  const figures = [
    ['pages counted', s.pages, formatBytes(s.pages * PAGE_SIZE, 1)],
    ['pages without duplicate', s.unique_pages, pct(s.unique_pages)],
    ['duplicate pages', s.duplicate_pages, pct(s.duplicate_pages)],
    ['pages merging would free', s.saving_pages, formatBytes(s.saving_pages * PAGE_SIZE, 1)],
  ] as const;
  const rows = figures.map(
    ([name, n, note]) => `<tr><th scope="row">${escapeHtml(name)}</th><td>${n}</td><td>${escapeHtml(note)}</td></tr>`,
  );
  const groups = s.top
    .slice(0, top)
    .map(
      (g) =>
        `<tr><td>${g.count}</td><td><code>${escapeHtml(g.md5)}</code></td><td class="text">${escapeHtml(g.class)}</td></tr>`,
    );
  const html = [
    '<div class="tables">',
    `<div class="scroll"><table class="stats">\n<caption>/sys/kernel/mm/parser/statistics</caption>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>`,
    groups.length === 0
      ? '<p class="none">No page has a duplicate.</p>'
      : `<div class="scroll"><table class="stats-top">\n<caption>most duplicated contents</caption>\n` +
        `<thead><tr><th scope="col">count</th><th scope="col">md5</th><th scope="col">class</th></tr></thead>\n<tbody>\n${groups.join('\n')}\n</tbody>\n</table></div>`,
    '</div>',
    processTable(s),
  ].join('\n');
  return { title, svg: await renderSvg(statisticsHistogram(s, subtitle)), html };
}

/** Each process's pages, duplicates and saving alone, as the terminal shows them. */
function processTable(s: StatisticsShape): string {
  const rows = processRows(s).map(
    ([pid, comm, ...cells]) =>
      `<tr><th scope="row">${escapeHtml(pid ?? '')}</th><td class="text">${escapeHtml(comm ?? '')}</td>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
  );
  if (rows.length === 0) return '<p class="none">No process was counted.</p>';
  return (
    `<div class="scroll"><table class="stats-procs">\n<caption>per process</caption>\n` +
    `<thead><tr>${PROCESS_HEAD.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${rows.join('\n')}\n</tbody>\n</table></div>\n<p class="note">${escapeHtml(PROCESS_NOTE)}.</p>`
  );
}

/**
 * The report of one `samepage run`: its counters and charts, the thesis's figures when the
 * scenario is one of its experiments, and the statistics of the processes at the end (only
 * the model's are still there to count).
 */
export async function renderRunReport(
  result: RunResult,
  thesis: ThesisComparison | undefined,
  statistics: StatisticsResult | undefined,
): Promise<string> {
  const stats =
    statistics === undefined
      ? {
          title: 'Duplicate-page statistics',
          html: '<p class="none">Not counted: the kernel backend\'s processes are gone when the run ends (use <code>samepage stats --pid</code> on live processes).</p>',
        }
      : await statisticsSection(
          statistics,
          'Duplicate-page statistics of the processes at the end',
          `${result.scenario} on ${result.backend}`,
        );
  return renderHtmlReport({
    title: `${result.scenario} on ${result.backend}`,
    runs: [result],
    ...(thesis === undefined ? {} : { thesis }),
    extraSections: [stats],
  });
}

/** The report of `samepage stats`: the histogram and figures, the thesis's beside them, and the run. */
export async function renderStatisticsReport(
  r: StatisticsResult,
  what: { title: string; run: RunResult | undefined; thesis: ThesisComparison | undefined; top: number },
): Promise<string> {
  return renderHtmlReport({
    title: what.title,
    ...(what.thesis === undefined ? {} : { thesis: what.thesis }),
    leadSections: [await statisticsSection(r, 'Duplicate-page statistics', what.title, what.top)],
    runs: what.run === undefined ? [] : [what.run],
  });
}

/** The title of `samepage stats --report`: what was counted (a file, processes by pid, every process of a name). */
export function statisticsTitle(
  file: string | undefined,
  opts: { readonly pid?: readonly number[]; readonly name?: readonly string[] },
): string {
  if (file !== undefined) return `Duplicate pages of ${file}`;
  const pids = opts.pid ?? [];
  const who = [
    ...(pids.length === 0 ? [] : [`${pids.length === 1 ? 'process' : 'processes'} ${pids.join(', ')}`]),
    ...(opts.name ?? []).map((n) => `every ${n}`),
  ];
  return `Duplicate pages of ${who.join(' and ')}`;
}
