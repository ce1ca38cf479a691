/**
 * Constants of mm/ksm.c and its sysfs defaults (Linux 6.18, x86_64).
 */

/** Low bits of rmap_item->address: the scan number when the item entered the unstable tree. */
export const SEQNR_MASK = 0x0ff;
/** The item is in the unstable tree. */
export const UNSTABLE_FLAG = 0x100;
/** The item is on a stable node's list. */
export const STABLE_FLAG = 0x200;
/** rmap_hlist_len of a chain head. */
export const STABLE_NODE_CHAIN = -1024;

/** sizeof(struct ksm_rmap_item) on x86_64: what general_profit charges per item. */
export const RMAP_ITEM_SIZE = 64;

export const KSM_RUN_STOP = 0;
export const KSM_RUN_MERGE = 1;
export const KSM_RUN_UNMERGE = 2;

/** Defaults of /sys/kernel/mm/ksm on Linux 6.18 with CONFIG_SYSFS. */
export const KSM_DEFAULTS = {
  run: KSM_RUN_STOP,
  pagesToScan: 100,
  sleepMillisecs: 20,
  maxPageSharing: 256,
  mergeAcrossNodes: true,
  useZeroPages: false,
  smartScan: true,
  stableNodeChainsPruneMillisecs: 2000,
  advisorMaxCpu: 70,
  advisorMinPagesToScan: 500,
  advisorMaxPagesToScan: 30000,
  advisorTargetScanTime: 200,
} as const;

/** KSM_ADVISOR_MIN_CPU: the floor of the advisor's CPU budget, in percent. */
export const KSM_ADVISOR_MIN_CPU = 10;
/** EWMA_WEIGHT of the scan-time advisor, in percent. */
export const EWMA_WEIGHT = 30;
