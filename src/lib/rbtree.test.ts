import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  RbRoot,
  rbClearNode,
  rbEmptyNode,
  rbEmptyRoot,
  rbErase,
  rbFirst,
  rbInsertColor,
  rbLast,
  rbLinkNode,
  rbNext,
  rbPrev,
  rbReplaceNode,
  rbVerify,
  FieldRbStore,
  type RbNode,
  type RbStore,
} from './rbtree.ts';

class KeyNode implements RbNode<KeyNode> {
  rbParent: KeyNode | null = null;
  rbLeft: KeyNode | null = null;
  rbRight: KeyNode | null = null;
  rbRed = false;
  key: number;
  constructor(key: number) {
    this.key = key;
  }
}

const S = new FieldRbStore<KeyNode>();

/** The caller-side walk KSM does: descend by key, link at the empty slot, rebalance. */
function insert(root: RbRoot<KeyNode | null>, node: KeyNode): void {
  let parent: KeyNode | null = null;
  let cur = root.rbNode;
  let goLeft = false;
  while (cur !== null) {
    parent = cur;
    goLeft = node.key < cur.key;
    cur = goLeft ? cur.rbLeft : cur.rbRight;
  }
  rbLinkNode(S, node, parent, goLeft ? 'left' : 'right', root);
  rbInsertColor(S, node, root);
}

function keysForward(root: RbRoot<KeyNode | null>): number[] {
  const out: number[] = [];
  for (let n = rbFirst(S, root); n !== null; n = rbNext(S, n)) out.push(n.key);
  return out;
}

function keysBackward(root: RbRoot<KeyNode | null>): number[] {
  const out: number[] = [];
  for (let n = rbLast(S, root); n !== null; n = rbPrev(S, n)) out.push(n.key);
  return out;
}

function build(keys: readonly number[]): { root: RbRoot<KeyNode | null>; nodes: Map<number, KeyNode> } {
  const root = new RbRoot<KeyNode | null>(null);
  const nodes = new Map<number, KeyNode>();
  for (const k of keys) {
    const n = new KeyNode(k);
    nodes.set(k, n);
    insert(root, n);
  }
  return { root, nodes };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('rbInsertColor keeps invariants for ascending, descending and shuffled inserts', () => {
  for (const keys of [range(1000), range(1000).reverse(), range(1000).map((i) => (i * 7919) % 1000)]) {
    const { root } = build(keys);
    assert.equal(rbVerify(S, root), 1000);
    assert.deepEqual(keysForward(root), range(1000));
    assert.deepEqual(keysBackward(root), range(1000).reverse());
  }
});

test('rbVerify returns 0 for an empty tree and rbFirst/rbLast give null', () => {
  const root = new RbRoot<KeyNode | null>(null);
  assert.equal(rbVerify(S, root), 0);
  assert.equal(rbEmptyRoot(S, root), true);
  assert.equal(rbFirst(S, root), null);
  assert.equal(rbLast(S, root), null);
});

test('rbVerify throws on a red root, a red-red pair, unequal black heights and a bad parent', () => {
  const { root, nodes } = build(range(10));
  (root.rbNode as KeyNode).rbRed = true;
  assert.throws(() => rbVerify(S, root), /root is red/);
  (root.rbNode as KeyNode).rbRed = false;
  rbVerify(S, root);

  const red = [...nodes.values()].find((n) => n.rbRed && n.rbParent !== null) as KeyNode;
  const parent = red.rbParent as KeyNode;
  parent.rbRed = true;
  assert.throws(() => rbVerify(S, root), /red node with red child|black heights differ/);
  parent.rbRed = false;
  rbVerify(S, root);

  const leafBlack = [...nodes.values()].find(
    (n) => !n.rbRed && n.rbLeft === null && n.rbRight === null && n.rbParent !== null,
  ) as KeyNode;
  leafBlack.rbRed = true;
  assert.throws(() => rbVerify(S, root), /black heights differ|red node with red child/);
  leafBlack.rbRed = false;
  rbVerify(S, root);

  const child = (root.rbNode as KeyNode).rbLeft as KeyNode;
  child.rbParent = null;
  assert.throws(() => rbVerify(S, root), /wrong parent pointer/);
});

test('rbErase removes a leaf, an inner node and the root, keeping order and invariants', () => {
  const { root, nodes } = build(range(64));
  const expected = new Set(range(64));
  const leaf = [...nodes.values()].find((n) => n.rbLeft === null && n.rbRight === null) as KeyNode;
  const inner = [...nodes.values()].find(
    (n) => n.rbLeft !== null && n.rbRight !== null && n !== root.rbNode,
  ) as KeyNode;
  for (const victim of [leaf, inner, root.rbNode as KeyNode]) {
    rbErase(S, victim, root);
    rbClearNode(S, victim);
    expected.delete(victim.key);
    assert.equal(rbEmptyNode(S, victim), true);
    assert.equal(rbVerify(S, root), expected.size);
    assert.deepEqual(
      keysForward(root),
      [...expected].sort((a, b) => a - b),
    );
  }
});

test('rbErase of every node in turn empties the tree', () => {
  const { root, nodes } = build(range(200));
  for (let i = 0; i < 200; i++) {
    rbErase(S, nodes.get((i * 37) % 200) as KeyNode, root);
    assert.equal(rbVerify(S, root), 199 - i);
  }
  assert.equal(rbEmptyRoot(S, root), true);
});

test('rbNext and rbPrev return null for a cleared node', () => {
  const n = new KeyNode(1);
  rbClearNode(S, n);
  assert.equal(rbEmptyNode(S, n), true);
  assert.equal(rbNext(S, n), null);
  assert.equal(rbPrev(S, n), null);
});

test('rbReplaceNode swaps a node in place for root, inner and leaf positions', () => {
  const { root, nodes } = build(range(32));
  const pick = [
    root.rbNode as KeyNode,
    nodes.get(5) as KeyNode,
    [...nodes.values()].find((n) => n.rbLeft === null && n.rbRight === null) as KeyNode,
  ];
  for (const victim of pick) {
    const shapeBefore = keysForward(root);
    const replacement = new KeyNode(victim.key);
    rbReplaceNode(S, victim, replacement, root);
    nodes.set(victim.key, replacement);
    assert.equal(rbVerify(S, root), 32);
    assert.deepEqual(keysForward(root), shapeBefore);
    // The victim is unreachable from the tree now.
    for (let n = rbFirst(S, root); n !== null; n = rbNext(S, n)) assert.notEqual(n, victim);
  }
  // The replacement nodes are fully live: erase them all.
  for (const n of nodes.values()) rbErase(S, n, root);
  assert.equal(rbVerify(S, root), 0);
});

test('rbLinkNode/rbInsertColor/rbErase agree with a sorted array under random operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), key: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ kind: fc.constant('erase' as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400, size: 'max' }), (ops) => {
      const root = new RbRoot<KeyNode | null>(null);
      const live: KeyNode[] = []; // kept sorted by key, duplicates allowed
      for (const o of ops) {
        if (o.kind === 'insert') {
          const n = new KeyNode(o.key);
          insert(root, n);
          // Equal keys go right in `insert`, so they sit after existing equals.
          let at = live.length;
          while (at > 0 && (live[at - 1] as KeyNode).key > o.key) at--;
          live.splice(at, 0, n);
        } else if (live.length > 0) {
          const idx = o.pick % live.length;
          rbErase(S, live[idx] as KeyNode, root);
          live.splice(idx, 1);
        }
        assert.equal(rbVerify(S, root), live.length);
      }
      const order: KeyNode[] = [];
      for (let n = rbFirst(S, root); n !== null; n = rbNext(S, n)) order.push(n);
      assert.deepEqual(
        order.map((n) => n.key),
        live.map((n) => n.key),
      );
      const back: KeyNode[] = [];
      for (let n = rbLast(S, root); n !== null; n = rbPrev(S, n)) back.push(n);
      assert.deepEqual(
        back.reverse().map((n) => n.key),
        live.map((n) => n.key),
      );
    }),
    { numRuns: 300, seed: 0x5a3e },
  );
});

