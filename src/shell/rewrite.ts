/**
 * Where the interpreter library cannot do as bash does, the shell adds a little bash.
 *
 * bash's "write error" for stores a sysfs file refuses: bash learns of the error from
 * write(2) while the command runs (`echo 5 > /sys/kernel/mm/ksm/run` prints `bash: echo:
 * write error: Invalid argument` and sets $? to 1); the library writes redirected output once
 * the command is done and has no way to report a failed write. So each command that redirects
 * its output to a file, standing alone as a statement, is rewritten before it runs into
 * `{ COMMAND\n__samepage_wcheck $? NAME; }`: the check prints the stores the model refused
 * meanwhile (ModelFs.writeErrors) and returns 1, or passes the command's status on. The
 * rewrite is textual, on the statement's own source text (the library's serializer loses
 * `${a}b` in words), so everything else of the script stays as written.
 *
 * The end of a script's virtual time (`--max-time`): a `sleep` past it returns 124, and a
 * shell function `sleep` (PRELUDE) then exits the shell with 124, so the script ends there
 * with what it printed so far (an abort of the interpreter would lose the output of the
 * command that was running: all of a loop's). A function `help` gives samepage's help
 * (the library's builtin of that name wins over any command).
 */
import type { CommandNode, StatementNode } from 'just-bash';
import { parse } from 'just-bash';

export const WRITE_CHECK = '__samepage_wcheck';
export const STATUS = '__samepage_status';
/** What `sleep` returns when it would pass the time limit (timeout(1)'s status). */
export const LIMIT_STATUS = 124;

/** samepage's `help` (bash's builtin would win over a command of that name). */
export const HELP = '__samepage_help';

/** Defined once, before the first command. */
export const PRELUDE = [
  `sleep() { command sleep "$@" || { local rc=$?; [ $rc -eq ${LIMIT_STATUS} ] && exit ${LIMIT_STATUS}; return $rc; }; }`,
  `help() { ${HELP}; }`,
].join('\n');

/** Redirections that send fd 1 or 2 to a file. */
const OUTPUT_OPS = new Set(['>', '>>', '>|', '&>', '&>>']);

/** The command builtins of bash that report write errors as `bash: NAME: write error`. */
export const BASH_BUILTINS = new Set(['echo', 'printf', 'pwd', 'type', 'help', 'declare', 'set', 'alias', 'jobs']);

interface Edit {
  readonly at: number;
  readonly length: number;
  readonly name: string;
}

/** The text with a write check after each statement that is one output-redirecting command. */
export function rewriteCommands(text: string): string {
  if (!text.includes('>')) return text;
  const edits: Edit[] = [];
  let cursor = 0;
  visit(parse(text), (st) => {
    const source = st.sourceText;
    if (source === undefined) return;
    const at = text.indexOf(source, cursor);
    if (at < 0) return;
    cursor = at + 1;
    const only = st.pipelines.length === 1 && !st.background ? st.pipelines[0]!.commands : [];
    if (only.length !== 1 || !redirectsOutput(only[0]!)) return;
    const last = edits[edits.length - 1];
    if (last !== undefined && at < last.at + last.length) return; // inside one already checked
    const c = only[0]!;
    edits.push({ at, length: source.length, name: (c.type === 'SimpleCommand' && literalName(c.name)) || '' });
  });
  let out = text;
  for (const e of edits.reverse()) {
    const stmt = out.slice(e.at, e.at + e.length);
    out = `${out.slice(0, e.at)}{ ${stmt}\n${WRITE_CHECK} $? ${e.name}; }${out.slice(e.at + e.length)}`;
  }
  return out;
}

/** Every statement of the tree, in the order of the text. */
function visit(node: unknown, f: (st: StatementNode & { sourceText?: string }) => void): void {
  if (node === null || typeof node !== 'object') return;
  const n = node as Record<string, unknown>;
  if (n.type === 'Statement') f(n as unknown as StatementNode & { sourceText?: string });
  for (const v of Object.values(n)) {
    if (Array.isArray(v)) for (const x of v) visit(x, f);
    else visit(v, f);
  }
}

function redirectsOutput(c: CommandNode): boolean {
  if (c.type === 'FunctionDef' || !('redirections' in c)) return false;
  return c.redirections.some((r) => OUTPUT_OPS.has(r.operator) && r.target.type === 'Word');
}

function literalName(word: { parts: ReadonlyArray<{ type: string; value?: unknown }> } | null): string | undefined {
  const part = word?.parts.length === 1 ? word.parts[0] : undefined;
  return part?.type === 'Literal' && typeof part.value === 'string' && /^[\w./+-]+$/.test(part.value)
    ? part.value
    : undefined;
}
