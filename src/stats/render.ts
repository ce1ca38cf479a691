/**
 * The statistics as text, in the style of the thesis's /sys/kernel/mm/parser/statistics
 * (figure 5-12): one line per duplicated content, "COUNT MD5 CLASS", highest count first,
 * then the pages with no duplicate and the pages merging would free. And as JSON.
 */
import type { StatisticsResult } from './duplicate_statistics.ts';
import { plural } from '../lib/plural.ts';

/**
 * The thesis-style listing. With `maxBytes` (a sysfs file shows at most one page), group
 * lines are dropped from the end so that the two summary lines always fit; a line
 * "... N more" says how many were dropped.
 */
export function renderStatisticsText(r: StatisticsResult, maxBytes?: number): string {
  const tail =
    `${plural(r.unique_pages, 'page')} without duplicate\n` +
    `${plural(r.saving_pages, 'page')} saved by merging (${plural(r.duplicate_pages, 'duplicate page')} in ${plural(r.top.length, 'group')})\n`;
  const lines = r.top.map((g) => `${g.count} ${g.md5} ${g.class}\n`);
  if (maxBytes === undefined) return lines.join('') + tail;
  let body = '';
  for (const [i, line] of lines.entries()) {
    const more = lines.length - i - 1;
    // Room for this line, the tail, and a "... N more" line if others must be left out.
    const reserve = more > 0 ? `... ${more} more\n`.length : 0;
    if (body.length + line.length + tail.length + reserve > maxBytes) {
      body += `... ${lines.length - i} more\n`;
      break;
    }
    body += line;
  }
  return body + tail;
}

/**
 * The JSON shape of `samepage stats --json`, exactly: { pages, unique_pages, duplicate_pages,
 * saving_pages, top: [{ count, md5, class }], by_process }. Frame counts, which decide
 * `saving_pages`, stay out of it: the shape is a contract other tools read.
 */
export function statisticsJson(r: StatisticsResult): string {
  const { pages, unique_pages, duplicate_pages, saving_pages, by_process } = r;
  const top = r.top.map(({ count, md5, class: cls }) => ({ count, md5, class: cls }));
  return `${JSON.stringify({ pages, unique_pages, duplicate_pages, saving_pages, top, by_process }, null, 2)}\n`;
}
