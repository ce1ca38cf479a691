import { EINVAL } from '../lib/errno.ts';
import { ksmProfit } from '../ksm/profit.ts';
import { processesToScanShow, processesToScanStore, ksmPlusRunStore } from '../ksmplus/control.ts';
import type { KsmPlusDaemon } from '../ksmplus/daemon.ts';
import type { KsmPlus } from '../ksmplus/ksmplus.ts';
import { type Attribute, type AttributeGroup, attributeGroup } from './attribute.ts';
import { kstrtouint } from './kstrto.ts';

/**
 * /sys/kernel/mm/ksm+: the thesis's interface (processes_to_scan, run, pages_to_scan,
 * sleep_millisecs), KSM's counters for the KSM+ scanner plus vma_nodes, and the sampling
 * constants the thesis hard-codes, as knobs.
 */
export function ksmPlusSysfs(plus: KsmPlus, daemon: KsmPlusDaemon): AttributeGroup {
  const t = plus.engine;
  const ro = (name: string, value: () => number): Attribute => ({ name, show: () => `${value()}\n` });
  const knob = (
    name: string,
    get: () => number,
    set: (v: number) => void,
    check: (v: number) => boolean = () => true,
    after?: () => void,
  ): Attribute => ({
    name,
    show: () => `${get()}\n`,
    store: (s) => {
      const v = kstrtouint(s);
      if (v < 0 || !check(v)) return -EINVAL;
      set(v);
      after?.();
      return 0;
    },
  });
  return attributeGroup([
    {
      name: 'processes_to_scan',
      show: () => processesToScanShow(plus),
      store: (s) => processesToScanStore(plus, daemon, s),
    },
    {
      name: 'run',
      show: () => `${plus.run}\n`,
      store: (s) => {
        const v = kstrtouint(s);
        if (v < 0) return -EINVAL;
        return ksmPlusRunStore(plus, daemon, v);
      },
    },
    knob(
      'pages_to_scan',
      () => plus.pagesToScan,
      (v) => {
        plus.pagesToScan = v;
      },
    ),
    knob(
      'sleep_millisecs',
      () => plus.sleepMillisecs,
      (v) => {
        plus.sleepMillisecs = v;
      },
      () => true,
      () => daemon.interruptSleep(),
    ),
    knob(
      'initial_coefficient',
      () => plus.initialCoefficient,
      (v) => {
        plus.initialCoefficient = v;
      },
      (v) => v >= 1 && v <= 100,
    ),
    knob(
      'coefficient_step',
      () => plus.coefficientStep,
      (v) => {
        plus.coefficientStep = v;
      },
      (v) => v <= 100,
    ),
    knob(
      'min_coefficient',
      () => plus.minCoefficient,
      (v) => {
        plus.minCoefficient = v;
      },
      (v) => v >= 1 && v <= 100,
    ),
    knob(
      'drop_coefficient',
      () => plus.dropCoefficient,
      (v) => {
        plus.dropCoefficient = v;
      },
      (v) => v <= 100,
    ),
    ro('pages_shared', () => t.pagesShared),
    ro('pages_sharing', () => t.pagesSharing),
    ro('pages_unshared', () => t.pagesUnshared),
    ro('pages_volatile', () => t.pagesVolatile()),
    ro('pages_scanned', () => t.pagesScanned),
    ro('full_scans', () => t.ksmScan.seqnr),
    ro('rmap_items', () => t.rmapItems),
    ro('vma_nodes', () => plus.vmaNodes),
    ro('general_profit', () => ksmProfit(t.pagesSharing, t.rmapItems)),
  ]);
}
