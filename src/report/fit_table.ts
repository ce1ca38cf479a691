/**
 * Terminal tables that fit the terminal's width (COLUMNS): text columns wrap at spaces
 * down to a readable width, then, if the table is still too wide, the columns a table
 * marks as least needed are left out, one at a time and always the same ones for the same
 * width, with a line under the table that says which. Numbers never wrap.
 */
import Table from 'cli-table3';
import { displayWidth, oneLine, wrapText } from '../lib/text_width.ts';

export interface TableColumn {
  readonly head: string;
  readonly align?: 'left' | 'right';
  /** Text that may wrap onto several lines (words stay whole down to MIN_WRAP columns). */
  readonly wrap?: boolean;
  /**
   * When the table cannot fit by wrapping, columns with a `drop` rank are left out, the
   * highest rank first (the rightmost of a tie first); columns without one always stay.
   */
  readonly drop?: number;
}

export interface FitOptions {
  /** The terminal's width in columns; undefined: no limit (a pipe, a file). */
  readonly width?: number | undefined;
  /** No line between rows (cli-table3's compact style). */
  readonly compact?: boolean;
  /** Wrap the head's text in this (bold, say); its escapes take no width. */
  readonly headStyle?: (text: string) => string;
}

/** A wrapped text column keeps at least this many columns (or its longest word, if shorter). */
export const MIN_WRAP = 12;

/** Columns the borders and padding of `n` columns take: "│ " before each cell, " " after, "│" at the end. */
const frame = (n: number): number => 3 * n + 1;

/** Widest line of a cell. */
const cellWidth = (text: string): number => Math.max(0, ...text.split('\n').map(displayWidth));

/** The table as text, fitted to `options.width`, and a note when columns were left out. */
export function fitTable(
  columns: readonly TableColumn[],
  given: readonly (readonly string[])[],
  options: FitOptions = {},
): string {
  // A cell is one line of data (fitTable's own wrapping adds its line breaks after this).
  const rows = given.map((r) => r.map(oneLine));
  const natural = columns.map((c, i) => Math.max(cellWidth(c.head), ...rows.map((r) => cellWidth(r[i] ?? ''))));
  // The least a column can take: a wrapped one its longest word up to MIN_WRAP, others all of it.
  const least = columns.map((c, i) => {
    if (c.wrap !== true) return natural[i]!;
    const words = [c.head, ...rows.map((r) => r[i] ?? '')].flatMap((t) => t.split(/[ \n]/));
    return Math.min(natural[i]!, Math.max(Math.min(MIN_WRAP, natural[i]!), ...words.map(displayWidth)));
  });
  let kept = columns.map((_, i) => i);
  const width = options.width;
  const need = (cols: readonly number[], w: readonly number[]) =>
    cols.reduce((n, i) => n + w[i]!, 0) + frame(cols.length);
  const dropped: number[] = [];
  if (width !== undefined) {
    while (need(kept, least) > width) {
      // The highest drop rank, the rightmost of a tie.
      let victim = -1;
      for (const i of kept) {
        const rank = columns[i]!.drop;
        if (rank !== undefined && (victim < 0 || rank >= (columns[victim]!.drop ?? 0))) victim = i;
      }
      if (victim < 0) break;
      kept = kept.filter((i) => i !== victim);
      dropped.push(victim);
    }
  }
  const widths = [...natural];
  if (width !== undefined) {
    shrink(kept, widths, least, width - frame(kept.length), (i) => columns[i]!.wrap === true);
    // Still too wide with every droppable column gone: words must break. Start again, and let
    // no column's long word (a path, say) hold more than a fair share of the room while the
    // others are squeezed to a few words a line; then, if need be, break words down to 4.
    if (need(kept, widths) > width) {
      const wrapped = kept.filter((i) => columns[i]!.wrap === true);
      const fixed = kept.filter((i) => columns[i]!.wrap !== true).reduce((n, i) => n + widths[i]!, 0);
      const fair = Math.max(4, Math.floor((width - frame(kept.length) - fixed) / Math.max(1, wrapped.length)));
      for (const i of wrapped) widths[i] = natural[i]!;
      shrink(
        kept,
        widths,
        least.map((l) => Math.min(l, fair)),
        width - frame(kept.length),
        (i) => columns[i]!.wrap === true,
      );
    }
    if (need(kept, widths) > width) {
      shrink(
        kept,
        widths,
        kept.map(() => 4),
        width - frame(kept.length),
        (i) => columns[i]!.wrap === true,
        true,
      );
    }
  }
  const cell = (text: string, i: number): string =>
    columns[i]!.wrap === true && width !== undefined ? wrapText(text, widths[i]!).join('\n') : text;
  const headStyle = options.headStyle ?? ((t: string) => t);
  // Columns without a head at all make a table without a head row.
  const headless = columns.every((c) => c.head === '');
  const table = new Table({
    head: headless ? [] : kept.map((i) => headStyle(cell(columns[i]!.head, i))),
    colAligns: kept.map((i) => columns[i]!.align ?? 'left'),
    // Colour is the caller's (headStyle), so NO_COLOR holds; cli-table3 would colour heads red.
    style: { head: [], border: [], ...(options.compact === true ? { compact: true } : {}) },
  });
  for (const r of rows) table.push(kept.map((i) => cell(r[i] ?? '', i)));
  const text = table.toString();
  if (dropped.length === 0) return text;
  const names = dropped.map((i) => columns[i]!.head).join(', ');
  const note = `(left out to fit ${width} columns: ${names}; COLUMNS or a wider terminal shows ${dropped.length === 1 ? 'it' : 'them'})`;
  return `${text}\n${wrapText(note, width ?? note.length).join('\n')}`;
}

/**
 * Narrows the columns `may` allows, widest first and a column at a time, until their total
 * is at most `room` or each is at its least; `index` means `least` is indexed by position
 * in `cols` rather than by column.
 */
function shrink(
  cols: readonly number[],
  widths: number[],
  least: readonly number[],
  room: number,
  may: (i: number) => boolean,
  index = false,
): void {
  const floor = (i: number): number => (index ? least[cols.indexOf(i)]! : least[i]!);
  let total = cols.reduce((n, i) => n + widths[i]!, 0);
  while (total > room) {
    let widest = -1;
    for (const i of cols) {
      if (!may(i) || widths[i]! <= floor(i)) continue;
      if (widest < 0 || widths[i]! > widths[widest]!) widest = i;
    }
    if (widest < 0) return;
    widths[widest] = widths[widest]! - 1;
    total--;
  }
}
