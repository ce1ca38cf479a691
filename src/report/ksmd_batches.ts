/**
 * ksmd's batches, kernel beside model (`samepage diff --timed --batches`): how long its
 * cycles were in whole ticks, what a scan done in one batch cost (smart_scan's skipping
 * passes), and the CPU of each batch by its place in the scan. At short sleeps a batch that
 * ends after a tick makes its cycle one tick longer, so these show where the two cadences
 * part when a counter does.
 */
import Table from 'cli-table3';
import type pc from 'picocolors';
import type { TimedBatches } from '../differential/timed.ts';
import type { BatchSummary } from '../lib/ksmd_batches.ts';
import type { Spread } from '../lib/statistics.ts';

/** At most this many places of a scan are shown (evenly spread, the first and last kept). */
const MAX_PLACES = 12;

/** A share of cycles in per cent, e.g. `2 ticks 74 %, 3 ticks 25 %, other 1 %` (shares under 1 % pooled). */
export function cycleShares(s: BatchSummary): string {
  const total = s.cycleTicks.reduce((a, b) => a + b, 0);
  if (total === 0) return 'none';
  const parts: string[] = [];
  let other = 0;
  s.cycleTicks.forEach((n, k) => {
    if (n === 0) return;
    if (n / total < 0.01) other += n;
    else parts.push(`${k} tick${k === 1 ? '' : 's'} ${Math.round((n / total) * 100)} %`);
  });
  if (other > 0) parts.push(`other ${Math.max(1, Math.round((other / total) * 100))} %`);
  return parts.join(', ');
}

/** A spread of ns as ms: `3.42 (3.22-4.39)`. */
export function spreadMs(s: Spread | undefined): string {
  if (s === undefined) return '-';
  const ms = (ns: number): string => (ns / 1e6).toFixed(2);
  return s.p10 === s.p90 ? ms(s.median) : `${ms(s.median)} (${ms(s.p10)}-${ms(s.p90)})`;
}

/** The places of a scan to show: all up to MAX_PLACES, else that many spread evenly. */
function places(n: number): number[] {
  if (n <= MAX_PLACES) return [...Array(n).keys()];
  return [...new Set([...Array(MAX_PLACES).keys()].map((i) => Math.round((i * (n - 1)) / (MAX_PLACES - 1))))];
}

/** The batches section of a timed comparison, as lines. */
export function renderBatches(b: TimedBatches, c: ReturnType<typeof pc.createColors>): string[] {
  const tickMs = (b.tickNs / 1e6).toFixed(b.tickNs % 1e6 === 0 ? 0 : 2);
  const lines = [
    `  ksmd's batches (traced: kernel ${b.kernel.batches}, model ${b.model.batches})`,
    `    cycles in ticks of ${tickMs} ms: kernel ${cycleShares(b.kernel)}; model ${cycleShares(b.model)}`,
  ];
  if (b.kernel.wholePassCpuNs !== undefined || b.model.wholePassCpuNs !== undefined)
    lines.push(
      `    a whole scan in one batch (smart_scan skipping), CPU ms median (10th-90th percentile): kernel ${spreadMs(b.kernel.wholePassCpuNs)}, model ${spreadMs(b.model.wholePassCpuNs)}`,
    );
  const n = Math.max(b.kernel.byPositionCpuNs.length, b.model.byPositionCpuNs.length);
  if (n === 0) return lines;
  const table = new Table({
    head: ['batch of the scan', 'kernel CPU ms (10th-90th)', 'model CPU ms', 'model - kernel'],
    colAligns: ['right', 'right', 'right', 'right'],
    style: { head: c.isColorSupported ? ['cyan'] : [], border: c.isColorSupported ? ['grey'] : [] },
  });
  for (const i of places(n)) {
    const k = b.kernel.byPositionCpuNs[i];
    const m = b.model.byPositionCpuNs[i];
    const diff = k === undefined || m === undefined ? '' : `${(((m.median - k.median) / k.median) * 100).toFixed(1)} %`;
    table.push([String(i + 1), spreadMs(k), spreadMs(m), diff]);
  }
  lines.push(
    ...table
      .toString()
      .split('\n')
      .map((l) => `    ${l}`),
  );
  return lines;
}
