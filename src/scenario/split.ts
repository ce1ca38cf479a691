/**
 * Finds the `steps` sequence in a scenario file's text and cuts it into chunks of whole
 * steps, so that a large file is parsed a chunk at a time: the YAML parser's syntax tree
 * costs about 150 times the text it holds, which for one 50 MB document is more memory
 * than V8 has. A chunk is a few KiB of text, parsed, checked and dropped while young (small
 * chunks keep the parser's garbage in V8's young generation: 4 KiB peaked at 156 MB on a
 * 5.8 MB file, 16 KiB at 227 MB, in the same time).
 *
 * Two layouts are recognised, which are the ones people and programs write:
 *   - block: a top-level `steps:` key alone on its line at column 0, then one `- ` item per
 *     step, every item starting at the same column;
 *   - flow (JSON): a top-level `{ ... }` whose `steps` value is a `[ ... ]`.
 * The cut is verified, not trusted: every chunk must parse, as YAML, to exactly the number
 * of items the scan counted (parse.ts checks that), and the rest of the file must hold an
 * empty `steps`. Anything else is left to the parser of the whole document.
 */

/** How the text's steps are laid out, and where to cut. */
export interface StepsLayout {
  readonly style: 'block' | 'flow';
  /**
   * The steps' text is [cutStart, cutEnd): the file without it still parses, with `steps`
   * empty (block: no value; flow: `[]`).
   */
  readonly cutStart: number;
  readonly cutEnd: number;
  /** Chunks of whole steps: chunk i is [bounds[i], bounds[i + 1]) and holds counts[i] steps. */
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** Bytes of text per chunk (a chunk closes at the first step boundary past it). */
export const CHUNK_BYTES = 4 * 1024;

/** The layout of the steps in `text`, or undefined when it is neither of the two. */
export function findSteps(text: string, chunkBytes = CHUNK_BYTES): StepsLayout | undefined {
  const start = firstContent(text);
  if (start < 0) return undefined;
  return text[start] === '{' ? flowSteps(text, start, chunkBytes) : blockSteps(text, chunkBytes);
}

/** Offset of the first character that is not a BOM, blank, comment or `---` line; -1 if none. */
function firstContent(text: string): number {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '#') i = lineEnd(text, i);
    else if (text.startsWith('---', i) && /^---(?:[ \t]|\r?$)/.test(text.slice(i, lineEnd(text, i)))) {
      i += 3;
    } else return i;
  }
  return -1;
}

function lineEnd(text: string, i: number): number {
  const n = text.indexOf('\n', i);
  return n < 0 ? text.length : n;
}

/** Groups item start offsets into chunks of about `chunkBytes`. */
class Chunker {
  readonly bounds: number[] = [];
  readonly counts: number[] = [];
  readonly #chunkBytes: number;
  #items = 0;

  constructor(chunkBytes: number) {
    this.#chunkBytes = chunkBytes;
  }

