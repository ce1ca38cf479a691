import { EWMA_WEIGHT, KSM_ADVISOR_MIN_CPU } from './constants.ts';
import type { Ksm } from './ksm.ts';

/**
 * struct advisor_ctx of the scan-time advisor: the scan's start (ktime_t, ns), the last scan
 * time (unsigned long, s), the smoothed change (unsigned long, %), and ksmd's CPU time at
 * the last scan's end (unsigned long long, ns).
 */
export interface AdvisorCtx {
  startScanNs: number;
  scanTime: bigint;
  change: bigint;
  cpuTime: bigint;
}

/** A zeroed context, as the kernel's static one starts and advisor_mode=scan-time resets it. */
export function newAdvisorCtx(): AdvisorCtx {
  return { startScanNs: 0, scanTime: 0n, change: 0n, cpuTime: 0n };
}

/** An unsigned long (64 bits) holding `x`, wrapped as C wraps it. */
const ulong = (x: bigint): bigint => BigInt.asUintN(64, x);
/** An unsigned int (32 bits) holding `x`, wrapped or truncated as C does. */
const uint = (x: bigint): bigint => BigInt.asUintN(32, x);

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
 * seconds, within the CPU budget. The arithmetic is the kernel's, type by type: unsigned
 * longs that wrap at 2^64, `pages_to_scan * 100` computed in unsigned int (it wraps at
 * 2^32), cpu_percent an unsigned int, and the result stored into the unsigned int
 * pages_to_scan (its low 32 bits). Scan time is whole seconds of ktime, CPU time is ksmd's
 * (from the cost model).
 * @linux mm/ksm.c scan_time_advisor
 */
export function scanTimeAdvisor(ksm: Ksm): void {
  const ctx = ksm.advisorCtx;
  // ktime_ms_delta (s64 ms, truncated), then div_s64 by 1000 (truncated toward zero).
  const deltaMs = BigInt(Math.trunc((ksm.ktimeGet() - ctx.startScanNs) / 1e6));
  let scanTime = ulong(deltaMs / 1000n);
  if (scanTime === 0n) scanTime = 1n;
  const cpuTime = ulong(BigInt(Math.round(ksm.cpuNs)));
  const cpuTimeDiffMs = ulong(cpuTime - ctx.cpuTime) / 1000n / 1000n;
  let cpuPercent = uint(ulong(cpuTimeDiffMs * 100n) / ulong(scanTime * 1000n));
  if (cpuPercent === 0n) cpuPercent = 1n;
  const lastScanTime = ctx.scanTime !== 0n ? ctx.scanTime : scanTime;
  let factor = ulong(ksm.advisorTargetScanTime * 100n) / scanTime;
  if (factor === 0n) factor = 1n;
  let change = ulong(scanTime * 100n) / lastScanTime;
  if (change === 0n) change = 1n;
  const w = BigInt(EWMA_WEIGHT);
  change = ulong(ulong((100n - w) * ctx.change) + ulong(w * change)) / 100n;
  const pagesToScan = BigInt(ksm.pagesToScan);
  let pages = uint(pagesToScan * 100n) / factor;
  pages = ulong(pages * change) / 100n;
  let perPageCost = pagesToScan / cpuPercent;
  if (perPageCost === 0n) perPageCost = 1n;
  const most = ulong(perPageCost * BigInt(ksm.advisorMaxCpu));
  const least = ulong(perPageCost * BigInt(KSM_ADVISOR_MIN_CPU));
  if (pages > most) pages = most;
  if (pages < least) pages = least;
  if (pages > ksm.advisorMaxPagesToScan) pages = ksm.advisorMaxPagesToScan;
  ctx.change = change;
  ctx.scanTime = scanTime;
  ctx.cpuTime = cpuTime;
  ksm.pagesToScan = Number(uint(pages));
}
