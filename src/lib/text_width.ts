/**
 * How many terminal columns text takes: colour escapes take none, combining marks none,
 * East Asian wide and fullwidth characters (and emoji) two, everything else one. Tables
 * use it to fit the terminal; it is the rule terminals follow (wcwidth), without its rare
 * cases.
 */

/** SGR colour escapes (ESC [ ... m); built from a string, since a control character in a regex literal reads as a typo. */
const ANSI = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;]*m`, 'g');

/** Ranges of code points two columns wide (Unicode East Asian Width W and F, emoji). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];

function codePointWidth(cp: number): number {
  // Combining marks and zero-width characters.
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || cp === 0xfe0f) return 0;
  for (const [lo, hi] of WIDE) if (cp >= lo && cp <= hi) return 2;
  return 1;
}

/** Columns `text` takes on one line (colour escapes removed). */
/**
 * `text` on one line: its line breaks shown as '?', as ps shows a comm's controls. A comm
 * (prctl PR_SET_NAME) may hold a newline, and a name in a line or a table row must not start
 * a line of its own.
 */
export function oneLine(text: string): string {
  return text.replace(/[\n\r]/g, '?');
}

export function displayWidth(text: string): number {
  let n = 0;
  for (const ch of text.replace(ANSI, '')) n += codePointWidth(ch.codePointAt(0) ?? 0);
  return n;
}

/**
 * `text` broken into lines of at most `width` columns: at spaces where it can, inside a
 * word only when the word alone is wider. Line breaks already in the text are kept.
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, Math.floor(width));
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      const candidate = line === '' ? word : `${line} ${word}`;
      if (displayWidth(candidate) <= w) {
        line = candidate;
        continue;
      }
      if (line !== '') out.push(line);
      line = '';
      // A word wider than the line is cut into pieces that fit.
      let rest = word;
      while (displayWidth(rest) > w) {
        let piece = '';
        for (const ch of rest) {
          if (displayWidth(piece + ch) > w) break;
          piece += ch;
        }
        out.push(piece);
        rest = rest.slice(piece.length);
      }
      line = rest;
    }
    out.push(line);
  }
  return out;
}

/** `text` wrapped to `width` columns (wrapText), or as it is when there is no width (a pipe, a file). */
export function fitText(text: string, width: number | undefined): string {
  return width === undefined ? text : wrapText(text, width).join('\n');
}
