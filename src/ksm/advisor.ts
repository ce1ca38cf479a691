import { EWMA_WEIGHT, KSM_ADVISOR_MIN_CPU } from './constants.ts';
import type { Ksm } from './ksm.ts';

/** @linux mm/ksm.c advisor_start_scan */
export function advisorStartScan(ksm: Ksm): void {
  if (ksm.advisorMode === 'scan-time') ksm.advisorCtx.startScanNs = ksm.ktimeGet();
}

/** @linux mm/ksm.c advisor_stop_scan */
export function advisorStopScan(ksm: Ksm): void {
  if (ksm.advisorMode === 'scan-time') scanTimeAdvisor(ksm);
}

/**
 * Retunes pages_to_scan after each full scan so a scan takes advisor_target_scan_time
 * seconds, within the CPU budget. Integer arithmetic truncates as the kernel's unsigned
 * longs do; scan time is whole seconds of virtual time, CPU time is ksmd's from the cost
 * model.
 * @linux mm/ksm.c scan_time_advisor
 */
export function scanTimeAdvisor(ksm: Ksm): void {
  const ctx = ksm.advisorCtx;
  const nowNs = ksm.ktimeGet();
  let scanTime = Math.floor(Math.floor((nowNs - ctx.startScanNs) / 1e6) / 1000);
  scanTime = scanTime !== 0 ? scanTime : 1;
  const cpuTime = ksm.cpuNs;
  const cpuTimeDiffMs = Math.floor((cpuTime - ctx.cpuTimeNs) / 1e6);
  let cpuPercent = Math.floor((cpuTimeDiffMs * 100) / (scanTime * 1000));
  cpuPercent = cpuPercent !== 0 ? cpuPercent : 1;
  const lastScanTime = ctx.scanTime !== 0 ? ctx.scanTime : scanTime;
  let factor = Math.floor((ksm.advisorTargetScanTime * 100) / scanTime);
  factor = factor !== 0 ? factor : 1;
  let change = Math.floor((scanTime * 100) / lastScanTime);
  change = change !== 0 ? change : 1;
  change = Math.floor(((100 - EWMA_WEIGHT) * ctx.change + EWMA_WEIGHT * change) / 100);
  let pages = Math.floor((ksm.pagesToScan * 100) / factor);
  pages = Math.floor((pages * change) / 100);
  let perPageCost = Math.floor(ksm.pagesToScan / cpuPercent);
  perPageCost = perPageCost !== 0 ? perPageCost : 1;
  pages = Math.min(pages, perPageCost * ksm.advisorMaxCpu);
  pages = Math.max(pages, perPageCost * KSM_ADVISOR_MIN_CPU);
  pages = Math.min(pages, ksm.advisorMaxPagesToScan);
  ctx.change = change;
  ctx.scanTime = scanTime;
  ctx.cpuTimeNs = cpuTime;
  ksm.pagesToScan = pages;
}
