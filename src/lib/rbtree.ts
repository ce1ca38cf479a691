/**
 * An intrusive red-black tree with a kernel-shaped API, written from the textbook algorithm
 * (Cormen, Leiserson, Rivest, Stein, "Introduction to Algorithms", ch. 13, with parent
 * pointers and `null` in place of the sentinel leaf).
 *
 * Intrusive: the tree fields live in the caller's own objects (an rmap_item, a stable node),
 * so erasing needs no search and a walk visits the caller's objects directly. The tree has no
 * comparator: like the kernel's users, callers walk from `root.rbNode` themselves (KSM
 * compares page contents and acts on stale nodes it meets), then `rbLinkNode` the new node at
 * the empty slot they reached and call `rbInsertColor` to rebalance.
 */

/** The fields a tree node carries. `N` is the embedding type, so walks stay typed. */
export interface RbNode<N> {
  rbParent: N | null;
  rbLeft: N | null;
  rbRight: N | null;
  /** Red or black; a node outside any tree has no meaningful colour. */
  rbRed: boolean;
}

/** Which child slot of `parent` a new node goes into. */
export type RbDir = 'left' | 'right';

/** The root of a tree (kernel `struct rb_root`). */
export class RbRoot<N extends RbNode<N>> {
  rbNode: N | null = null;
}

/** Marks a node as in no tree, as the kernel's RB_CLEAR_NODE does: its parent is itself. */
export function rbClearNode<N extends RbNode<N>>(node: N): void {
  node.rbParent = node;
}

/** Whether `node` was marked by `rbClearNode` (kernel RB_EMPTY_NODE). */
export function rbEmptyNode<N extends RbNode<N>>(node: N): boolean {
  return node.rbParent === node;
}

/** Whether the tree has no nodes (kernel RB_EMPTY_ROOT). */
export function rbEmptyRoot<N extends RbNode<N>>(root: RbRoot<N>): boolean {
  return root.rbNode === null;
}

/**
 * Attaches `node` as a red leaf in the `dir` slot of `parent` (or as the root when `parent`
 * is null). The slot must be empty: the caller found it by its own walk. Call
 * `rbInsertColor` next to restore the red-black properties.
 */
export function rbLinkNode<N extends RbNode<N>>(node: N, parent: N | null, dir: RbDir, root: RbRoot<N>): void {
  node.rbParent = parent;
  node.rbLeft = null;
  node.rbRight = null;
  node.rbRed = true;
  if (parent === null) root.rbNode = node;
  else if (dir === 'left') parent.rbLeft = node;
  else parent.rbRight = node;
}

/** Points whichever link held `oldChild` (a child slot of `parent`, or the root) at `newChild`. */
function changeChild<N extends RbNode<N>>(oldChild: N, newChild: N | null, parent: N | null, root: RbRoot<N>): void {
  if (parent === null) root.rbNode = newChild;
  else if (parent.rbLeft === oldChild) parent.rbLeft = newChild;
  else parent.rbRight = newChild;
}

function rotateLeft<N extends RbNode<N>>(root: RbRoot<N>, x: N): void {
  const y = x.rbRight as N; // callers only rotate towards an existing child
  x.rbRight = y.rbLeft;
  if (y.rbLeft !== null) y.rbLeft.rbParent = x;
  y.rbParent = x.rbParent;
  changeChild(x, y, x.rbParent, root);
  y.rbLeft = x;
  x.rbParent = y;
}

function rotateRight<N extends RbNode<N>>(root: RbRoot<N>, x: N): void {
  const y = x.rbLeft as N;
  x.rbLeft = y.rbRight;
  if (y.rbRight !== null) y.rbRight.rbParent = x;
  y.rbParent = x.rbParent;
  changeChild(x, y, x.rbParent, root);
  y.rbRight = x;
  x.rbParent = y;
}

function isRed<N extends RbNode<N>>(node: N | null): boolean {
  return node !== null && node.rbRed;
}

