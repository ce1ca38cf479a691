/**
 * Operation sequences that compare src/lib/rbtree.ts with Linux's lib/rbtree.c shape for
 * shape: scripts/rbtree-probe.mjs runs them on the kernel's code (through
 * rbtree-harness.c) and records what it printed in rbtree.json; test/rbtree-linux.test.ts
 * runs them on ours and compares.
 *
 * Why shapes: KSM's trees are walked by page contents, and a page may change after it
 * entered the unstable tree, so a descent can meet a tree that is no longer ordered. Which
 * node it then reaches, and so which page merges with which, depends on the tree's shape,
 * which only the rebalancing code decides. rbtree.c never reads a key: callers descend,
 * link at the empty slot they reach and call rb_insert_color. The sequences do the same,
 * re-key nodes in place as a changed page would, erase, and replace nodes as
 * stable_node_chain's conversions do.
 *
 * The text form is the harness's input, one operation a line: `i ID KEY`, `e ID`,
 * `r ID NEW`, `k ID KEY`, and `p` where the shape is printed.
 */
import { createHash } from 'node:crypto';
import { Prng } from '../../src/lib/prng.ts';

/** How a case draws the keys of the nodes it inserts. */
export type RbKeyMode = 'random' | 'ascending' | 'descending' | 'volatile';

export interface RbCase {
  readonly name: string;
  readonly seed: number;
  /** The tree grows to this many nodes at most, then hovers below it. */
  readonly maxLive: number;
  /** Operations other than prints. */
  readonly ops: number;
  /** A print after every this many operations (and one at the end). */
  readonly every: number;
  readonly keys: RbKeyMode;
}

export type RbOp =
  | { readonly op: 'insert'; readonly id: number; readonly key: number }
  | { readonly op: 'erase'; readonly id: number }
  | { readonly op: 'replace'; readonly id: number; readonly by: number }
  | { readonly op: 'rekey'; readonly id: number; readonly key: number }
  | { readonly op: 'print' };

/** Keys are drawn below this; ascending and descending runs step within it. */
const KEY_SPACE = 1 << 24;

/** The cases recorded: every size from a handful to thousands of nodes, each key mode. */
export function rbCases(): RbCase[] {
  const sizes = [
    { size: 'tiny', maxLive: 4, ops: 2_000, every: 1 },
    { size: 'small', maxLive: 16, ops: 3_000, every: 1 },
    { size: 'medium', maxLive: 64, ops: 4_000, every: 1 },
    { size: 'large', maxLive: 512, ops: 6_000, every: 8 },
    { size: 'huge', maxLive: 4_096, ops: 12_000, every: 64 },
  ];
  const modes: RbKeyMode[] = ['random', 'ascending', 'descending', 'volatile'];
  return sizes.flatMap((s, i) =>
    modes.map((keys, j) => ({
      name: `${s.size}-${keys}`,
      seed: 1 + i * modes.length + j,
      maxLive: s.maxLive,
      ops: s.ops,
      every: s.every,
      keys,
    })),
  );
}

/**
 * A case's operations. The tree fills while below half its bound, then inserts and erases
 * about equally; a replace or (in the volatile mode) a re-key now and then.
 */
export function rbOps(c: RbCase): RbOp[] {
  const rng = new Prng(c.seed);
  const live: number[] = [];
  const out: RbOp[] = [];
  let nextId = 0;
  let run = rng.below(KEY_SPACE);
  const key = (): number => {
    if (c.keys === 'random' || c.keys === 'volatile') return rng.below(KEY_SPACE);
    const step = 1 + rng.below(64);
    run = (run + (c.keys === 'ascending' ? step : KEY_SPACE - step)) % KEY_SPACE;
    return run;
  };
  for (let done = 0; done < c.ops; done++) {
    const roll = rng.below(100);
    const fill = live.length < c.maxLive / 2 ? 80 : 48;
    if (live.length === 0 || (roll < fill && live.length < c.maxLive)) {
      const id = nextId++;
      live.push(id);
      out.push({ op: 'insert', id, key: key() });
    } else if (roll < 92) {
      const at = rng.below(live.length);
      const [id] = live.splice(at, 1);
      out.push({ op: 'erase', id: id as number });
    } else if (c.keys === 'volatile' && roll < 97) {
      out.push({ op: 'rekey', id: live[rng.below(live.length)] as number, key: key() });
    } else {
      const at = rng.below(live.length);
      const by = nextId++;
      out.push({ op: 'replace', id: live[at] as number, by });
      live[at] = by;
    }
    if ((done + 1) % c.every === 0) out.push({ op: 'print' });
  }
  if (c.ops % c.every !== 0) out.push({ op: 'print' });
  return out;
}

/** The harness's input for `ops`, a line each. */
export function rbOpsText(ops: readonly RbOp[]): string {
  const line = (o: RbOp): string => {
    switch (o.op) {
      case 'insert':
        return `i ${o.id} ${o.key}`;
      case 'erase':
        return `e ${o.id}`;
      case 'replace':
        return `r ${o.id} ${o.by}`;
      case 'rekey':
        return `k ${o.id} ${o.key}`;
      case 'print':
        return 'p';
    }
  };
  return `${ops.map(line).join('\n')}\n`;
}

/** Prints are recorded as one SHA-256 for each group of this many, in order. */
export const PRINTS_PER_DIGEST = 64;

/** SHA-256 of each group of PRINTS_PER_DIGEST shapes, each hashed with its ending '\n'. */
export function shapeDigests(shapes: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < shapes.length; i += PRINTS_PER_DIGEST)
    out.push(sha256(`${shapes.slice(i, i + PRINTS_PER_DIGEST).join('\n')}\n`));
  return out;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What rbtree.json keeps of a case run on Linux's code. */
export interface RbRecord extends RbCase {
  /** SHA-256 of rbOpsText: the operations the shapes belong to. */
  readonly opsSha256: string;
  readonly prints: number;
  /** SHA-256 of each group of PRINTS_PER_DIGEST printed shapes, each shape ending in '\n'. */
  readonly digests: readonly string[];
  /** The last shape printed, whole where it is short (at most 64 nodes). */
  readonly finalShape?: string;
}

/** rbtree.json: where its shapes came from, and each case. */
export interface RbTruth {
  readonly source: string;
  readonly recorded: string;
  readonly cases: readonly RbRecord[];
}
