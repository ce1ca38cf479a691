/**
 * A script read the way bash reads one: a complete command at a time, so a loop or an `if`
 * spread over lines runs once it is closed, a syntax error stops the script only when
 * reading reaches it, and output shows up command by command. Lines come from a file or,
 * interactively, from the terminal (`LineSource`).
 *
 * Each line is parsed once while the pending text is short; a long construct (a function of
 * thousands of lines) is tried again only each time it doubles, so reading stays linear in
 * the script's length.
 */
import { parse } from 'just-bash';

/** Lines in order; `undefined` at the end. `more` is true when a command is still open (PS2). */
export interface LineSource {
  next(more: boolean): Promise<string | undefined>;
}

/** One or more complete commands and the line they start on (1-based). */
export interface Chunk {
  readonly text: string;
  readonly line: number;
}

/**
 * Why a chunk cannot run: bash's message, without its `bash: ` prefix, and the line of the
 * chunk (1-based) bash names: the line of the error, or the one after the chunk when the
 * input ends inside a command.
 */
export type Verdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly incomplete: boolean; readonly message: string; readonly line: number };

/** Pending text shorter than this is tried at every line. */
const EAGER_LINES = 32;

/** Whether `text` holds complete commands, and if not, why. */
export function judge(text: string): Verdict {
  const lines = text.split('\n');
  const last = lines.length;
  const endOfFile: Verdict = {
    ok: false,
    incomplete: true,
    message: 'syntax error: unexpected end of file',
    line: last + 1,
  };
  if (/(^|[^\\])(\\\\)*\\$/.test(text)) return endOfFile;
  try {
    const ast = parse(text);
    if (hasOpenHereDoc(ast)) return endOfFile;
    return { ok: true };
  } catch (e) {
    const err = e as { message?: string; line?: number; column?: number };
    const message = String(err.message ?? e).replace(/^Parse error at \d+:\d+: /, '');
    const lastLen = lines[last - 1]?.length ?? 0;
    const atEnd =
      /EOF|end of file/.test(message) ||
      (err.line !== undefined && (err.line > last || (err.line === last && (err.column ?? 0) > lastLen)));
    if (atEnd) return endOfFile;
    return { ok: false, incomplete: false, message, line: Math.min(Math.max(1, err.line ?? 1), last) };
  }
}

/** A here-document the text opens and never closes (the parser accepts it at the end). */
function hasOpenHereDoc(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  const n = node as Record<string, unknown>;
  if (n.type === 'HereDoc' && n.terminated === false) return true;
  for (const v of Object.values(n)) {
    if (Array.isArray(v) ? v.some(hasOpenHereDoc) : hasOpenHereDoc(v)) return true;
  }
  return false;
}

/** Complete commands from a `LineSource`, one chunk at a time; counts its parser calls. */
export class ChunkReader {
  readonly #source: LineSource;
  readonly #eager: boolean;
  #line = 0;
  /** Parser calls so far: linear in the script's lines (checked by a test). */
  parses = 0;

  /** `eager`: try every line (a terminal, where a person waits for each command). */
  constructor(source: LineSource, eager: boolean) {
    this.#source = source;
    this.#eager = eager;
  }

  /**
   * The next chunk and its verdict; undefined at the end of the input. A chunk that is not ok
   * is what bash would refuse: a syntax error, or a command the input ends inside.
   */
  async next(): Promise<{ chunk: Chunk; verdict: Verdict } | undefined> {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const line = await this.#source.next(lines.length > 0);
      if (line === undefined) {
        if (lines.length === 0) return undefined;
        const text = lines.join('\n');
        this.parses++;
        return { chunk: { text, line: start }, verdict: judge(text) };
      }
      this.#line++;
      if (lines.length === 0) {
        if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
        start = this.#line;
      }
      lines.push(line);
      const n = lines.length;
      if (!this.#eager && n >= EAGER_LINES && (n & (n - 1)) !== 0) continue;
      const text = lines.join('\n');
      this.parses++;
      const verdict = judge(text);
      if (verdict.ok || !verdict.incomplete) return { chunk: { text, line: start }, verdict };
    }
  }
}

/** The lines of a script held in memory. */
export function textLines(text: string): LineSource {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 0;
  return { next: async () => lines[i++] };
}

/** Lines from an async iterable (a pipe read line by line). */
export function iterableLines(lines: AsyncIterable<string>): LineSource {
  const it = lines[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await it.next();
      return r.done === true ? undefined : r.value;
    },
  };
}