  /** A step starts at `offset`. */
  item(offset: number): void {
    const open = this.bounds.at(-1);
    if (open === undefined || (offset - open >= this.#chunkBytes && this.#items > 0)) {
      if (open !== undefined) this.counts.push(this.#items);
      this.bounds.push(offset);
      this.#items = 0;
    }
    this.#items++;
  }

  /** The last step ends at `offset`. */
  end(offset: number): { bounds: number[]; counts: number[] } {
    if (this.bounds.length > 0) {
      this.counts.push(this.#items);
      this.bounds.push(offset);
    }
    return { bounds: this.bounds, counts: this.counts };
  }
}

const STEPS_KEY = /^(?:steps|"steps"|'steps')[ \t]*:[ \t]*(?:#.*)?\r?$/;

/** Block layout: `steps:` alone at column 0, then items at one column. */
function blockSteps(text: string, chunkBytes: number): StepsLayout | undefined {
  // The `steps:` line: a top-level key starts at column 0 (a block scalar's lines cannot).
  let pos = 0;
  let keyEnd = -1;
  while (pos < text.length) {
    const end = lineEnd(text, pos);
    if (text.startsWith('steps', pos) || text.startsWith('"steps"', pos) || text.startsWith("'steps'", pos)) {
      if (STEPS_KEY.test(text.slice(pos, end))) {
        keyEnd = end;
        break;
      }
    }
    pos = end + 1;
  }
  if (keyEnd < 0 || keyEnd >= text.length) return undefined;
  const chunker = new Chunker(chunkBytes);
  let indent = -1;
  let seqEnd = text.length;
  for (pos = keyEnd + 1; pos < text.length; ) {
    const end = lineEnd(text, pos);
    let col = 0;
    while (text[pos + col] === ' ') col++;
    let first = pos + col;
    while (text[first] === '\t') first++;
    const ch = text[first];
    // Blank and comment lines belong to the item before them.
    if (ch !== undefined && ch !== '\n' && ch !== '\r' && ch !== '#') {
      const dash = first === pos + col && ch === '-' && /^[ \t\r\n]?$/.test(text[first + 1] ?? '');
      if (indent < 0) {
        if (!dash) return undefined; // `steps:` followed by something else: not this layout
        indent = col;
      }
      if (col === indent && dash) chunker.item(pos);
      else if (col <= indent) {
        seqEnd = pos;
        break;
      }
    }
    pos = end + 1;
  }
  if (indent < 0) return undefined;
  const { bounds, counts } = chunker.end(seqEnd);
  return { style: 'block', cutStart: bounds[0]!, cutEnd: seqEnd, bounds, counts };
}

/**
 * Flow layout: scans brackets, quotes and comments from the opening `{`, finds the
 * top-level `steps` key and its `[`, and cuts at the commas between its items.
 */
function flowSteps(text: string, open: number, chunkBytes: number): StepsLayout | undefined {
  let depth = 0;
  /** The last scalar at depth 1, for finding the `steps` key. */
  let lastKey: string | undefined;
  /** Inside the steps sequence: its `[` offset. */
  let seqOpen = -1;
  let afterStepsColon = false;
  const chunker = new Chunker(chunkBytes);
  /** Whether the current item of the sequence has begun (something other than space). */
  let itemOpen = false;
  /** Just after the `[` or the last comma between items. */
  let separator = -1;
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
      continue;
    }
    if (c === '#' && /[ \t\r\n]/.test(text[i - 1] ?? '\n')) {
      i = lineEnd(text, i);
      continue;
    }
    if (seqOpen >= 0 && depth === 2 && !itemOpen && c !== ']' && c !== ',') {
      // A chunk starts right after the `[` or the comma before its first item, so that no
      // text between items (a stray comma) is left out of every chunk.
      chunker.item(chunker.bounds.length === 0 ? seqOpen + 1 : separator);
      itemOpen = true;
    }
    if (c === '{' || c === '[') {
      if (afterStepsColon && depth === 1 && c === '[') {
        seqOpen = i;
        separator = i + 1;
      }
      afterStepsColon = false;
      depth++;
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      depth--;
      if (seqOpen >= 0 && depth === 1) {
        const { bounds, counts } = chunker.end(i);
        if (bounds.length === 0) return undefined; // `steps: []`: nothing to cut
        return { style: 'flow', cutStart: seqOpen + 1, cutEnd: i, bounds, counts };
      }
      if (depth <= 0) return undefined;
      i++;
      continue;
    }
    if (c === ',') {
      if (seqOpen >= 0 && depth === 2) {
        itemOpen = false;
        separator = i + 1;
      }
      if (depth === 1) lastKey = undefined;
      i++;
      continue;
    }
    if (c === ':') {
      if (depth === 1 && lastKey === 'steps') afterStepsColon = true;
      i++;
      continue;
    }
    // A scalar: quoted, or plain up to a flow indicator or ": ".
    const scalarStart = i;
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === "'") {
      i++;
      while (i < text.length && !(text[i] === "'" && text[i + 1] !== "'")) i += text[i] === "'" ? 2 : 1;
      i++;
    } else {
      while (
        i < text.length &&
        !/[,[\]{}\r\n]/.test(text[i]!) &&
        !(text[i] === ':' && /[ \t\r\n,[\]{}]/.test(text[i + 1] ?? ' '))
      )
        i++;
      if (i === scalarStart) return undefined;
    }
    if (depth === 1) {
      const raw = text.slice(scalarStart, i).trim();
      lastKey = raw === 'steps' || raw === '"steps"' || raw === "'steps'" ? 'steps' : raw;
    }
    afterStepsColon = false;
  }
  return undefined;
}