test('rbVerify detects a node reachable twice', () => {
  const { root } = build(range(3));
  const top = root.rbNode as KeyNode;
  top.rbRight = top.rbLeft;
  assert.throws(() => rbVerify(S, root), /reached twice|wrong parent/);
});

/** Nodes as rows of typed-array columns, row 0 the nil handle: the store KSM's rmap_items use. */
class RowStore implements RbStore<number> {
  readonly nil = 0;
  readonly key: Int32Array;
  readonly p: Int32Array;
  readonly l: Int32Array;
  readonly r: Int32Array;
  readonly red: Uint8Array;
  constructor(n: number) {
    this.key = new Int32Array(n + 1);
    this.p = new Int32Array(n + 1);
    this.l = new Int32Array(n + 1);
    this.r = new Int32Array(n + 1);
    this.red = new Uint8Array(n + 1);
  }
  parent(n: number): number {
    return this.p[n]!;
  }
  left(n: number): number {
    return this.l[n]!;
  }
  right(n: number): number {
    return this.r[n]!;
  }
  isRed(n: number): boolean {
    return this.red[n] === 1;
  }
  setParent(n: number, v: number): void {
    this.p[n] = v;
  }
  setLeft(n: number, v: number): void {
    this.l[n] = v;
  }
  setRight(n: number, v: number): void {
    this.r[n] = v;
  }
  setRed(n: number, red: boolean): void {
    this.red[n] = red ? 1 : 0;
  }
}

test('the same tree code works on row handles: inserts, erases and order over typed arrays', () => {
  const n = 500;
  const rows = new RowStore(n);
  const root = new RbRoot<number>(0);
  for (let i = 1; i <= n; i++) {
    rows.key[i] = (i * 7919) % 1009;
    let parent = 0;
    let cur = root.rbNode;
    let left = false;
    while (cur !== 0) {
      parent = cur;
      left = rows.key[i]! < rows.key[cur]!;
      cur = left ? rows.left(cur) : rows.right(cur);
    }
    rbLinkNode(rows, i, parent, left ? 'left' : 'right', root);
    rbInsertColor(rows, i, root);
  }
  assert.equal(rbVerify(rows, root), n);
  for (let i = 1; i <= n; i += 3) rbErase(rows, i, root);
  const keys: number[] = [];
  for (let i = rbFirst(rows, root); i !== 0; i = rbNext(rows, i)) keys.push(rows.key[i]!);
  const expected = Array.from({ length: n }, (_, k) => k + 1)
    .filter((i) => (i - 1) % 3 !== 0)
    .map((i) => rows.key[i]!)
    .sort((a, b) => a - b);
  assert.deepEqual(keys, expected);
  assert.equal(rbVerify(rows, root), expected.length);
});
