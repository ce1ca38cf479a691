/**
 * A red-black tree with a kernel-shaped API, written from the textbook algorithm (Cormen,
 * Leiserson, Rivest, Stein, "Introduction to Algorithms", ch. 13, with parent pointers and
 * a nil handle in place of the sentinel leaf).
 *
 * Intrusive and storage-agnostic: the tree's links live in the caller's own records, reached
 * through an `RbStore`. A node is a handle `N`: an object whose fields hold the links
 * (`FieldRbStore`, for KSM's stable nodes), or a row number of typed-array columns (KSM's
 * rmap_items, millions of them, see src/ksm/rmap_item.ts). Erasing needs no search, and a
 * walk visits the caller's records directly. The tree has no comparator: like the kernel's
 * users, callers walk from `root.rbNode` themselves (KSM compares page contents and acts on
 * stale nodes it meets), then `rbLinkNode` the new node at the empty slot they reached and
 * call `rbInsertColor` to rebalance.
 *
 * The textbook's cases are Linux's: lib/rbtree.c rotates and recolours at the same nodes, and
 * erases a node with two children by moving its successor up, as CLRS does. So the trees
 * have Linux's shapes, which KSM's results depend on once a page changes inside the unstable
 * tree (a descent then follows the shape, not the order). test/rbtree-linux.test.ts checks
 * that over twenty sequences (after every operation in trees of up to 64 nodes, every 8th or
 * 64th in the larger ones) against shapes recorded from the kernel's own code.
 */

/** Where a tree's links live: the four fields of every node, and the handle meaning "none". */
export interface RbStore<N> {
  readonly nil: N;
  parent(n: N): N;
  left(n: N): N;
  right(n: N): N;
  isRed(n: N): boolean;
  setParent(n: N, v: N): void;
  setLeft(n: N, v: N): void;
  setRight(n: N, v: N): void;
  setRed(n: N, red: boolean): void;
}

/** The fields an object node carries for `FieldRbStore`. `N` is the embedding type. */
export interface RbNode<N> {
  rbParent: N | null;
  rbLeft: N | null;
  rbRight: N | null;
  /** Red or black; a node outside any tree has no meaningful colour. */
  rbRed: boolean;
}

/** The store of object nodes: the links are the nodes' own `rb*` fields, `null` is none. */
export class FieldRbStore<N extends RbNode<N>> implements RbStore<N | null> {
  readonly nil = null;
  parent(n: N | null): N | null {
    return n!.rbParent;
  }
  left(n: N | null): N | null {
    return n!.rbLeft;
  }
  right(n: N | null): N | null {
    return n!.rbRight;
  }
  isRed(n: N | null): boolean {
    return n!.rbRed;
  }
  setParent(n: N | null, v: N | null): void {
    n!.rbParent = v;
  }
  setLeft(n: N | null, v: N | null): void {
    n!.rbLeft = v;
  }
  setRight(n: N | null, v: N | null): void {
    n!.rbRight = v;
  }
  setRed(n: N | null, red: boolean): void {
    n!.rbRed = red;
  }
}

/** Which child slot of `parent` a new node goes into. */
export type RbDir = 'left' | 'right';

/** The root of a tree (kernel `struct rb_root`). */
export class RbRoot<N> {
  rbNode: N;
  constructor(nil: N) {
    this.rbNode = nil;
  }
}

/** Marks a node as in no tree, as the kernel's RB_CLEAR_NODE does: its parent is itself. */
export function rbClearNode<N>(s: RbStore<N>, node: N): void {
  s.setParent(node, node);
}

/** Whether `node` was marked by `rbClearNode` (kernel RB_EMPTY_NODE). */
export function rbEmptyNode<N>(s: RbStore<N>, node: N): boolean {
  return s.parent(node) === node;
}

/** Whether the tree has no nodes (kernel RB_EMPTY_ROOT). */
export function rbEmptyRoot<N>(s: RbStore<N>, root: RbRoot<N>): boolean {
  return root.rbNode === s.nil;
}

