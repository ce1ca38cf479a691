import { test } from 'node:test';
import assert from 'node:assert/strict';
import pc from 'picocolors';
import type { BatchSummary } from '../lib/ksmd_batches.ts';
import type { Spread } from '../lib/statistics.ts';
import { cycleShares, renderBatches, spreadMs } from './ksmd_batches.ts';

const s = (median: number, p10 = median, p90 = median): Spread => ({ n: 3, p10, median, p90 });

function summary(over: Partial<BatchSummary>): BatchSummary {
  return { batches: 0, cycleTicks: [], wholePassCpuNs: undefined, byPositionCpuNs: [], ...over };
}

test('cycleShares: each length of cycle in ticks with its share; shares under 1 % pooled as other', () => {
  assert.equal(
    cycleShares(summary({ cycleTicks: [0, 0, 74, 25, 0, 0, 1] })),
    '2 ticks 74 %, 3 ticks 25 %, 6 ticks 1 %',
  );
  assert.equal(cycleShares(summary({ cycleTicks: [0, 300, 0, 0, 1, 1] })), '1 tick 99 %, other 1 %');
  assert.equal(cycleShares(summary({})), 'none');
});

test('spreadMs: the median in ms, with the 10th-90th percentiles where they differ', () => {
  assert.equal(spreadMs(s(3_420_000, 3_220_000, 4_390_000)), '3.42 (3.22-4.39)');
  assert.equal(spreadMs(s(2_080_000)), '2.08');
  assert.equal(spreadMs(undefined), '-');
});

test('renderBatches: cycles, whole scans, and at most 12 places of a scan, first and last kept', () => {
  const positions = Array.from({ length: 30 }, (_, i) => s(1e6 + i * 1e5));
  const lines = renderBatches(
    {
      kernel: summary({
        batches: 90,
        cycleTicks: [0, 0, 60, 30],
        wholePassCpuNs: s(3.4e6, 3.2e6, 4.4e6),
        byPositionCpuNs: positions,
      }),
      model: summary({
        batches: 95,
        cycleTicks: [0, 0, 95],
        wholePassCpuNs: s(3.9e6),
        byPositionCpuNs: positions.slice(0, 20),
      }),
      tickNs: 4e6,
    },
    pc.createColors(false),
  );
  const text = lines.join('\n');
  assert.match(text, /traced: kernel 90, model 95/);
  assert.match(text, /cycles in ticks of 4 ms: kernel 2 ticks 67 %, 3 ticks 33 %; model 2 ticks 100 %/);
  assert.match(text, /kernel 3\.40 \(3\.20-4\.40\), model 3\.90/);
  const places = lines.map((l) => /^\s+│\s+(\d+) │/.exec(l)?.[1]).filter((p) => p !== undefined);
  assert.equal(places.length, 12);
  assert.equal(places[0], '1');
  assert.equal(places.at(-1), '30');
  // Place 30 has no model figure (the model's scans had 20 batches): no difference shown.
  assert.match(lines.find((l) => /│\s+30 │/.test(l))!, /│\s+-\s+│\s+│$/);
});
