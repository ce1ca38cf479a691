import type { RbNode } from '../lib/rbtree.ts';
import type { KsmPageLink } from '../mm/ksm_hooks.ts';
import { NULL_ITEM, type RmapItem, type RmapItems } from './rmap_item.ts';
import { STABLE_NODE_CHAIN } from './constants.ts';

/**
 * struct ksm_stable_node: one KSM page (a regular node in the stable tree, or a "dup"
 * inside a chain), or a chain head holding dups of identical content when
 * max_page_sharing was reached.
 *
 * The kernel marks a dup by `head == STABLE_NODE_DUP_HEAD` and keeps a chain's dups on the
 * same hlist field that holds a node's rmap_items; here those are the separate `isDup`,
 * `chain`/`dupNext`/`dupPrev` (the hlist_dup links) and `dups` (a chain's list head).
 */
export class StableNode implements RbNode<StableNode>, KsmPageLink {
  rbParent: StableNode | null = null;
  rbLeft: StableNode | null = null;
  rbRight: StableNode | null = null;
  rbRed = false;
  /** First rmap_item attached to this KSM page (hlist head); NULL_ITEM when none. */
  hlist: RmapItem = NULL_ITEM;
  /** For a chain: first dup. */
  dups: StableNode | null = null;
  /** For a dup: its chain and its neighbours in the chain's list. */
  chain: StableNode | null = null;
  dupNext: StableNode | null = null;
  dupPrev: StableNode | null = null;
  isDup = false;
  /** On the migrate_nodes list (only after NUMA migration, which the model never does). */
  onMigrateList = false;
  /** Frame of the KSM page (regular node or dup). */
  kpfn: number;
  /** For a chain: jiffies of the last full prune. */
  chainPruneTime = 0;
  /** Number of rmap_items, or STABLE_NODE_CHAIN for a chain head. */
  rmapHlistLen = 0;
  nid = 0;
  /**
   * The first 8 bytes of the KSM page's content, as ContentStore's two big-endian keys (a
   * chain: its dups' content). A KSM page is never written (a write copies it), so they
   * hold for the node's life; stable_tree_search orders by them where they differ.
   */
  key0 = 0;
  key1 = 0;
  /**
   * The scanner whose trees hold this node (KSM, or KSM+ which keeps its own trees). Linux
   * has one scanner; the model can run two side by side, and neither touches the other's
   * KSM pages.
   */
  readonly owner: object;
  /** What rmap_items hold in their `head` column to name this node (never reused). */
  readonly id: number;

  constructor(kpfn: number, owner: object, id: number) {
    this.kpfn = kpfn;
    this.owner = owner;
    this.id = id;
  }

  isChain(): boolean {
    return this.rmapHlistLen === STABLE_NODE_CHAIN;
  }
}

/** hlist_add_head of an rmap_item on a KSM page's list. */
export function hlistAddItem(items: RmapItems, node: StableNode, item: RmapItem): void {
  items.hlistPrev[item] = NULL_ITEM;
  items.hlistNext[item] = node.hlist;
  if (node.hlist !== NULL_ITEM) items.hlistPrev[node.hlist] = item;
  node.hlist = item;
}

/** hlist_del of an rmap_item from its node's list. */
export function hlistDelItem(items: RmapItems, node: StableNode, item: RmapItem): void {
  const prev = items.hlistPrev[item]!;
  const next = items.hlistNext[item]!;
  if (prev !== NULL_ITEM) items.hlistNext[prev] = next;
  else node.hlist = next;
  if (next !== NULL_ITEM) items.hlistPrev[next] = prev;
  items.hlistNext[item] = NULL_ITEM;
  items.hlistPrev[item] = NULL_ITEM;
}

/** hlist_add_head of a dup on its chain's list. */
export function hlistAddDup(chain: StableNode, dup: StableNode): void {
  dup.chain = chain;
  dup.dupPrev = null;
  dup.dupNext = chain.dups;
  if (chain.dups !== null) chain.dups.dupPrev = dup;
  chain.dups = dup;
}

/** hlist_del of a dup from its chain's list. */
export function hlistDelDup(dup: StableNode): void {
  const chain = dup.chain!;
  if (dup.dupPrev !== null) dup.dupPrev.dupNext = dup.dupNext;
  else chain.dups = dup.dupNext;
  if (dup.dupNext !== null) dup.dupNext.dupPrev = dup.dupPrev;
  dup.dupNext = null;
  dup.dupPrev = null;
}