/** Rebalances after `rbLinkNode` (CLRS RB-INSERT-FIXUP). */
export function rbInsertColor<N extends RbNode<N>>(node: N, root: RbRoot<N>): void {
  let z = node;
  let p = z.rbParent;
  while (p !== null && p.rbRed) {
    // A red parent is never the root, so the grandparent exists.
    const g = p.rbParent as N;
    if (p === g.rbLeft) {
      const uncle = g.rbRight;
      if (uncle !== null && uncle.rbRed) {
        p.rbRed = false;
        uncle.rbRed = false;
        g.rbRed = true;
        z = g;
      } else {
        if (z === p.rbRight) {
          z = p;
          rotateLeft(root, z);
          p = z.rbParent as N;
        }
        p.rbRed = false;
        g.rbRed = true;
        rotateRight(root, g);
      }
    } else {
      const uncle = g.rbLeft;
      if (uncle !== null && uncle.rbRed) {
        p.rbRed = false;
        uncle.rbRed = false;
        g.rbRed = true;
        z = g;
      } else {
        if (z === p.rbLeft) {
          z = p;
          rotateRight(root, z);
          p = z.rbParent as N;
        }
        p.rbRed = false;
        g.rbRed = true;
        rotateLeft(root, g);
      }
    }
    p = z.rbParent;
  }
  (root.rbNode as N).rbRed = false;
}

/** Puts `v` (possibly null) where `u` hangs (CLRS RB-TRANSPLANT). */
function transplant<N extends RbNode<N>>(root: RbRoot<N>, u: N, v: N | null): void {
  changeChild(u, v, u.rbParent, root);
  if (v !== null) v.rbParent = u.rbParent;
}

/**
 * Removes `node` from the tree it is in. Like the kernel's rb_erase it leaves the node's own
 * fields stale; call `rbClearNode` afterwards if `rbEmptyNode` must report it as removed.
 */
export function rbErase<N extends RbNode<N>>(node: N, root: RbRoot<N>): void {
  let removedRed = node.rbRed;
  // `x` moves into the removed position; it may be null, so its parent is tracked apart.
  let x: N | null;
  let xParent: N | null;
  if (node.rbLeft === null) {
    x = node.rbRight;
    xParent = node.rbParent;
    transplant(root, node, x);
  } else if (node.rbRight === null) {
    x = node.rbLeft;
    xParent = node.rbParent;
    transplant(root, node, x);
  } else {
    // Two children: the successor (leftmost of the right subtree) takes node's place.
    let y: N = node.rbRight;
    while (y.rbLeft !== null) y = y.rbLeft;
    removedRed = y.rbRed;
    x = y.rbRight;
    if (y.rbParent === node) {
      xParent = y;
    } else {
      xParent = y.rbParent;
      transplant(root, y, x);
      y.rbRight = node.rbRight;
      node.rbRight.rbParent = y;
    }
    transplant(root, node, y);
    y.rbLeft = node.rbLeft;
    node.rbLeft.rbParent = y;
    y.rbRed = node.rbRed;
  }
  if (!removedRed) eraseFixup(root, x, xParent);
}

/** CLRS RB-DELETE-FIXUP: `x` carries an extra black; `parent` is its parent. */
function eraseFixup<N extends RbNode<N>>(root: RbRoot<N>, start: N | null, startParent: N | null): void {
  let x = start;
  let parent = startParent;
  while (x !== root.rbNode && !isRed(x)) {
    // x is not the root, so it has a parent; its sibling subtree has black height >= 1,
    // so the sibling exists.
    const p = parent as N;
    if (x === p.rbLeft) {
      let w = p.rbRight as N;
      if (w.rbRed) {
        w.rbRed = false;
        p.rbRed = true;
        rotateLeft(root, p);
        w = p.rbRight as N;
      }
      if (!isRed(w.rbLeft) && !isRed(w.rbRight)) {
        w.rbRed = true;
        x = p;
        parent = p.rbParent;
      } else {
        if (!isRed(w.rbRight)) {
          (w.rbLeft as N).rbRed = false;
          w.rbRed = true;
          rotateRight(root, w);
          w = p.rbRight as N;
        }
        w.rbRed = p.rbRed;
        p.rbRed = false;
        (w.rbRight as N).rbRed = false;
        rotateLeft(root, p);
        x = root.rbNode;
      }
    } else {
      let w = p.rbLeft as N;
      if (w.rbRed) {
        w.rbRed = false;
        p.rbRed = true;
        rotateRight(root, p);
        w = p.rbLeft as N;
      }
      if (!isRed(w.rbLeft) && !isRed(w.rbRight)) {
        w.rbRed = true;
        x = p;
        parent = p.rbParent;
      } else {
        if (!isRed(w.rbLeft)) {
          (w.rbRight as N).rbRed = false;
          w.rbRed = true;
          rotateLeft(root, w);
          w = p.rbLeft as N;
        }
        w.rbRed = p.rbRed;
        p.rbRed = false;
        (w.rbLeft as N).rbRed = false;
        rotateRight(root, p);
        x = root.rbNode;
      }
    }
  }
  if (x !== null) x.rbRed = false;
}

