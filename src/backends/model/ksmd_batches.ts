/**
 * The model's ksmd batch by batch (lib/ksmd_batches.ts), as the live kernel's trace gives
 * them: each wake-up of the model's ksmd with its CPU, and whether a full scan began or
 * ended in it (the cursor stood at the list's head as it began; seqnr grew in it).
 */
import type { KsmdBatch } from '../../lib/ksmd_batches.ts';
import type { Ksm } from '../../ksm/ksm.ts';
import type { Ksmd } from '../../ksm/ksmd.ts';

/** Records every wake-up of `ksmd` from now on into the returned list. */
export function recordKsmdBatches(ksm: Ksm, ksmd: Ksmd): KsmdBatch[] {
  const batches: KsmdBatch[] = [];
  let seqnr = ksm.ksmScan.seqnr;
  let atHead = ksm.ksmScan.mmSlot === ksm.mmHead;
  ksmd.onWake = (w) => {
    batches.push({
      beginNs: w.beginNs,
      cpuNs: w.cpuNs,
      wallNs: w.wallNs,
      passStarted: w.ran && atHead,
      passesEnded: ksm.ksmScan.seqnr - seqnr,
      timed: w.timed,
    });
    seqnr = ksm.ksmScan.seqnr;
    atHead = ksm.ksmScan.mmSlot === ksm.mmHead;
  };
  return batches;
}
