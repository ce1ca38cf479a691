import { EINVAL, EBUSY } from '../lib/errno.ts';
import type { KsmSysfsFile } from '../lib/ksm_files.ts';
import type { Ksm } from '../ksm/ksm.ts';
import type { Ksmd } from '../ksm/ksmd.ts';
import { ksmRunStore } from '../ksm/run.ts';
import { removeAllStableNodes } from '../ksm/stable_tree.ts';
import { KSM_DEFAULTS } from '../ksm/constants.ts';
import { newAdvisorCtx } from '../ksm/advisor.ts';
import { type Attribute, type AttributeGroup, attributeGroup } from './attribute.ts';
import { kstrtobool, kstrtoint, kstrtoul, kstrtoull, kstrtouint, sysfsStreq } from './kstrto.ts';

/**
 * /sys/kernel/mm/ksm: every file of Linux 6.18 (the list of src/lib/ksm_files.ts, which
 * ksm_sysfs.test.ts holds this table to), its text and its store rules.
 * @linux mm/ksm.c ksm_attrs
 */
export function ksmSysfs(ksm: Ksm, ksmd: Ksmd): AttributeGroup {
  const ro = (name: KsmSysfsFile, value: () => number): Attribute => ({ name, show: () => `${value()}\n` });
  const uintKnob = (
    name: KsmSysfsFile,
    get: () => number,
    set: (v: number) => void,
    after?: () => void,
  ): Attribute => ({
    name,
    show: () => `${get()}\n`,
    store: (s) => {
      const v = kstrtouint(s);
      if (v < 0) return -EINVAL;
      set(v);
      after?.();
      return 0;
    },
  });
  // The advisor's stores: kstrtoul, any failure -EINVAL (ERANGE too), then the unsigned long
  // value, kept whole (a bigint: exact to 2^64 - 1).
  const ulongKnob = (name: KsmSysfsFile, get: () => bigint, set: (v: bigint) => void, min = 0n): Attribute => ({
    name,
    show: () => `${get()}\n`,
    store: (s) => {
      const v = kstrtoull(s);
      if (typeof v === 'number' || v < min) return -EINVAL;
      set(v);
      return 0;
    },
  });
  const boolKnob = (name: KsmSysfsFile, get: () => boolean, set: (v: boolean) => void): Attribute => ({
    name,
    show: () => `${get() ? 1 : 0}\n`,
    store: (s) => {
      const v = kstrtobool(s);
      if (typeof v === 'number') return -EINVAL;
      set(v);
      return 0;
    },
  });

  return attributeGroup([
    ro('full_scans', () => ksm.ksmScan.seqnr),
    ro('general_profit', () => ksm.generalProfit()),
    ro('ksm_zero_pages', () => ksm.zeroPages),
    ro('pages_scanned', () => ksm.pagesScanned),
    ro('pages_shared', () => ksm.pagesShared),
    ro('pages_sharing', () => ksm.pagesSharing),
    ro('pages_skipped', () => ksm.pagesSkipped),
    ro('pages_unshared', () => ksm.pagesUnshared),
    ro('pages_volatile', () => ksm.pagesVolatile()),
    ro('stable_node_chains', () => ksm.stableNodeChains),
    ro('stable_node_dups', () => ksm.stableNodeDups),
    {
      name: 'run',
      show: () => `${ksm.run}\n`,
      store: (s) => {
        const v = kstrtouint(s);
        if (v < 0) return -EINVAL;
        return ksmRunStore(ksm, ksmd, v);
      },
    },
    {
      // @linux mm/ksm.c pages_to_scan_store: the advisor owns the value while it is active.
      name: 'pages_to_scan',
      show: () => `${ksm.pagesToScan}\n`,
      store: (s) => {
        if (ksm.advisorMode !== 'none') return -EINVAL;
        const v = kstrtouint(s);
        if (v < 0) return -EINVAL;
        ksm.pagesToScan = v;
        return 0;
      },
    },
    uintKnob(
      'sleep_millisecs',
      () => ksm.sleepMillisecs,
      (v) => {
        ksm.sleepMillisecs = v;
      },
      () => ksmd.interruptSleep(),
    ),
    {
      // @linux mm/ksm.c max_page_sharing_store
      name: 'max_page_sharing',
      show: () => `${ksm.maxPageSharing}\n`,
      store: (s) => {
        const r = kstrtoint(s);
        if ('err' in r) return r.err;
        if (r.value < 2) return -EINVAL;
        if (r.value === ksm.maxPageSharing) return 0;
        if (ksm.pagesShared !== 0 || removeAllStableNodes(ksm) !== 0) return -EBUSY;
        ksm.maxPageSharing = r.value;
        return 0;
      },
    },
    {
      // @linux mm/ksm.c merge_across_nodes_store
      name: 'merge_across_nodes',
      show: () => `${ksm.mergeAcrossNodes ? 1 : 0}\n`,
      store: (s) => {
        const v = kstrtoul(s);
        if (v < 0) return v;
        if (v > 1) return -EINVAL;
        const knob = v === 1;
        if (knob === ksm.mergeAcrossNodes) return 0;
        if (ksm.pagesShared !== 0 || removeAllStableNodes(ksm) !== 0) return -EBUSY;
        // The per-node roots exist from boot (Linux allocates them at the first switch and
        // keeps them), so items of the running scan stay in their trees across switches.
        ksm.mergeAcrossNodes = knob;
        ksm.nrNodeIds = knob ? 1 : ksm.mmgr.frames.nrNodes;
        return 0;
      },
    },
    boolKnob(
      'use_zero_pages',
      () => ksm.useZeroPages,
      (v) => {
        ksm.useZeroPages = v;
      },
    ),
    boolKnob(
      'smart_scan',
      () => ksm.smartScan,
      (v) => {
        ksm.smartScan = v;
      },
    ),
    uintKnob(
      'stable_node_chains_prune_millisecs',
      () => ksm.stableNodeChainsPruneMillisecs,
      (v) => {
        ksm.stableNodeChainsPruneMillisecs = v;
      },
    ),
    {
      // @linux mm/ksm.c advisor_mode_store
      name: 'advisor_mode',
      show: () => (ksm.advisorMode === 'none' ? '[none] scan-time\n' : 'none [scan-time]\n'),
      store: (s) => {
        let mode: 'none' | 'scan-time';
        if (sysfsStreq('scan-time', s)) mode = 'scan-time';
        else if (sysfsStreq('none', s)) mode = 'none';
        else return -EINVAL;
        if (mode !== ksm.advisorMode) {
          ksm.advisorMode = mode;
          // @linux mm/ksm.c set_advisor_defaults: the unsigned long minimum goes into the
          // unsigned int pages_to_scan, which keeps its low 32 bits.
          if (mode === 'none') {
            ksm.pagesToScan = KSM_DEFAULTS.pagesToScan;
          } else {
            ksm.advisorCtx = newAdvisorCtx();
            ksm.pagesToScan = Number(BigInt.asUintN(32, ksm.advisorMinPagesToScan));
          }
        }
        return 0;
      },
    },
    {
      // @linux mm/ksm.c advisor_max_cpu_store: an unsigned long parsed into the unsigned int
      // ksm_advisor_max_cpu, which keeps its low 32 bits (4294967297 shows 1 on Linux 6.18).
      name: 'advisor_max_cpu',
      show: () => `${ksm.advisorMaxCpu}\n`,
      store: (s) => {
        const v = kstrtoull(s);
        if (typeof v === 'number') return -EINVAL;
        ksm.advisorMaxCpu = Number(BigInt.asUintN(32, v));
        return 0;
      },
    },
    ulongKnob(
      'advisor_min_pages_to_scan',
      () => ksm.advisorMinPagesToScan,
      (v) => {
        ksm.advisorMinPagesToScan = v;
      },
    ),
    ulongKnob(
      'advisor_max_pages_to_scan',
      () => ksm.advisorMaxPagesToScan,
      (v) => {
        ksm.advisorMaxPagesToScan = v;
      },
    ),
    ulongKnob(
      'advisor_target_scan_time',
      () => ksm.advisorTargetScanTime,
      (v) => {
        ksm.advisorTargetScanTime = v;
      },
      1n,
    ),
  ]);
}