/**
 * Attaches `node` as a red leaf in the `dir` slot of `parent` (or as the root when `parent`
 * is nil). The slot must be empty: the caller found it by its own walk. Call
 * `rbInsertColor` next to restore the red-black properties.
 * @linux include/linux/rbtree.h rb_link_node
 */
export function rbLinkNode<N>(s: RbStore<N>, node: N, parent: N, dir: RbDir, root: RbRoot<N>): void {
  s.setParent(node, parent);
  s.setLeft(node, s.nil);
  s.setRight(node, s.nil);
  s.setRed(node, true);
  if (parent === s.nil) root.rbNode = node;
  else if (dir === 'left') s.setLeft(parent, node);
  else s.setRight(parent, node);
}

/** Points whichever link held `oldChild` (a child slot of `parent`, or the root) at `newChild`. */
function changeChild<N>(s: RbStore<N>, oldChild: N, newChild: N, parent: N, root: RbRoot<N>): void {
  if (parent === s.nil) root.rbNode = newChild;
  else if (s.left(parent) === oldChild) s.setLeft(parent, newChild);
  else s.setRight(parent, newChild);
}

function rotateLeft<N>(s: RbStore<N>, root: RbRoot<N>, x: N): void {
  const y = s.right(x); // callers only rotate towards an existing child
  const yl = s.left(y);
  s.setRight(x, yl);
  if (yl !== s.nil) s.setParent(yl, x);
  const xp = s.parent(x);
  s.setParent(y, xp);
  changeChild(s, x, y, xp, root);
  s.setLeft(y, x);
  s.setParent(x, y);
}

function rotateRight<N>(s: RbStore<N>, root: RbRoot<N>, x: N): void {
  const y = s.left(x);
  const yr = s.right(y);
  s.setLeft(x, yr);
  if (yr !== s.nil) s.setParent(yr, x);
  const xp = s.parent(x);
  s.setParent(y, xp);
  changeChild(s, x, y, xp, root);
  s.setRight(y, x);
  s.setParent(x, y);
}

function isRed<N>(s: RbStore<N>, node: N): boolean {
  return node !== s.nil && s.isRed(node);
}

/**
 * Rebalances after `rbLinkNode` (CLRS RB-INSERT-FIXUP).
 * @linux lib/rbtree.c rb_insert_color
 */
export function rbInsertColor<N>(s: RbStore<N>, node: N, root: RbRoot<N>): void {
  let z = node;
  let p = s.parent(z);
  while (p !== s.nil && s.isRed(p)) {
    // A red parent is never the root, so the grandparent exists.
    const g = s.parent(p);
    if (p === s.left(g)) {
      const uncle = s.right(g);
      if (isRed(s, uncle)) {
        s.setRed(p, false);
        s.setRed(uncle, false);
        s.setRed(g, true);
        z = g;
      } else {
        if (z === s.right(p)) {
          z = p;
          rotateLeft(s, root, z);
          p = s.parent(z);
        }
        s.setRed(p, false);
        s.setRed(g, true);
        rotateRight(s, root, g);
      }
    } else {
      const uncle = s.left(g);
      if (isRed(s, uncle)) {
        s.setRed(p, false);
        s.setRed(uncle, false);
        s.setRed(g, true);
        z = g;
      } else {
        if (z === s.left(p)) {
          z = p;
          rotateRight(s, root, z);
          p = s.parent(z);
        }
        s.setRed(p, false);
        s.setRed(g, true);
        rotateLeft(s, root, g);
      }
    }
    p = s.parent(z);
  }
  s.setRed(root.rbNode, false);
}

/** Puts `v` (possibly nil) where `u` hangs (CLRS RB-TRANSPLANT). */
function transplant<N>(s: RbStore<N>, root: RbRoot<N>, u: N, v: N): void {
  const up = s.parent(u);
  changeChild(s, u, v, up, root);
  if (v !== s.nil) s.setParent(v, up);
}

