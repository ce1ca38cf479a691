/**
 * src/lib/rbtree.ts against Linux's lib/rbtree.c, shape for shape and colour for colour,
 * over twenty sequences, after every operation in trees of up to 64 nodes and every 8th or
 * 64th in the larger ones (test/kernel-truth/rbtree_ops.ts says why the shape matters to
 * KSM). The kernel's shapes are in test/kernel-truth/rbtree.json, recorded by
 * scripts/rbtree-probe.mjs from the kernel's own code; its `source` says which copy.
 *
 * src/lib/rbtree.test.ts checks the tree's invariants and order; a rebalancing that kept
 * them but rotated elsewhere than Linux would pass there and fail here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FieldRbStore,
  RbRoot,
  rbErase,
  rbInsertColor,
  rbLinkNode,
  rbReplaceNode,
  type RbNode,
} from '../src/lib/rbtree.ts';
import { packageRoot } from '../src/lib/package_root.ts';
import {
  PRINTS_PER_DIGEST,
  rbCases,
  rbOps,
  rbOpsText,
  sha256,
  shapeDigests,
  type RbOp,
  type RbTruth,
} from './kernel-truth/rbtree_ops.ts';

class Node implements RbNode<Node> {
  rbParent: Node | null = null;
  rbLeft: Node | null = null;
  rbRight: Node | null = null;
  rbRed = false;
  readonly id: number;
  key: number;
  constructor(id: number, key: number) {
    this.id = id;
    this.key = key;
  }
}

const S = new FieldRbStore<Node>();

/** The harness's print: "(ID COLOUR LEFT RIGHT)", "-" for no node. */
function shape(n: Node | null): string {
  return n === null ? '-' : `(${n.id}${n.rbRed ? 'r' : 'b'} ${shape(n.rbLeft)} ${shape(n.rbRight)})`;
}

/** The shapes printed when `ops` run on src/lib/rbtree.ts, as rbtree-harness.c runs them on Linux's. */
function replay(ops: readonly RbOp[]): string[] {
  const root = new RbRoot<Node | null>(null);
  const nodes = new Map<number, Node>();
  const node = (id: number): Node => {
    const n = nodes.get(id);
    assert.ok(n !== undefined, `no node ${id}`);
    return n;
  };
  const shapes: string[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'insert': {
        let parent: Node | null = null;
        let goLeft = false;
        for (let cur = root.rbNode; cur !== null; cur = goLeft ? cur.rbLeft : cur.rbRight) {
          parent = cur;
          goLeft = o.key < cur.key;
        }
        const n = new Node(o.id, o.key);
        nodes.set(o.id, n);
        rbLinkNode(S, n, parent, goLeft ? 'left' : 'right', root);
        rbInsertColor(S, n, root);
        break;
      }
      case 'erase':
        rbErase(S, node(o.id), root);
        nodes.delete(o.id);
        break;
      case 'replace': {
        const old = node(o.id);
        const n = new Node(o.by, old.key);
        nodes.set(o.by, n);
        rbReplaceNode(S, old, n, root);
        nodes.delete(o.id);
        break;
      }
      case 'rekey':
        node(o.id).key = o.key;
        break;
      case 'print':
        shapes.push(shape(root.rbNode));
        break;
    }
  }
  return shapes;
}

const ROOT = packageRoot(import.meta.dirname);
const truth = JSON.parse(readFileSync(join(ROOT, 'test/kernel-truth/rbtree.json'), 'utf8')) as RbTruth;

test('rbtree.json records every case of rbtree_ops.ts', () => {
  assert.deepEqual(
    truth.cases.map((c) => c.name),
    rbCases().map((c) => c.name),
  );
});

for (const c of rbCases()) {
  test(`rbtree: ${c.name} (${c.ops} operations, up to ${c.maxLive} nodes) takes Linux's shapes`, () => {
    const recorded = truth.cases.find((r) => r.name === c.name);
    assert.ok(recorded !== undefined, `${c.name} is not in rbtree.json: run scripts/rbtree-probe.mjs`);
    const ops = rbOps(c);
    assert.equal(
      sha256(rbOpsText(ops)),
      recorded.opsSha256,
      `${c.name}'s operations are not those recorded: run scripts/rbtree-probe.mjs again`,
    );
    const shapes = replay(ops);
    assert.equal(shapes.length, recorded.prints);
    const digests = shapeDigests(shapes);
    const first = digests.findIndex((d, i) => d !== recorded.digests[i]);
    assert.equal(
      first,
      -1,
      `${c.name}: shapes differ from Linux's in prints ${first * PRINTS_PER_DIGEST + 1}-${(first + 1) * PRINTS_PER_DIGEST} (a print every ${c.every} operations)`,
    );
    if (recorded.finalShape !== undefined) assert.equal(shapes.at(-1), recorded.finalShape);
  });
}

test('scripts/rbtree-probe.mjs refuses missing arguments and a source that does not compile, leaving no work directory', () => {
  const script = join(ROOT, 'scripts/rbtree-probe.mjs');
  const bare = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /--source, --include and --from are required/);
  const out = join(tmpdir(), `samepage-rbtree-${process.pid}.json`);
  const args = ['--source', '/nonexistent/rbtree.c', '--include', '/nonexistent', '--from', 'nothing', '--out', out];
  const workDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('samepage-rbtree-'));
  const before = workDirs();
  const broken = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, /cannot run cc|did not compile/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(
    workDirs().filter((d) => !before.includes(d)),
    [],
    'the work directory is removed',
  );
});
