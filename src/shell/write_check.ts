/**
 * bash's "write error" for stores a sysfs file refuses. bash learns of the error from
 * write(2) while the command runs (`echo 5 > /sys/kernel/mm/ksm/run` prints `bash: echo:
 * write error: Invalid argument` and sets $? to 1); the interpreter library writes redirected
 * output once the command is done and has no way to report a failed write. So every command
 * that redirects output to a file is rewritten, before it runs, into
 * `{ COMMAND; __samepage_wcheck $? NAME; }`, and the check prints the stores the model
 * refused meanwhile (ModelFs.writeErrors) and returns 1, or passes the command's status on.
 */
import type { CommandNode, ScriptNode } from 'just-bash';
import { parse, serialize } from 'just-bash';

export const WRITE_CHECK = '__samepage_wcheck';

/** Redirections that send fd 1 or 2 to a file. */
const OUTPUT_OPS = new Set(['>', '>>', '>|', '&>', '&>>']);

/** The command builtins of bash that report write errors as `bash: NAME: write error`. */
export const BASH_BUILTINS = new Set(['echo', 'printf', 'pwd', 'type', 'help', 'declare', 'set', 'alias', 'jobs']);

/** The script with every output-redirecting command followed by the write check. */
export function addWriteChecks(text: string): string {
  const ast = parse(text);
  return wrapAll(ast) ? serialize(ast) : text;
}

/** Wraps in place; true when anything was wrapped. */
function wrapAll(node: unknown): boolean {
  if (node === null || typeof node !== 'object') return false;
  let changed = false;
  const n = node as Record<string, unknown>;
  for (const v of Object.values(n)) {
    if (Array.isArray(v)) for (const x of v) changed = wrapAll(x) || changed;
    else changed = wrapAll(v) || changed;
  }
  if (n.type === 'Pipeline') {
    const commands = n.commands as CommandNode[];
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i]!;
      if (redirectsOutput(c)) {
        commands[i] = checked(c);
        changed = true;
      }
    }
  }
  return changed;
}

function redirectsOutput(c: CommandNode): boolean {
  if (c.type === 'FunctionDef' || !('redirections' in c)) return false;
  return c.redirections.some((r) => OUTPUT_OPS.has(r.operator) && r.target.type === 'Word');
}

/** `{ C; __samepage_wcheck $? NAME; }`, with NAME the command's literal name when it has one. */
function checked(c: CommandNode): CommandNode {
  const name = c.type === 'SimpleCommand' ? literalName(c.name) : undefined;
  const group = (parse(`{ :; ${WRITE_CHECK} $? ${name ?? ''}; }`) as ScriptNode).statements[0]!.pipelines[0]!
    .commands[0]!;
  if (group.type !== 'Group') throw new Error('write check: the template is not a group');
  group.body[0]!.pipelines[0]!.commands[0] = c;
  return group;
}

function literalName(word: { parts: ReadonlyArray<{ type: string; value?: unknown }> } | null): string | undefined {
  const part = word?.parts.length === 1 ? word.parts[0] : undefined;
  return part?.type === 'Literal' && typeof part.value === 'string' && /^[\w./+-]+$/.test(part.value)
    ? part.value
    : undefined;
}
