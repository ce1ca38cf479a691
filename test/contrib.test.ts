/**
 * What contrib/ ships with the exporter: a Grafana dashboard whose queries name only series
 * `samepage kernel export` writes, and a systemd unit whose command line the command accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { attribute } from '../src/attribution/attribute.ts';
import { groupAttribution } from '../src/attribution/group.ts';
import { KSM_FILES } from '../src/lib/ksm_files.ts';
import { renderMetrics } from '../src/report/prometheus.ts';
import { REPO, samepage } from './samepage.ts';

/** Every series name the exporter can write (an attributed reading with every file). */
function exportedNames(): Set<string> {
  const ksm: Record<string, number | string> = {};
  for (const f of KSM_FILES) ksm[f] = 1;
  ksm.advisor_mode = 'none';
  const a = attribute({
    ksm: { pages_shared: 1, pages_sharing: 1, ksm_zero_pages: 0, general_profit: 0 },
    frames: { count: 1 },
    processes: [0, 1].map((i) => ({
      pid: i + 1,
      comm: 'x',
      cgroup: '/',
      ksm_rmap_items: 1,
      ksm_zero_pages: 0,
      ksm_merging_pages: 1,
      ksm_process_profit: 0,
      frameRefs: [0],
    })),
    ksmdCpuSeconds: 1,
  });
  const text = renderMetrics(
    {
      ksm,
      ksmdCpuSeconds: 1,
      attribution: {
        totals: a.totals,
        processes: groupAttribution(a, 'process'),
        cgroups: groupAttribution(a, 'cgroup'),
      },
      scrapeSeconds: 0,
      exporterCpuSeconds: 0,
    },
    'prometheus',
  );
  return new Set([...text.matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => m[1]!));
}

test('the Grafana dashboard queries only series the exporter writes', () => {
  const dash = JSON.parse(readFileSync(join(REPO, 'contrib', 'grafana-samepage-ksm.json'), 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const names = exportedNames();
  const used = new Set<string>();
  for (const p of dash.panels)
    for (const t of p.targets) for (const m of t.expr.matchAll(/\bsamepage_[a-z_]+/g)) used.add(m[0]);
  assert.ok(used.size >= 10, [...used].join(' '));
  assert.deepEqual(
    [...used].filter((n) => !names.has(n)),
    [],
    'series the dashboard queries but the exporter never writes',
  );
});

test('the systemd unit runs samepage kernel export on 127.0.0.1 with options it accepts', async () => {
  const unit = readFileSync(join(REPO, 'contrib', 'samepage-exporter.service'), 'utf8');
  const exec = /^ExecStart=\/usr\/bin\/env samepage (.*)$/m.exec(unit);
  assert.ok(exec !== null, 'ExecStart runs samepage');
  assert.deepEqual(exec[1]!.split(' ').slice(0, 3), ['kernel', 'export', '--listen']);
  assert.match(exec[1]!, /--listen 127\.0\.0\.1:\d+/);
  assert.match(unit, /^\[Install\]\nWantedBy=multi-user.target$/m);
  const help = await samepage(['kernel', 'export', '--help']);
  assert.equal(help.code, 0, help.err);
  for (const option of exec[1]!.split(' ').filter((w) => w.startsWith('--')))
    assert.ok(help.out.includes(option), `samepage kernel export takes ${option}`);
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('contrib'), 'contrib/ is in the npm package');
});

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

test(
  'systemd-analyze verify accepts the unit',
  existsSync(SYSTEMD_ANALYZE) ? {} : { skip: `${SYSTEMD_ANALYZE} is missing (systemd)` },
  () => {
    const unit = join(REPO, 'contrib', 'samepage-exporter.service');
    const r = spawnSync(SYSTEMD_ANALYZE, ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // verify prints what it finds wrong (unknown keys, bad values) and may still exit 0.
    assert.equal(r.stderr.trim(), '', r.stderr);
  },
);
