import { _PAGE_PRESENT } from '../mm/constants.ts';
import { forEachMergeablePte } from '../mm/mergeable_ptes.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import type { Ksm } from './ksm.ts';
import type { MmStruct } from '../mm/mm_struct.ts';

/**
 * How far KSM's rmap_items lag the page tables. The counters (pages_sharing,
 * ksm_merging_pages) count rmap_items on stable nodes, and ksmd brings an item up to date
 * only when it visits it, so they describe the page tables only where every item is up to
 * date. Two ways they are not:
 *
 *   - unattached: a present PTE maps a KSM page of this scanner, but the mm has no rmap_item
 *     at that address on the page's stable node. A forked child's inherited mappings are
 *     unattached until ksmd first scans it; so is a mapping of a page that became KSM in
 *     place, through another mm's mapping, after ksmd had visited this one (a page a parent
 *     shares with its child after fork) or while smart_scan skipped it. Both last until
 *     ksmd's next visit of the mapping, which at a full-scan boundary can be a pass away.
 *   - stale: an rmap_item on a stable node whose address no longer maps that node's page
 *     (a CoW break, an unmap, an exit), until ksmd visits it.
 *
 * Unattached mappings are split by their mm: `unattachedUnscanned` for an mm with no
 * rmap_item on any stable node (ksm_merging_pages 0), the state /proc/PID/ksm_stat can show
 * from outside, and `unattached` for the others, which it cannot.
 *
 * Model only: Linux keeps no such figure. Tests use it to know when the counters must equal
 * what the page tables show (src/attribution/attribute.ts's identity).
 */
export interface KsmLag {
  readonly unattached: number;
  readonly unattachedUnscanned: number;
  readonly stale: number;
}

/** The lag of every mm registered with `ksm` (its mm_slots, exited ones included). */
export function ksmLag(ksm: Ksm): KsmLag {
  const items = ksm.items;
  const frames = ksm.mmgr.frames;
  // Each mm's rmap_items on stable nodes: address → the node's id.
  const attached = new Map<MmStruct, Map<number, number>>();
  let stale = 0;
  for (const node of ksm.stableNodes.values()) {
    if (node.isChain()) continue;
    for (let item = node.hlist; item !== 0; item = items.hlistNext[item]!) {
      const mm = items.mm(item);
      const address = items.address[item]!;
      let byAddress = attached.get(mm);
      if (byAddress === undefined) {
        byAddress = new Map();
        attached.set(mm, byAddress);
      }
      byAddress.set(address, node.id);
      const vpn = address / PAGE_SIZE;
      if ((mm.pgtable.flags(vpn) & _PAGE_PRESENT) === 0 || mm.pgtable.pfn(vpn) !== node.kpfn) stale++;
    }
  }
  let unattached = 0;
  let unattachedUnscanned = 0;
  for (const mm of ksm.slots.keys()) {
    const byAddress = attached.get(mm);
    forEachMergeablePte(mm, (vpn, pfn) => {
      const link = frames.stableNode(pfn);
      if (!ksm.owns(link) || byAddress?.get(vpn * PAGE_SIZE) === link.id) return;
      if (byAddress === undefined) unattachedUnscanned++;
      else unattached++;
    });
  }
  return { unattached, unattachedUnscanned, stale };
}
