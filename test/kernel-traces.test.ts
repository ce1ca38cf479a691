/**
 * The live kernel's traces (test/kernel-truth/traces.json, recorded by
 * scripts/kernel-probe.mjs) replayed on the model: each probe of probes.ts runs on the model
 * backend and every counter of every record must equal the kernel's, /sys/kernel/mm/ksm
 * file by file and process by process.
 *
 * The one input the model cannot know is ksmd's CPU time before the trace, which the
 * scan-time advisor's first step reads (its context starts at 0); the trace records it and
 * the model's ksmd starts with that much runtime.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelBackend } from '../src/backends/model/index.ts';
import { compareRecord } from '../src/scenario/compare.ts';
import type { CounterRecord } from '../src/scenario/records.ts';
import { PROBES, runProbe, type ProbeRecord } from './kernel-truth/probes.ts';

interface Trace {
  readonly name: string;
  readonly ksm: Readonly<Record<string, string>>;
  readonly ksmd_runtime_ns?: number;
  readonly records: readonly ProbeRecord[];
}

/** traces.json beside the sources, from dist/test or from test. */
function tracesFile(): string {
  const fromDist = join(import.meta.dirname, '..', '..', 'test', 'kernel-truth', 'traces.json');
  return existsSync(fromDist) ? fromDist : join(import.meta.dirname, 'kernel-truth', 'traces.json');
}

const recorded = JSON.parse(readFileSync(tracesFile(), 'utf8')) as { uname_r: string; traces: Trace[] };
const byName = new Map(recorded.traces.map((t) => [t.name, t]));

test('every probe has a kernel trace recorded with its current settings', () => {
  for (const probe of PROBES) {
    const t = byName.get(probe.name);
    assert.ok(
      t !== undefined,
      `no trace for probe ${probe.name}: run node --import tsx scripts/kernel-probe.mjs --only ${probe.name}`,
    );
    assert.deepEqual(
      t.ksm,
      Object.fromEntries(probe.ksm),
      `trace ${probe.name} was recorded with other ksm values; re-record it`,
    );
  }
});

for (const probe of PROBES) {
  const kernel = byName.get(probe.name);
  test(`kernel trace ${probe.name} (${recorded.uname_r}): the model gives the same counters`, {
    skip: kernel === undefined,
  }, async () => {
    if (kernel === undefined) return;
    const backend = new ModelBackend({ seed: 0 });
    const model = await runProbe(backend, probe, () => {
      backend.system().ksm.cpuNs = kernel.ksmd_runtime_ns ?? 0;
    });
    assert.deepEqual(
      model.map((r) => r.label),
      kernel.records.map((r) => r.label),
      'the probe took other snapshots than the recorded trace; re-record it',
    );
    const diffs = model.flatMap((m, i) => {
      const k = kernel.records[i] as ProbeRecord;
      return compareRecord(m.label, { ...k, time_ms: 0 } as CounterRecord, { ...m, time_ms: 0 });
    });
    assert.deepEqual(diffs, [], `${probe.name}: the model differs from the live kernel`);
  });
}