/**
 * Removes `node` from the tree it is in. Like the kernel's rb_erase it leaves the node's own
 * fields stale; call `rbClearNode` afterwards if `rbEmptyNode` must report it as removed.
 * @linux lib/rbtree.c rb_erase
 */
export function rbErase<N>(s: RbStore<N>, node: N, root: RbRoot<N>): void {
  let removedRed = s.isRed(node);
  // `x` moves into the removed position; it may be nil, so its parent is tracked apart.
  let x: N;
  let xParent: N;
  const nl = s.left(node);
  const nr = s.right(node);
  if (nl === s.nil) {
    x = nr;
    xParent = s.parent(node);
    transplant(s, root, node, x);
  } else if (nr === s.nil) {
    x = nl;
    xParent = s.parent(node);
    transplant(s, root, node, x);
  } else {
    // Two children: the successor (leftmost of the right subtree) takes node's place.
    let y = nr;
    while (s.left(y) !== s.nil) y = s.left(y);
    removedRed = s.isRed(y);
    x = s.right(y);
    if (s.parent(y) === node) {
      xParent = y;
    } else {
      xParent = s.parent(y);
      transplant(s, root, y, x);
      s.setRight(y, nr);
      s.setParent(nr, y);
    }
    transplant(s, root, node, y);
    s.setLeft(y, nl);
    s.setParent(nl, y);
    s.setRed(y, s.isRed(node));
  }
  if (!removedRed) eraseFixup(s, root, x, xParent);
}

/** CLRS RB-DELETE-FIXUP: `x` carries an extra black; `parent` is its parent. */
function eraseFixup<N>(s: RbStore<N>, root: RbRoot<N>, start: N, startParent: N): void {
  let x = start;
  let parent = startParent;
  while (x !== root.rbNode && !isRed(s, x)) {
    // x is not the root, so it has a parent; its sibling subtree has black height >= 1,
    // so the sibling exists.
    const p = parent;
    if (x === s.left(p)) {
      let w = s.right(p);
      if (s.isRed(w)) {
        s.setRed(w, false);
        s.setRed(p, true);
        rotateLeft(s, root, p);
        w = s.right(p);
      }
      if (!isRed(s, s.left(w)) && !isRed(s, s.right(w))) {
        s.setRed(w, true);
        x = p;
        parent = s.parent(p);
      } else {
        if (!isRed(s, s.right(w))) {
          s.setRed(s.left(w), false);
          s.setRed(w, true);
          rotateRight(s, root, w);
          w = s.right(p);
        }
        s.setRed(w, s.isRed(p));
        s.setRed(p, false);
        s.setRed(s.right(w), false);
        rotateLeft(s, root, p);
        x = root.rbNode;
      }
    } else {
      let w = s.left(p);
      if (s.isRed(w)) {
        s.setRed(w, false);
        s.setRed(p, true);
        rotateRight(s, root, p);
        w = s.left(p);
      }
      if (!isRed(s, s.left(w)) && !isRed(s, s.right(w))) {
        s.setRed(w, true);
        x = p;
        parent = s.parent(p);
      } else {
        if (!isRed(s, s.left(w))) {
          s.setRed(s.right(w), false);
          s.setRed(w, true);
          rotateLeft(s, root, w);
          w = s.left(p);
        }
        s.setRed(w, s.isRed(p));
        s.setRed(p, false);
        s.setRed(s.left(w), false);
        rotateRight(s, root, p);
        x = root.rbNode;
      }
    }
  }
  if (x !== s.nil) s.setRed(x, false);
}

/**
 * Puts `newNode` exactly where `victim` is (same parent, children and colour) without
 * rebalancing; the caller guarantees `newNode` sorts where `victim` did. KSM uses this when
 * a stable-node chain takes over a stable node's place. `victim`'s fields are left stale.
 * @linux lib/rbtree.c rb_replace_node
 */