/**
 * Puts `newNode` exactly where `victim` is (same parent, children and colour) without
 * rebalancing; the caller guarantees `newNode` sorts where `victim` did. KSM uses this when
 * a stable-node chain takes over a stable node's place. `victim`'s fields are left stale.
 */
export function rbReplaceNode<N extends RbNode<N>>(victim: N, newNode: N, root: RbRoot<N>): void {
  newNode.rbParent = victim.rbParent;
  newNode.rbLeft = victim.rbLeft;
  newNode.rbRight = victim.rbRight;
  newNode.rbRed = victim.rbRed;
  if (victim.rbLeft !== null) victim.rbLeft.rbParent = newNode;
  if (victim.rbRight !== null) victim.rbRight.rbParent = newNode;
  changeChild(victim, newNode, victim.rbParent, root);
}

/** The leftmost (smallest) node, or null for an empty tree. */
export function rbFirst<N extends RbNode<N>>(root: RbRoot<N>): N | null {
  let n = root.rbNode;
  if (n === null) return null;
  while (n.rbLeft !== null) n = n.rbLeft;
  return n;
}

/** The rightmost (largest) node, or null for an empty tree. */
export function rbLast<N extends RbNode<N>>(root: RbRoot<N>): N | null {
  let n = root.rbNode;
  if (n === null) return null;
  while (n.rbRight !== null) n = n.rbRight;
  return n;
}

/** In-order successor, or null at the end (and for a cleared node, as in the kernel). */
export function rbNext<N extends RbNode<N>>(node: N): N | null {
  if (rbEmptyNode(node)) return null;
  if (node.rbRight !== null) {
    let n = node.rbRight;
    while (n.rbLeft !== null) n = n.rbLeft;
    return n;
  }
  let n = node;
  let p = n.rbParent;
  while (p !== null && n === p.rbRight) {
    n = p;
    p = n.rbParent;
  }
  return p;
}

/** In-order predecessor, or null at the start (and for a cleared node). */
export function rbPrev<N extends RbNode<N>>(node: N): N | null {
  if (rbEmptyNode(node)) return null;
  if (node.rbLeft !== null) {
    let n = node.rbLeft;
    while (n.rbRight !== null) n = n.rbRight;
    return n;
  }
  let n = node;
  let p = n.rbParent;
  while (p !== null && n === p.rbLeft) {
    n = p;
    p = n.rbParent;
  }
  return p;
}

/**
 * Checks every red-black and linkage invariant (root black with no parent, no red node with
 * a red child, the same number of black nodes on every root-to-leaf path, each child's
 * parent pointer naming its parent, no node visited twice) and returns the node count.
 * Throws an Error naming the first violation. Order is the caller's concern: it has the keys.
 */
export function rbVerify<N extends RbNode<N>>(root: RbRoot<N>): number {
  const top = root.rbNode;
  if (top === null) return 0;
  if (top.rbParent !== null) throw new Error('rbVerify: root has a parent');
  if (top.rbRed) throw new Error('rbVerify: root is red');
  const seen = new Set<N>();
  // Returns the black height of the subtree at `n` (null leaves count 1).
  const walk = (n: N | null, parent: N | null, depth: number): number => {
    if (n === null) return 1;
    if (seen.has(n)) throw new Error(`rbVerify: node reached twice (depth ${depth})`);
    seen.add(n);
    if (n.rbParent !== parent) throw new Error(`rbVerify: wrong parent pointer at depth ${depth}`);
    if (n.rbRed && (isRed(n.rbLeft) || isRed(n.rbRight))) throw new Error(`rbVerify: red node with red child at depth ${depth}`);
    const left = walk(n.rbLeft, n, depth + 1);
    const right = walk(n.rbRight, n, depth + 1);
    if (left !== right) throw new Error(`rbVerify: black heights differ (${left} vs ${right}) at depth ${depth}`);
    return left + (n.rbRed ? 0 : 1);
  };
  walk(top, null, 0);
  return seen.size;
}
