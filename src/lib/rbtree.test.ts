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
  type RbNode,
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

/** The caller-side walk KSM does: descend by key, link at the empty slot, rebalance. */
function insert(root: RbRoot<KeyNode>, node: KeyNode): void {
  let parent: KeyNode | null = null;
  let cur = root.rbNode;
  let goLeft = false;
  while (cur !== null) {
    parent = cur;
    goLeft = node.key < cur.key;
    cur = goLeft ? cur.rbLeft : cur.rbRight;
  }
  rbLinkNode(node, parent, goLeft ? 'left' : 'right', root);
  rbInsertColor(node, root);
}

function keysForward(root: RbRoot<KeyNode>): number[] {
  const out: number[] = [];
  for (let n = rbFirst(root); n !== null; n = rbNext(n)) out.push(n.key);
  return out;
}

function keysBackward(root: RbRoot<KeyNode>): number[] {
  const out: number[] = [];
  for (let n = rbLast(root); n !== null; n = rbPrev(n)) out.push(n.key);
  return out;
}

function build(keys: readonly number[]): { root: RbRoot<KeyNode>; nodes: Map<number, KeyNode> } {
  const root = new RbRoot<KeyNode>();
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
    assert.equal(rbVerify(root), 1000);
    assert.deepEqual(keysForward(root), range(1000));
    assert.deepEqual(keysBackward(root), range(1000).reverse());
  }
});

test('rbVerify returns 0 for an empty tree and rbFirst/rbLast give null', () => {
  const root = new RbRoot<KeyNode>();
  assert.equal(rbVerify(root), 0);
  assert.equal(rbEmptyRoot(root), true);
  assert.equal(rbFirst(root), null);
  assert.equal(rbLast(root), null);
});

test('rbVerify throws on a red root, a red-red pair, unequal black heights and a bad parent', () => {
  const { root, nodes } = build(range(10));
  (root.rbNode as KeyNode).rbRed = true;
  assert.throws(() => rbVerify(root), /root is red/);
  (root.rbNode as KeyNode).rbRed = false;
  rbVerify(root);

  const red = [...nodes.values()].find((n) => n.rbRed && n.rbParent !== null) as KeyNode;
  const parent = red.rbParent as KeyNode;
  parent.rbRed = true;
  assert.throws(() => rbVerify(root), /red node with red child|black heights differ/);
  parent.rbRed = false;
  rbVerify(root);

  const leafBlack = [...nodes.values()].find((n) => !n.rbRed && n.rbLeft === null && n.rbRight === null && n.rbParent !== null) as KeyNode;
  leafBlack.rbRed = true;
  assert.throws(() => rbVerify(root), /black heights differ|red node with red child/);
  leafBlack.rbRed = false;
  rbVerify(root);

  const child = (root.rbNode as KeyNode).rbLeft as KeyNode;
  child.rbParent = null;
  assert.throws(() => rbVerify(root), /wrong parent pointer/);
});

test('rbErase removes a leaf, an inner node and the root, keeping order and invariants', () => {
  const { root, nodes } = build(range(64));
  const expected = new Set(range(64));
  const leaf = [...nodes.values()].find((n) => n.rbLeft === null && n.rbRight === null) as KeyNode;
  const inner = [...nodes.values()].find((n) => n.rbLeft !== null && n.rbRight !== null && n !== root.rbNode) as KeyNode;
  for (const victim of [leaf, inner, root.rbNode as KeyNode]) {
    rbErase(victim, root);
    rbClearNode(victim);
    expected.delete(victim.key);
    assert.equal(rbEmptyNode(victim), true);
    assert.equal(rbVerify(root), expected.size);
    assert.deepEqual(keysForward(root), [...expected].sort((a, b) => a - b));
  }
});

test('rbErase of every node in turn empties the tree', () => {
  const { root, nodes } = build(range(200));
  for (let i = 0; i < 200; i++) {
    rbErase(nodes.get((i * 37) % 200) as KeyNode, root);
    assert.equal(rbVerify(root), 199 - i);
  }
  assert.equal(rbEmptyRoot(root), true);
});

test('rbNext and rbPrev return null for a cleared node', () => {
  const n = new KeyNode(1);
  rbClearNode(n);
  assert.equal(rbEmptyNode(n), true);
  assert.equal(rbNext(n), null);
  assert.equal(rbPrev(n), null);
});

test('rbReplaceNode swaps a node in place for root, inner and leaf positions', () => {
  const { root, nodes } = build(range(32));
  const pick = [root.rbNode as KeyNode, nodes.get(5) as KeyNode, [...nodes.values()].find((n) => n.rbLeft === null && n.rbRight === null) as KeyNode];
  for (const victim of pick) {
    const shapeBefore = keysForward(root);
    const replacement = new KeyNode(victim.key);
    rbReplaceNode(victim, replacement, root);
    nodes.set(victim.key, replacement);
    assert.equal(rbVerify(root), 32);
    assert.deepEqual(keysForward(root), shapeBefore);
    // The victim is unreachable from the tree now.
    for (let n = rbFirst(root); n !== null; n = rbNext(n)) assert.notEqual(n, victim);
  }
  // The replacement nodes are fully live: erase them all.
  for (const n of nodes.values()) rbErase(n, root);
  assert.equal(rbVerify(root), 0);
});

test('rbLinkNode/rbInsertColor/rbErase agree with a sorted array under random operations', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), key: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ kind: fc.constant('erase' as const), pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400, size: 'max' }), (ops) => {
      const root = new RbRoot<KeyNode>();
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
          rbErase(live[idx] as KeyNode, root);
          live.splice(idx, 1);
        }
        assert.equal(rbVerify(root), live.length);
      }
      const order: KeyNode[] = [];
      for (let n = rbFirst(root); n !== null; n = rbNext(n)) order.push(n);
      assert.deepEqual(order.map((n) => n.key), live.map((n) => n.key));
      const back: KeyNode[] = [];
      for (let n = rbLast(root); n !== null; n = rbPrev(n)) back.push(n);
      assert.deepEqual(back.reverse().map((n) => n.key), live.map((n) => n.key));
    }),
    { numRuns: 300, seed: 0x5a3e },
  );
});

test('rbVerify detects a node reachable twice', () => {
  const { root } = build(range(3));
  const top = root.rbNode as KeyNode;
  top.rbRight = top.rbLeft;
  assert.throws(() => rbVerify(root), /reached twice|wrong parent/);
});