export function rbReplaceNode<N>(s: RbStore<N>, victim: N, newNode: N, root: RbRoot<N>): void {
  const vp = s.parent(victim);
  const vl = s.left(victim);
  const vr = s.right(victim);
  s.setParent(newNode, vp);
  s.setLeft(newNode, vl);
  s.setRight(newNode, vr);
  s.setRed(newNode, s.isRed(victim));
  if (vl !== s.nil) s.setParent(vl, newNode);
  if (vr !== s.nil) s.setParent(vr, newNode);
  changeChild(s, victim, newNode, vp, root);
}

/** The leftmost (smallest) node, or nil for an empty tree. */
export function rbFirst<N>(s: RbStore<N>, root: RbRoot<N>): N {
  let n = root.rbNode;
  if (n === s.nil) return n;
  while (s.left(n) !== s.nil) n = s.left(n);
  return n;
}

/** The rightmost (largest) node, or nil for an empty tree. */
export function rbLast<N>(s: RbStore<N>, root: RbRoot<N>): N {
  let n = root.rbNode;
  if (n === s.nil) return n;
  while (s.right(n) !== s.nil) n = s.right(n);
  return n;
}

/** In-order successor, or nil at the end (and for a cleared node, as in the kernel). */
export function rbNext<N>(s: RbStore<N>, node: N): N {
  if (rbEmptyNode(s, node)) return s.nil;
  if (s.right(node) !== s.nil) {
    let n = s.right(node);
    while (s.left(n) !== s.nil) n = s.left(n);
    return n;
  }
  let n = node;
  let p = s.parent(n);
  while (p !== s.nil && n === s.right(p)) {
    n = p;
    p = s.parent(n);
  }
  return p;
}

/** In-order predecessor, or nil at the start (and for a cleared node). */
export function rbPrev<N>(s: RbStore<N>, node: N): N {
  if (rbEmptyNode(s, node)) return s.nil;
  if (s.left(node) !== s.nil) {
    let n = s.left(node);
    while (s.right(n) !== s.nil) n = s.right(n);
    return n;
  }
  let n = node;
  let p = s.parent(n);
  while (p !== s.nil && n === s.left(p)) {
    n = p;
    p = s.parent(n);
  }
  return p;
}

/**
 * Checks every red-black and linkage invariant (root black with no parent, no red node with
 * a red child, the same number of black nodes on every root-to-leaf path, each child's
 * parent pointer naming its parent, no node visited twice) and returns the node count.
 * Throws an Error naming the first violation. Order is the caller's concern: it has the keys.
 */
export function rbVerify<N>(s: RbStore<N>, root: RbRoot<N>): number {
  const top = root.rbNode;
  if (top === s.nil) return 0;
  if (s.parent(top) !== s.nil) throw new Error('rbVerify: root has a parent');
  if (s.isRed(top)) throw new Error('rbVerify: root is red');
  const seen = new Set<N>();
  // Returns the black height of the subtree at `n` (nil leaves count 1).
  const walk = (n: N, parent: N, depth: number): number => {
    if (n === s.nil) return 1;
    if (seen.has(n)) throw new Error(`rbVerify: node reached twice (depth ${depth})`);
    seen.add(n);
    if (s.parent(n) !== parent) throw new Error(`rbVerify: wrong parent pointer at depth ${depth}`);
    if (s.isRed(n) && (isRed(s, s.left(n)) || isRed(s, s.right(n))))
      throw new Error(`rbVerify: red node with red child at depth ${depth}`);
    const left = walk(s.left(n), n, depth + 1);
    const right = walk(s.right(n), n, depth + 1);
    if (left !== right) throw new Error(`rbVerify: black heights differ (${left} vs ${right}) at depth ${depth}`);
    return left + (s.isRed(n) ? 0 : 1);
  };
  walk(top, s.nil, 0);
  return seen.size;
}
