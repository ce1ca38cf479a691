import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { attribute } from '../attribution/attribute.ts';
import { groupAttribution, OTHER } from '../attribution/group.ts';
import { KSM_FILES } from '../lib/ksm_files.ts';
import type { MetricsInput } from './prometheus.ts';
import { escapeLabel, KSM_METRICS, negotiateFormat, renderMetrics } from './prometheus.ts';

const PROMTOOL = '/usr/bin/promtool';

/** A reading with every KSM file, three processes (one with a hostile comm) cut to the top 2. */
function input(): MetricsInput {
  const ksm: Record<string, number | string> = {};
  for (const f of KSM_FILES) ksm[f] = 7;
  Object.assign(ksm, {
    advisor_mode: 'scan-time',
    sleep_millisecs: 20,
    advisor_max_cpu: 70,
    pages_shared: 1,
    pages_sharing: 2,
    ksm_zero_pages: 1,
    general_profit: 3 * 4096 - 5 * 64,
  });
  const proc = (pid: number, comm: string, refs: number[], zero: number) => ({
    pid,
    comm,
    cgroup: `/system.slice/unit-${pid % 2}.service`,
    ksm_rmap_items: refs.length + zero,
    ksm_zero_pages: zero,
    ksm_merging_pages: refs.length,
    ksm_process_profit: (refs.length + zero) * 4096 - (refs.length + zero) * 64,
    frameRefs: refs,
  });
  const a = attribute({
    ksm: { pages_shared: 1, pages_sharing: 2, ksm_zero_pages: 1, general_profit: 3 * 4096 - 5 * 64 },
    frames: { count: 1 },
    processes: [proc(10, 'qemu', [0], 1), proc(11, 'a "b"\\c\nd', [0], 0), proc(12, 'x', [0], 0)],
    ksmdCpuSeconds: 12.5,
  });
  return {
    ksm,
    ksmdCpuSeconds: 12.5,
    attribution: {
      totals: a.totals,
      processes: groupAttribution(a, 'process', { top: 2 }),
      cgroups: groupAttribution(a, 'cgroup', { top: 2 }),
    },
    scrapeSeconds: 0.01,
    exporterCpuSeconds: 0.5,
  };
}

test('KSM_METRICS exports every file of /sys/kernel/mm/ksm, under a unique name in base units', () => {
  assert.deepEqual(Object.keys(KSM_METRICS).sort(), [...KSM_FILES].sort());
  const names = Object.values(KSM_METRICS).map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  for (const m of Object.values(KSM_METRICS)) {
    assert.match(m.name, /^samepage_ksm_[a-z_]+$/);
    assert.doesNotMatch(m.name, /millisecs|_total$/, m.name);
    if (m.unit !== undefined) assert.ok(m.name.endsWith(`_${m.unit}`), m.name);
  }
});

test('renderMetrics: knobs in base units, counters with _total, labels escaped, top N plus other', () => {
  const text = renderMetrics(input(), 'prometheus');
  assert.match(text, /^samepage_ksm_sleep_seconds 0\.02$/m);
  assert.match(text, /^samepage_ksm_advisor_max_cpu_ratio 0\.7$/m);
  assert.match(text, /^samepage_ksm_advisor_mode\{mode="scan-time"\} 1$/m);
  assert.match(text, /^samepage_ksm_advisor_mode\{mode="none"\} 0$/m);
  assert.match(text, /^# TYPE samepage_ksm_full_scans_total counter$/m);
  assert.match(text, /^samepage_ksmd_cpu_seconds_total 12\.5$/m);
  assert.match(
    text,
    /^samepage_process_ksm_saved_bytes\{pid="11",comm="a \\"b\\"\\\\c\\nd",cgroup="\/system.slice\/unit-1.service"\} 2731$/m,
  );
  assert.match(
    text,
    new RegExp(`^samepage_process_ksm_saved_bytes\\{pid="${OTHER}",comm="${OTHER}",cgroup="${OTHER}"\\} \\d+$`, 'm'),
  );
  // The process series add up to (pages_sharing + ksm_zero_pages) x 4096.
  const saved = [...text.matchAll(/^samepage_process_ksm_saved_bytes\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
  assert.equal(saved.length, 3);
  assert.equal(
    saved.reduce((t, v) => t + v, 0),
    3 * 4096,
  );
  // Each process's share of ksmd's work (its rmap_items of all), which adds up to 1.
  const work = [...text.matchAll(/^samepage_process_ksm_ksmd_work_ratio\{[^}]*\} ([\d.e-]+)$/gm)].map((m) =>
    Number(m[1]),
  );
  assert.equal(work.length, 3);
  assert.ok(Math.abs(work.reduce((t, v) => t + v, 0) - 1) < 1e-12, String(work));
  assert.doesNotMatch(text, /ksm_ksmd_cpu_seconds/, 'no per-process part of ksmd CPU since boot');
  assert.doesNotMatch(text, /# EOF/);
  const om = renderMetrics(input(), 'openmetrics');
  assert.match(om, /^# TYPE samepage_ksm_full_scans counter$/m);
  assert.match(om, /^samepage_ksm_full_scans_total 7$/m);
  assert.match(om, /^# UNIT samepage_process_ksm_saved_bytes bytes$/m);
  assert.ok(om.endsWith('# EOF\n'));
  assert.equal(escapeLabel('a\\"\n'), 'a\\\\\\"\\n');
});

test('negotiateFormat answers OpenMetrics only to a scraper that asks for it', () => {
  assert.equal(negotiateFormat(undefined), 'prometheus');
  assert.equal(negotiateFormat('text/plain;version=0.0.4'), 'prometheus');
  assert.equal(
    negotiateFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'),
    'openmetrics',
  );
});

test('promtool check metrics passes on the exposition', {
  skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} is missing (Debian's prometheus package; .ci/run installs it)`,
}, () => {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], {
    input: renderMetrics(input(), 'prometheus'),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
});
